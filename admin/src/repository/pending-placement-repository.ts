/**
 * SQL for pending placements (`pending_placements`, migrations 0053 and 0055): accepted
 * executions whose CR does not exist on a cluster yet. Durable so a restarted admin keeps
 * retrying.
 */
import { fromBinary, fromJson, toBinary, toJson, type JsonValue } from "@bufbuild/protobuf";
import type { Queryable, Row } from "@flotilla/db";
import { IdentifierSchema, WorkflowExecutionSpecSchema } from "@flotilla/proto";
import type { ExecutionKey, PlacementRequest } from "../manager/placement.js";
import type { Reason } from "../routing/reason.js";
import { executionKeyOf, executionKeyParams, timestamp } from "./rows.js";

/** One pending placement with its retry bookkeeping. */
export interface PendingPlacement {
  request: PlacementRequest;
  attempts: number;
  lastCluster?: string | undefined;
  /** Why the last attempt did not place it (code "" before the first attempt). */
  lastError: Reason;
  nextAttemptAt: Date;
  createdAt: Date;
}

/** What a failed attempt records: the attempt count, the cluster tried, why, and when to retry. */
export interface PlacementRetry {
  attempts: number;
  lastCluster?: string | undefined;
  lastError: Reason;
  nextAttemptAt: Date;
}

interface RequestJson {
  workflow: JsonValue;
  launchPlan?: JsonValue;
  clusterLabel?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

function toPending(r: Row): PendingPlacement {
  const req = r.request as RequestJson;
  const spec = r.spec as Uint8Array;
  return {
    request: {
      execution: executionKeyOf(r),
      workflow: fromJson(IdentifierSchema, req.workflow),
      ...(req.launchPlan !== undefined ? { launchPlan: fromJson(IdentifierSchema, req.launchPlan) } : {}),
      ...(req.clusterLabel !== undefined ? { clusterLabel: req.clusterLabel } : {}),
      spec: fromBinary(WorkflowExecutionSpecSchema, spec),
      labels: req.labels,
      annotations: req.annotations,
    },
    attempts: Number(r.attempts),
    lastCluster: (r.last_cluster as string | null) ?? undefined,
    lastError: { code: r.last_error_code as string, message: r.last_error as string },
    nextAttemptAt: timestamp(r.next_attempt_at),
    createdAt: timestamp(r.created_at),
  };
}

/** SQL access to pending placements (`pending_placements`). */
export interface PendingPlacementRepository {
  /**
   * Stores (or refreshes the request of) a pending placement, due at `dueAt`. An existing
   * row keeps its attempt count. Side effect: upserts a row.
   */
  upsert(request: PlacementRequest, dueAt: Date): Promise<void>;
  /** The pending placement of an execution, or undefined. */
  get(e: ExecutionKey): Promise<PendingPlacement | undefined>;
  /** Pending placements due at `now` (all when `includeNotDue`), oldest first, at most `limit`. */
  due(now: Date, limit: number, includeNotDue?: boolean): Promise<PendingPlacement[]>;
  /** Records a failed attempt and when to try again. */
  reschedule(e: ExecutionKey, update: PlacementRetry): Promise<void>;
  /** Makes every pending placement due now (after a cluster or rule change). */
  makeAllDue(): Promise<void>;
  /** Removes a pending placement. Returns true when a row was removed. */
  delete(e: ExecutionKey): Promise<boolean>;
  /** Number of pending placements. */
  count(): Promise<number>;
}

/** Creates the PostgreSQL implementation of {@link PendingPlacementRepository}. */
export function createPostgresPendingPlacementRepository(db: Queryable): PendingPlacementRepository {
  return new PostgresPendingPlacementRepository(db);
}

/** Reads and writes the `pending_placements` table. */
export class PostgresPendingPlacementRepository implements PendingPlacementRepository {
  constructor(private readonly db: Queryable) {}

  async upsert(request: PlacementRequest, dueAt: Date): Promise<void> {
    const json: RequestJson = {
      workflow: toJson(IdentifierSchema, request.workflow),
      ...(request.launchPlan ? { launchPlan: toJson(IdentifierSchema, request.launchPlan) } : {}),
      ...(request.clusterLabel !== undefined ? { clusterLabel: request.clusterLabel } : {}),
      labels: request.labels,
      annotations: request.annotations,
    };
    const e = request.execution;
    await this.db.query(
      `INSERT INTO pending_placements (project, domain, name, spec, request, next_attempt_at)
       VALUES ($1, $2, $3, $4, $5::jsonb, $6)
       ON CONFLICT (project, domain, name) DO UPDATE SET spec = EXCLUDED.spec, request = EXCLUDED.request,
         updated_at = now()`,
      [
        ...executionKeyParams(e),
        Buffer.from(toBinary(WorkflowExecutionSpecSchema, request.spec)),
        JSON.stringify(json),
        dueAt,
      ],
    );
  }

  async get(e: ExecutionKey): Promise<PendingPlacement | undefined> {
    const { rows } = await this.db.query(
      "SELECT * FROM pending_placements WHERE project = $1 AND domain = $2 AND name = $3",
      executionKeyParams(e),
    );
    return rows[0] ? toPending(rows[0]) : undefined;
  }

  async due(now: Date, limit: number, includeNotDue = false): Promise<PendingPlacement[]> {
    const { rows } = await this.db.query(
      `SELECT * FROM pending_placements WHERE $1::boolean OR next_attempt_at <= $2
       ORDER BY created_at, project, domain, name LIMIT $3`,
      [includeNotDue, now, limit],
    );
    return rows.map(toPending);
  }

  async reschedule(e: ExecutionKey, update: PlacementRetry): Promise<void> {
    await this.db.query(
      `UPDATE pending_placements SET attempts = $4, last_cluster = $5, last_error_code = $6, last_error = $7,
         next_attempt_at = $8, updated_at = now()
       WHERE project = $1 AND domain = $2 AND name = $3`,
      [
        ...executionKeyParams(e),
        update.attempts,
        update.lastCluster ?? null,
        update.lastError.code,
        update.lastError.message,
        update.nextAttemptAt,
      ],
    );
  }

  async makeAllDue(): Promise<void> {
    await this.db.query(
      "UPDATE pending_placements SET next_attempt_at = now() WHERE next_attempt_at > now()",
    );
  }

  async delete(e: ExecutionKey): Promise<boolean> {
    const { rowCount } = await this.db.query(
      "DELETE FROM pending_placements WHERE project = $1 AND domain = $2 AND name = $3",
      executionKeyParams(e),
    );
    return rowCount > 0;
  }

  async count(): Promise<number> {
    const { rows } = await this.db.query("SELECT count(*)::int AS n FROM pending_placements");
    return Number(rows[0]?.n ?? 0);
  }
}
