import type { Queryable } from "@flotilla/db";
import { ExecutionNotFoundError, InvalidArgumentError } from "../errors.js";
import type { ExecutionState } from "../events/state.js";
import type { ExecutionKey } from "../manager/placement.js";
import {
  ACTIVE_PHASES,
  type ActiveExecution,
  type ExecutionPlacementRepository,
  type ExecutionPlacementUpdate,
} from "./execution-placement.js";
import { bytes, date, PostgresRepository, run, type Page, type PageRequest } from "./sql.js";

export type { ExecutionPlacementUpdate } from "./execution-placement.js";

/** One stored execution. */
export interface ExecutionRecord {
  pk: number;
  key: ExecutionKey;
  launchPlan: { name: string; version: string } | undefined;
  workflow: { name: string; version: string };
  /** Serialized admin.v1.ExecutionSpec as resolved at creation. */
  spec: Uint8Array;
  specDigest: string;
  inputsUri: string;
  clusterLabel: string;
  cluster: string | null;
  queueReason: string | null;
  createdAt: Date;
  labels: Record<string, string>;
  state: ExecutionState;
}

/**
 * What creating an execution stores (a record before placement); the first log event is
 * appended in the same transaction.
 */
export interface NewExecution extends Omit<ExecutionRecord, "pk" | "cluster" | "queueReason"> {
  /** The admin "created" event appended to the log. */
  createdEvent: { eventId: string; kind: number; payload: Uint8Array };
}

/** Filters of {@link ExecutionRepository.list}; every set field must match. */
export interface ExecutionListFilter {
  phases?: number[];
  createdAfter?: Date;
  createdBefore?: Date;
  launchPlan?: { name: string; version?: string };
  workflow?: { name: string; version?: string };
  cluster?: string;
  labels?: Record<string, string>;
}

/** Sort of {@link ExecutionRepository.list}. */
export interface ExecutionListSort {
  key: "created_at" | "updated_at" | "name" | "phase";
  ascending: boolean;
}

/** Which executions {@link ExecutionRepository.list} reads, in which order. */
export interface ExecutionListQuery {
  project: string;
  domain: string;
  filter: ExecutionListFilter;
  sort: ExecutionListSort;
}

/** SQL access to the `executions` table. */
export interface ExecutionRepository extends ExecutionPlacementRepository {
  /**
   * Inserts the execution and its "created" log event in one transaction unless the name is
   * taken; returns the stored row and whether this call created it.
   */
  create(execution: NewExecution): Promise<{ record: ExecutionRecord; created: boolean }>;
  /** Reads an execution, or undefined. */
  get(key: ExecutionKey, q?: Queryable): Promise<ExecutionRecord | undefined>;
  /** Reads and row-locks the executions named by `keys` (in primary-key order) inside `tx`. */
  lockMany(tx: Queryable, keys: ExecutionKey[]): Promise<ExecutionRecord[]>;
  /** Writes the event-derived state of many executions inside `tx`. */
  updateStates(tx: Queryable, states: { pk: number; state: ExecutionState }[]): Promise<void>;
  /** Lists executions of a project/domain. */
  list(query: ExecutionListQuery, page: PageRequest): Promise<Page<ExecutionRecord>>;
  /**
   * Records why an execution waits for a cluster, unless it has been placed meanwhile (the
   * routing subsystem may place it in the background at any time).
   */
  recordQueueReason(key: ExecutionKey, reason: string): Promise<void>;
  /** Executions still waiting for a cluster (QUEUED, no cluster), oldest first. */
  listUnplaced(limit: number): Promise<ExecutionRecord[]>;
  /** Number of executions per project, domain and workflow phase (bounded: no names). */
  countByPhase(): Promise<PhaseCount[]>;
}

/** How many executions of a project and domain are in a workflow phase. */
export interface PhaseCount {
  project: string;
  domain: string;
  phase: number;
  count: number;
}

