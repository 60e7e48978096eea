/**
 * SQL for stored routing decisions (`routing_decisions`, migration 0052).
 */
import type { Queryable, Row } from "@flotilla/db";
import type { ExecutionKey } from "../manager/placement.js";
import type { CandidateEvaluation, Decision } from "../routing/router.js";
import { executionKeyOf, executionKeyParams, timestamp } from "./rows.js";

/** A decision as stored, with the inputs the router saw. */
export interface StoredDecision {
  id: number;
  execution: ExecutionKey;
  chosenCluster?: string | undefined;
  reason: string;
  message: string;
  /** Why the execution waits ("" when a cluster was chosen and the CR created). */
  queueReason: string;
  clusterLabel: string;
  clusterLabelSource: string;
  isolationLabel: string;
  matchedRuleId?: string | undefined;
  sticky: boolean;
  inputs: Record<string, unknown>;
  candidates: CandidateEvaluation[];
  evaluations: number;
  decidedAt: Date;
  lastEvaluatedAt: Date;
}

function toStored(r: Row): StoredDecision {
  return {
    id: Number(r.id),
    execution: executionKeyOf(r),
    chosenCluster: (r.chosen_cluster as string | null) ?? undefined,
    reason: r.reason as string,
    message: r.message as string,
    queueReason: r.queue_reason as string,
    clusterLabel: r.cluster_label as string,
    clusterLabelSource: r.cluster_label_source as string,
    isolationLabel: r.isolation_label as string,
    matchedRuleId: (r.matched_rule_id as string | null) ?? undefined,
    sticky: Boolean(r.sticky),
    inputs: r.inputs as Record<string, unknown>,
    candidates: r.candidates as CandidateEvaluation[],
    evaluations: Number(r.evaluations),
    decidedAt: timestamp(r.decided_at),
    lastEvaluatedAt: timestamp(r.last_evaluated_at),
  };
}

/** SQL access to stored routing decisions (`routing_decisions`). */
export interface RoutingDecisionRepository {
  /** The latest decision of an execution, or undefined. */
  latest(e: ExecutionKey): Promise<StoredDecision | undefined>;
  /** The cluster of the latest decision that chose one, or undefined. */
  latestChosen(e: ExecutionKey): Promise<string | undefined>;
  /** Every decision of an execution, oldest first. */
  list(e: ExecutionKey): Promise<StoredDecision[]>;
  /**
   * Stores a decision. When the latest stored decision has the same outcome (chosen cluster,
   * reason, queue reason and message) it is bumped (evaluations + 1) instead of duplicated.
   * Returns the stored row.
   */
  record(
    e: ExecutionKey,
    decision: Decision,
    queueReason: string,
    inputs: Record<string, unknown>,
    at: Date,
  ): Promise<StoredDecision>;
  /**
   * Sets the queue reason of the latest decision (e.g. the cluster became unreachable after
   * the cluster was chosen). Appends nothing.
   */
  setQueueReason(id: number, queueReason: string, at: Date): Promise<void>;
}

/** Creates the PostgreSQL implementation of {@link RoutingDecisionRepository}. */
export function createPostgresRoutingDecisionRepository(db: Queryable): RoutingDecisionRepository {
  return new PostgresRoutingDecisionRepository(db);
}

/** Reads and writes the `routing_decisions` table. */
export class PostgresRoutingDecisionRepository implements RoutingDecisionRepository {
  constructor(private readonly db: Queryable) {}

  async latest(e: ExecutionKey): Promise<StoredDecision | undefined> {
    const { rows } = await this.db.query(
      "SELECT * FROM routing_decisions WHERE project = $1 AND domain = $2 AND name = $3 ORDER BY id DESC LIMIT 1",
      executionKeyParams(e),
    );
    return rows[0] ? toStored(rows[0]) : undefined;
  }

  async latestChosen(e: ExecutionKey): Promise<string | undefined> {
    const { rows } = await this.db.query(
      `SELECT chosen_cluster FROM routing_decisions
       WHERE project = $1 AND domain = $2 AND name = $3 AND chosen_cluster IS NOT NULL ORDER BY id DESC LIMIT 1`,
      executionKeyParams(e),
    );
    return (rows[0]?.chosen_cluster as string | undefined) ?? undefined;
  }

  async list(e: ExecutionKey): Promise<StoredDecision[]> {
    const { rows } = await this.db.query(
      "SELECT * FROM routing_decisions WHERE project = $1 AND domain = $2 AND name = $3 ORDER BY id",
      executionKeyParams(e),
    );
    return rows.map(toStored);
  }

  async record(
    e: ExecutionKey,
    decision: Decision,
    queueReason: string,
    inputs: Record<string, unknown>,
    at: Date,
  ): Promise<StoredDecision> {
    const latest = await this.latest(e);
    if (
      latest &&
      latest.chosenCluster === decision.chosen &&
      latest.reason === decision.reason &&
      latest.queueReason === queueReason &&
      latest.message === decision.message
    ) {
      const { rows } = await this.db.query(
        "UPDATE routing_decisions SET evaluations = evaluations + 1, last_evaluated_at = $2 WHERE id = $1 RETURNING *",
        [latest.id, at],
      );
      return toStored(rows[0]);
    }
    const { rows } = await this.db.query(
      `INSERT INTO routing_decisions (project, domain, name, chosen_cluster, reason, message, queue_reason,
         cluster_label, cluster_label_source, isolation_label, matched_rule_id, sticky, inputs, candidates,
         decided_at, last_evaluated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13::jsonb, $14::jsonb, $15, $15) RETURNING *`,
      [
        ...executionKeyParams(e),
        decision.chosen ?? null,
        decision.reason,
        decision.message,
        queueReason,
        decision.clusterLabel,
        decision.labelSource,
        decision.isolationLabel ?? "",
        decision.matchedRule?.id ?? null,
        decision.reason === "Sticky",
        JSON.stringify(inputs),
        JSON.stringify(decision.candidates),
        at,
      ],
    );
    return toStored(rows[0]);
  }

  async setQueueReason(id: number, queueReason: string, at: Date): Promise<void> {
    await this.db.query(
      "UPDATE routing_decisions SET queue_reason = $2, last_evaluated_at = $3 WHERE id = $1",
      [id, queueReason, at],
    );
  }
}
