import type { Queryable, Row } from "@flotilla/db";
import type { WorkflowExecution_Phase } from "@flotilla/proto";
import type { NotificationFacts } from "../notifications/payloads.js";
import type { NewNotificationMessage, NotificationTarget } from "../notifications/rules.js";
import { date, PostgresRepository, run, type Page, type PageRequest } from "./sql.js";

/** Delivery state of an outbox message, as stored. */
export const OutboxState = { Pending: "PENDING", Delivered: "DELIVERED", Failed: "FAILED" } as const;
/** A delivery state. */
export type OutboxState = (typeof OutboxState)[keyof typeof OutboxState];

/** One stored outbox message. */
export interface OutboxMessage {
  pk: number;
  idempotencyKey: string;
  execution: { project: string; domain: string; name: string };
  phase: WorkflowExecution_Phase;
  notificationIndex: number;
  target: NotificationTarget;
  facts: NotificationFacts;
  state: OutboxState;
  attempts: number;
  nextAttemptAt: Date;
  lastError: string;
  createdAt: Date;
  deliveredAt: Date | undefined;
}

/** A message a dispatcher holds the lease of; `claimToken` proves it when recording the outcome. */
export interface ClaimedMessage extends OutboxMessage {
  claimToken: string;
}

/** Filters of {@link NotificationRepository.list}. */
export interface OutboxListQuery {
  project: string;
  domain: string;
  failedOnly: boolean;
  executionName?: string;
}

/** SQL access to the `notification_outbox` table. */
export interface NotificationRepository {
  /**
   * Writes messages inside `tx` (the transaction of the phase change). A message whose
   * idempotency key exists already is skipped, so writing twice is harmless.
   */
  enqueue(tx: Queryable, messages: NewNotificationMessage[]): Promise<void>;
  /**
   * Claims up to `limit` due PENDING messages for `leaseMs` (rows locked by another claimer are
   * skipped, not waited for): counts the attempt, stamps `claimToken` and pushes
   * `next_attempt_at` to the end of the lease, so a crashed claimer's messages come back then.
   */
  claimDue(limit: number, leaseMs: number, claimToken: string): Promise<ClaimedMessage[]>;
  /** Records a delivery; false when the lease was lost (another claimer owns the message now). */
  markDelivered(pk: number, claimToken: string): Promise<boolean>;
  /** Records a failed attempt and when to try again; false when the lease was lost. */
  markRetry(pk: number, claimToken: string, delayMs: number, error: string): Promise<boolean>;
  /** Keeps the message as FAILED with its last error; false when the lease was lost. */
  markFailed(pk: number, claimToken: string, error: string): Promise<boolean>;
  /** Lists messages of a project/domain, newest first. */
  list(query: OutboxListQuery, page: PageRequest): Promise<Page<OutboxMessage>>;
  /**
   * Deletes up to `limit` DELIVERED messages delivered more than `olderThanMs` ago; returns how
   * many.
   */
  pruneDelivered(olderThanMs: number, limit: number): Promise<number>;
  /** Number of messages per state (for metrics). */
  countByState(): Promise<Map<OutboxState, number>>;
}

const COLUMNS = `pk, idempotency_key, project, domain, execution_name, phase, notification_index, target, message,
  state, attempts, next_attempt_at, claim_token, last_error, created_at, delivered_at`;

function message(r: Row): OutboxMessage {
  return {
    pk: Number(r.pk),
    idempotencyKey: String(r.idempotency_key),
    execution: { project: String(r.project), domain: String(r.domain), name: String(r.execution_name) },
    phase: Number(r.phase),
    notificationIndex: Number(r.notification_index),
    target: r.target as NotificationTarget,
    facts: r.message as NotificationFacts,
    state: String(r.state) as OutboxState,
    attempts: Number(r.attempts),
    nextAttemptAt: date(r.next_attempt_at)!,
    lastError: String(r.last_error),
    createdAt: date(r.created_at)!,
    deliveredAt: date(r.delivered_at),
  };
}