const COLUMNS = `pk, project, domain, name, launch_plan_name, launch_plan_version, workflow_name, workflow_version,
  spec, spec_digest, inputs_uri, cluster_label, cluster, queue_reason, phase, phase_version, created_at, started_at,
  stopped_at, updated_at, outputs_uri, output_data, error, reason, message, abort_cause, labels`;

function record(r: Record<string, unknown>): ExecutionRecord {
  return {
    pk: Number(r.pk),
    key: { project: String(r.project), domain: String(r.domain), name: String(r.name) },
    launchPlan:
      r.launch_plan_name === null
        ? undefined
        : { name: r.launch_plan_name as string, version: r.launch_plan_version as string },
    workflow: { name: String(r.workflow_name), version: String(r.workflow_version) },
    spec: bytes(r.spec),
    specDigest: String(r.spec_digest),
    inputsUri: String(r.inputs_uri),
    clusterLabel: String(r.cluster_label),
    cluster: (r.cluster as string | null) ?? null,
    queueReason: (r.queue_reason as string | null) ?? null,
    createdAt: date(r.created_at)!,
    labels: r.labels as Record<string, string>,
    state: {
      phase: Number(r.phase),
      phaseVersion: Number(r.phase_version),
      startedAt: date(r.started_at),
      stoppedAt: date(r.stopped_at),
      updatedAt: date(r.updated_at)!,
      outputsUri: String(r.outputs_uri),
      outputData: r.output_data === null ? undefined : bytes(r.output_data),
      error: r.error === null ? undefined : bytes(r.error),
      reason: String(r.reason),
      message: String(r.message),
      abortCause: String(r.abort_cause),
    },
  };
}

const keyText = (k: ExecutionKey) => `${k.project}/${k.domain}/${k.name}`;
const buf = (u: Uint8Array | undefined) =>
  u === undefined ? null : Buffer.from(u.buffer, u.byteOffset, u.byteLength);
const iso = (d: Date | undefined) => (d === undefined ? null : d.toISOString());

/** PostgreSQL implementation of {@link ExecutionRepository}. */
export class PostgresExecutionRepository extends PostgresRepository implements ExecutionRepository {
  async create(e: NewExecution): Promise<{ record: ExecutionRecord; created: boolean }> {
    return this.db.transaction(async (tx) => {
      const s = e.state;
      const inserted = await run(
        tx,
        this.observe,
        "executions.insert",
        `INSERT INTO executions (project, domain, name, launch_plan_name, launch_plan_version, workflow_name,
           workflow_version, spec, spec_digest, inputs_uri, cluster_label, phase, phase_version, created_at, updated_at,
           reason, message, labels)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
         ON CONFLICT (project, domain, name) DO NOTHING
         RETURNING ${COLUMNS}`,
        [
          e.key.project,
          e.key.domain,
          e.key.name,
          e.launchPlan?.name ?? null,
          e.launchPlan?.version ?? null,
          e.workflow.name,
          e.workflow.version,
          buf(e.spec),
          e.specDigest,
          e.inputsUri,
          e.clusterLabel,
          s.phase,
          s.phaseVersion,
          e.createdAt.toISOString(),
          s.updatedAt.toISOString(),
          s.reason,
          s.message,
          JSON.stringify(e.labels),
        ],
      );
      const row = inserted.rows[0];
      if (!row) {
        const existing = await this.get(e.key, tx);
        if (!existing)
          throw new Error(`execution ${keyText(e.key)} conflicted on insert but cannot be read back`);
        return { record: existing, created: false };
      }
      const created = record(row);
      await run(
        tx,
        this.observe,
        "execution_events.insert",
        "INSERT INTO execution_events (execution_pk, event_id, kind, source, node_id, payload) VALUES ($1, $2, $3, 'admin', '', $4)",
        [created.pk, e.createdEvent.eventId, e.createdEvent.kind, buf(e.createdEvent.payload)],
      );
      return { record: created, created: true };
    });
  }

