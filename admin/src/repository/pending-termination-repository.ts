/**
 * SQL for pending terminations (`pending_terminations`, migrations 0054 and 0055): CR deletions
 * that could not reach their cluster yet, with why (code + message).
 */
import type { Queryable, Row } from "@flotilla/db";
import type { ExecutionKey } from "../manager/placement.js";
import type { Reason } from "../routing/reason.js";
import { executionKeyOf, executionKeyParams, timestamp } from "./rows.js";

/** One CR deletion still to do. */
export interface PendingTermination {
  cluster: string;
  execution: ExecutionKey;
  attempts: number;
  /** Why the last attempt failed (or why the deletion was scheduled). */
  lastError: Reason;
  nextAttemptAt: Date;
}

function toPending(r: Row): PendingTermination {
  return {
    cluster: r.cluster as string,
    execution: executionKeyOf(r),
    attempts: Number(r.attempts),
    lastError: { code: r.last_error_code as string, message: r.last_error as string },
    nextAttemptAt: timestamp(r.next_attempt_at),
  };
}

/** SQL access to pending CR deletions (`pending_terminations`). */
export interface PendingTerminationRepository {
  /** Records (or re-schedules) a deletion to retry. */
  upsert(cluster: string, e: ExecutionKey, lastError: Reason, nextAttemptAt: Date): Promise<void>;
  /** Deletions due at `now`, oldest first, at most `limit`. */
  due(now: Date, limit: number): Promise<PendingTermination[]>;
  /** Every pending deletion on one cluster. */
  forCluster(cluster: string): Promise<PendingTermination[]>;
  /** Removes a done deletion. */
  delete(cluster: string, e: ExecutionKey): Promise<void>;
}

/** Creates the PostgreSQL implementation of {@link PendingTerminationRepository}. */
export function createPostgresPendingTerminationRepository(db: Queryable): PendingTerminationRepository {
  return new PostgresPendingTerminationRepository(db);
}

/** Reads and writes the `pending_terminations` table. */
export class PostgresPendingTerminationRepository implements PendingTerminationRepository {
  constructor(private readonly db: Queryable) {}

  async upsert(cluster: string, e: ExecutionKey, lastError: Reason, nextAttemptAt: Date): Promise<void> {
    await this.db.query(
      `INSERT INTO pending_terminations (cluster, project, domain, name, last_error_code, last_error, next_attempt_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (cluster, project, domain, name) DO UPDATE SET attempts = pending_terminations.attempts + 1,
         last_error_code = EXCLUDED.last_error_code, last_error = EXCLUDED.last_error,
         next_attempt_at = EXCLUDED.next_attempt_at`,
      [cluster, ...executionKeyParams(e), lastError.code, lastError.message, nextAttemptAt],
    );
  }

  async due(now: Date, limit: number): Promise<PendingTermination[]> {
    const { rows } = await this.db.query(
      "SELECT * FROM pending_terminations WHERE next_attempt_at <= $1 ORDER BY created_at LIMIT $2",
      [now, limit],
    );
    return rows.map(toPending);
  }

  async forCluster(cluster: string): Promise<PendingTermination[]> {
    const { rows } = await this.db.query(
      "SELECT * FROM pending_terminations WHERE cluster = $1 ORDER BY created_at",
      [cluster],
    );
    return rows.map(toPending);
  }

  async delete(cluster: string, e: ExecutionKey): Promise<void> {
    await this.db.query(
      "DELETE FROM pending_terminations WHERE cluster = $1 AND project = $2 AND domain = $3 AND name = $4",
      [cluster, ...executionKeyParams(e)],
    );
  }
}