/** PostgreSQL implementation of {@link NotificationRepository}. */
export class PostgresNotificationRepository extends PostgresRepository implements NotificationRepository {
  async enqueue(tx: Queryable, messages: NewNotificationMessage[]): Promise<void> {
    await this.unnested(
      tx,
      "notification_outbox.enqueue",
      `INSERT INTO notification_outbox (idempotency_key, execution_pk, project, domain, execution_name, phase,
         notification_index, channel, target, message)
       SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::smallint[],
         $7::integer[], $8::text[], $9::jsonb[], $10::jsonb[])
       ON CONFLICT (idempotency_key) DO NOTHING`,
      messages,
      [
        (m) => m.idempotencyKey,
        (m) => m.executionPk,
        (m) => m.execution.project,
        (m) => m.execution.domain,
        (m) => m.execution.name,
        (m) => m.phase,
        (m) => m.notificationIndex,
        (m) => m.target.channel,
        (m) => JSON.stringify(m.target),
        (m) => JSON.stringify(m.facts),
      ],
    );
  }

  async claimDue(limit: number, leaseMs: number, claimToken: string): Promise<ClaimedMessage[]> {
    const res = await run(
      this.db,
      this.observe,
      "notification_outbox.claim",
      `UPDATE notification_outbox o
       SET attempts = o.attempts + 1, claim_token = $3, updated_at = now(),
           next_attempt_at = now() + $2::double precision * interval '1 millisecond'
       WHERE o.pk IN (
         SELECT pk FROM notification_outbox
         WHERE state = 'PENDING' AND next_attempt_at <= now()
         ORDER BY next_attempt_at, pk
         LIMIT $1
         FOR UPDATE SKIP LOCKED)
       RETURNING ${COLUMNS}`,
      [limit, leaseMs, claimToken],
    );
    return res.rows
      .map((r) => ({ ...message(r), claimToken }))
      .sort((a, b) => a.nextAttemptAt.getTime() - b.nextAttemptAt.getTime() || a.pk - b.pk);
  }

  async markDelivered(pk: number, claimToken: string): Promise<boolean> {
    return this.settle(
      "notification_outbox.delivered",
      "state = 'DELIVERED', delivered_at = now(), claim_token = NULL",
      [pk, claimToken],
    );
  }

  async markRetry(pk: number, claimToken: string, delayMs: number, error: string): Promise<boolean> {
    return this.settle(
      "notification_outbox.retry",
      "claim_token = NULL, last_error = $3, next_attempt_at = now() + $4::double precision * interval '1 millisecond'",
      [pk, claimToken, error, delayMs],
    );
  }

  async markFailed(pk: number, claimToken: string, error: string): Promise<boolean> {
    return this.settle(
      "notification_outbox.failed",
      "state = 'FAILED', claim_token = NULL, last_error = $3",
      [pk, claimToken, error],
    );
  }

  private async settle(operation: string, set: string, params: unknown[]): Promise<boolean> {
    const res = await run(
      this.db,
      this.observe,
      operation,
      `UPDATE notification_outbox SET ${set}, updated_at = now()
       WHERE pk = $1 AND claim_token = $2 AND state = 'PENDING'`,
      params,
    );
    return (res.rowCount ?? 0) > 0;
  }

  async list(query: OutboxListQuery, page: PageRequest): Promise<Page<OutboxMessage>> {
    const where = ["project = $1", "domain = $2"];
    const params: unknown[] = [query.project, query.domain];
    if (query.failedOnly) where.push("state = 'FAILED'");
    if (query.executionName) {
      params.push(query.executionName);
      where.push(`execution_name = $${params.length}`);
    }
    return this.paged(
      "notification_outbox.list",
      `SELECT ${COLUMNS} FROM notification_outbox WHERE ${where.join(" AND ")} ORDER BY pk DESC`,
      params,
      page,
      message,
    );
  }

  async pruneDelivered(olderThanMs: number, limit: number): Promise<number> {
    const res = await run(
      this.db,
      this.observe,
      "notification_outbox.prune",
      `DELETE FROM notification_outbox WHERE pk IN (
         SELECT pk FROM notification_outbox
         WHERE state = 'DELIVERED' AND delivered_at < now() - $1::double precision * interval '1 millisecond'
         LIMIT $2)`,
      [olderThanMs, limit],
    );
    return res.rowCount ?? 0;
  }

  async countByState(): Promise<Map<OutboxState, number>> {
    const res = await run(
      this.db,
      this.observe,
      "notification_outbox.count_by_state",
      "SELECT state, count(*)::int AS n FROM notification_outbox GROUP BY state",
    );
    return new Map(res.rows.map((r) => [String(r.state) as OutboxState, Number(r.n)]));
  }
}