  async get(key: ExecutionKey, q: Queryable = this.db): Promise<ExecutionRecord | undefined> {
    const res = await run(
      q,
      this.observe,
      "executions.get",
      `SELECT ${COLUMNS} FROM executions WHERE project = $1 AND domain = $2 AND name = $3`,
      [key.project, key.domain, key.name],
    );
    return res.rows[0] ? record(res.rows[0]) : undefined;
  }

  async lockMany(tx: Queryable, keys: ExecutionKey[]): Promise<ExecutionRecord[]> {
    if (keys.length === 0) return [];
    const res = await run(
      tx,
      this.observe,
      "executions.lock_many",
      `SELECT ${COLUMNS} FROM executions e
       JOIN unnest($1::text[], $2::text[], $3::text[]) AS k(project, domain, name)
         USING (project, domain, name)
       ORDER BY pk FOR UPDATE OF e`,
      [keys.map((k) => k.project), keys.map((k) => k.domain), keys.map((k) => k.name)],
    );
    return res.rows.map(record);
  }

  async updateStates(tx: Queryable, states: { pk: number; state: ExecutionState }[]): Promise<void> {
    if (states.length === 0) return;
    const col = <T>(f: (s: ExecutionState) => T) => states.map((x) => f(x.state));
    await run(
      tx,
      this.observe,
      "executions.update_states",
      `UPDATE executions e SET phase = u.phase, phase_version = u.phase_version, started_at = u.started_at,
         stopped_at = u.stopped_at, updated_at = u.updated_at, outputs_uri = u.outputs_uri, output_data = u.output_data,
         error = u.error, reason = u.reason, message = u.message, abort_cause = u.abort_cause
       FROM unnest($1::bigint[], $2::smallint[], $3::integer[], $4::timestamptz[], $5::timestamptz[], $6::timestamptz[],
         $7::text[], $8::bytea[], $9::bytea[], $10::text[], $11::text[], $12::text[])
         AS u(pk, phase, phase_version, started_at, stopped_at, updated_at, outputs_uri, output_data, error, reason,
           message, abort_cause)
       WHERE e.pk = u.pk`,
      [
        states.map((s) => s.pk),
        col((s) => s.phase),
        col((s) => s.phaseVersion),
        col((s) => iso(s.startedAt)),
        col((s) => iso(s.stoppedAt)),
        col((s) => s.updatedAt.toISOString()),
        col((s) => s.outputsUri),
        col((s) => buf(s.outputData)),
        col((s) => buf(s.error)),
        col((s) => s.reason),
        col((s) => s.message),
        col((s) => s.abortCause),
      ],
    );
  }

  async updatePlacement(id: ExecutionKey, placement: ExecutionPlacementUpdate): Promise<void> {
    const res = await run(
      this.db,
      this.observe,
      "executions.update_placement",
      `UPDATE executions SET cluster = $4, queue_reason = $5, queue_reason_code = $6
       WHERE project = $1 AND domain = $2 AND name = $3`,
      [
        id.project,
        id.domain,
        id.name,
        placement.cluster,
        placement.queueReason,
        placement.queueReasonCode ?? null,
      ],
    );
    if (res.rowCount === 0) throw new ExecutionNotFoundError(keyText(id));
  }

  async placementOf(id: ExecutionKey): Promise<{ cluster: string | null } | undefined> {
    const res = await run(
      this.db,
      this.observe,
      "executions.placement_of",
      "SELECT cluster FROM executions WHERE project = $1 AND domain = $2 AND name = $3",
      [id.project, id.domain, id.name],
    );
    const row = res.rows[0];
    return row ? { cluster: (row.cluster as string | null) ?? null } : undefined;
  }

  async listActiveOn(cluster: string): Promise<ActiveExecution[]> {
    const res = await run(
      this.db,
      this.observe,
      "executions.list_active_on",
      `SELECT project, domain, name, queue_reason_code FROM executions
       WHERE cluster = $1 AND phase = ANY($2::smallint[]) ORDER BY project, domain, name`,
      [cluster, ACTIVE_PHASES],
    );
    return res.rows.map((r) => ({
      key: { project: String(r.project), domain: String(r.domain), name: String(r.name) },
      queueReasonCode: (r.queue_reason_code as string | null) ?? null,
    }));
  }

  async countActiveOn(cluster: string): Promise<number> {
    const res = await run(
      this.db,
      this.observe,
      "executions.count_active_on",
      "SELECT count(*)::int AS n FROM executions WHERE cluster = $1 AND phase = ANY($2::smallint[])",
      [cluster, ACTIVE_PHASES],
    );
    return Number(res.rows[0]?.n ?? 0);
  }

  async recordQueueReason(key: ExecutionKey, reason: string): Promise<void> {
    await run(
      this.db,
      this.observe,
      "executions.record_queue_reason",
      "UPDATE executions SET queue_reason = $4 WHERE project = $1 AND domain = $2 AND name = $3 AND cluster IS NULL",
      [key.project, key.domain, key.name, reason],
    );
  }

  async list(query: ExecutionListQuery, page: PageRequest): Promise<Page<ExecutionRecord>> {
    const { project, domain, filter, sort } = query;
    const where = ["project = $1", "domain = $2"];
    const params: unknown[] = [project, domain];
    const add = (clause: (p: string) => string, value: unknown) => {
      params.push(value);
      where.push(clause(`$${params.length}`));
    };
    if (filter.phases && filter.phases.length > 0) add((p) => `phase = ANY(${p}::smallint[])`, filter.phases);
    if (filter.createdAfter) add((p) => `created_at >= ${p}`, filter.createdAfter.toISOString());
    if (filter.createdBefore) add((p) => `created_at < ${p}`, filter.createdBefore.toISOString());
    if (filter.launchPlan) {
      add((p) => `launch_plan_name = ${p}`, filter.launchPlan.name);
      if (filter.launchPlan.version) add((p) => `launch_plan_version = ${p}`, filter.launchPlan.version);
    }
    if (filter.workflow) {
      add((p) => `workflow_name = ${p}`, filter.workflow.name);
      if (filter.workflow.version) add((p) => `workflow_version = ${p}`, filter.workflow.version);
    }
    if (filter.cluster) add((p) => `cluster = ${p}`, filter.cluster);
    if (filter.labels && Object.keys(filter.labels).length > 0)
      add((p) => `labels @> ${p}::jsonb`, JSON.stringify(filter.labels));
    const dir = sort.ascending ? "ASC" : "DESC";
    const orderings: Record<ExecutionListSort["key"], string> = {
      created_at: `created_at ${dir}, pk ${dir}`,
      updated_at: `updated_at ${dir}, pk ${dir}`,
      name: `name ${dir}`,
      phase: `phase ${dir}, created_at DESC, pk DESC`,
    };
    const order = orderings[sort.key];
    if (!order) throw new InvalidArgumentError("sort.key", `unknown sort key ${String(sort.key)}`);
    return this.paged(
      "executions.list",
      `SELECT ${COLUMNS} FROM executions WHERE ${where.join(" AND ")} ORDER BY ${order}`,
      params,
      page,
      record,
    );
  }

  async listUnplaced(limit: number): Promise<ExecutionRecord[]> {
    return this.all(
      "executions.list_unplaced",
      `SELECT ${COLUMNS} FROM executions WHERE cluster IS NULL AND phase = 1 ORDER BY created_at LIMIT $1`,
      [limit],
      record,
    );
  }

  async countByPhase(): Promise<PhaseCount[]> {
    const res = await run(
      this.db,
      this.observe,
      "executions.count_by_phase",
      "SELECT project, domain, phase, count(*)::int AS n FROM executions GROUP BY project, domain, phase",
    );
    return res.rows.map((r) => ({
      project: String(r.project),
      domain: String(r.domain),
      phase: Number(r.phase),
      count: Number(r.n),
    }));
  }
}
