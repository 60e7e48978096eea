import { fromBinary, toBinary } from "@bufbuild/protobuf";
import type { Queryable } from "@flotilla/db";
import { NodeExecutionSchema, TaskExecutionSchema, type TaskExecution } from "@flotilla/proto";
import type { NodeState } from "../events/state.js";
import {
  bytes,
  cursorBounds,
  date,
  PostgresRepository,
  run,
  toCursorPage,
  type Page,
  type PageRequest,
} from "./sql.js";

/** One row of the event log. */
export interface LoggedEvent {
  seq: number;
  executionPk: number;
  eventId: string;
  kind: number;
  source: string;
  /** Node the event is about: a node event's node, a task event's node, "" for workflow events. */
  nodeId: string;
  /** Serialized admin.v1.Event. */
  payload: Uint8Array;
}

/** One entry of an execution's log as the API reads it. */
export interface LogEntry {
  /** Position in the execution's log: 1 for its first event, then strictly increasing. */
  position: number;
  /** When admin logged it. */
  recordedAt: Date;
  /** Producer cluster, or "admin". */
  source: string;
  /** Serialized admin.v1.Event. */
  payload: Uint8Array;
}

/** Which node executions {@link EventRepository.listNodes} reads, in which order. */
export interface NodeListQuery {
  /** Children of this node; "" = top level. */
  parentNodeId: string;
  /** Only these phases; empty = all. */
  phases: number[];
  /** "created_at" (default order), "node_id" or "phase". */
  sortKey: string;
  ascending: boolean;
}

/** Which part of an execution's log to read: positions after `after`, of one node or all (""). */
export interface LogQuery {
  after: number;
  nodeId: string;
}

/** Key of a node execution row. */
export interface NodeRowKey {
  executionPk: number;
  nodeId: string;
}

/** Key of a task execution row. */
export interface TaskRowKey extends NodeRowKey {
  retryAttempt: number;
}

/** SQL access to the event log and the node/task execution tables derived from it. */
export interface EventRepository {
  /** Which of the `(executionPk, eventId)` pairs are already in the log (as "pk/eventId" strings). */
  existingEventIds(tx: Queryable, pairs: { executionPk: number; eventId: string }[]): Promise<Set<string>>;
  /** Appends events to the log, in order. */
  append(tx: Queryable, events: Omit<LoggedEvent, "seq">[]): Promise<void>;
  /** Loads node executions by key (missing ones are absent from the map, keyed "pk/nodeId"). */
  loadNodes(tx: Queryable, keys: NodeRowKey[]): Promise<Map<string, NodeState>>;
  /** Loads task executions by key (keyed "pk/nodeId/attempt"). */
  loadTasks(tx: Queryable, keys: TaskRowKey[]): Promise<Map<string, TaskExecution>>;
  /** Inserts or replaces node executions. */
  upsertNodes(tx: Queryable, nodes: { executionPk: number; state: NodeState }[]): Promise<void>;
  /** Inserts or replaces task executions. */
  upsertTasks(tx: Queryable, tasks: { executionPk: number; task: TaskExecution }[]): Promise<void>;
  /** The whole log of one execution, in order. */
  readLog(executionPk: number): Promise<LoggedEvent[]>;
  /** One page of an execution's log in position order, optionally of one node. */
  listLog(executionPk: number, query: LogQuery, page: PageRequest): Promise<Page<LogEntry>>;
  /**
   * Fills the node id of up to `batch` events logged before it was recorded, using `nodeOf` to
   * read it from the payload. Returns how many were filled (0 when none is left).
   */
  backfillNodeIds(nodeOf: (payload: Uint8Array) => string, batch?: number): Promise<number>;
  /** One node execution, or undefined. */
  getNode(executionPk: number, nodeId: string): Promise<NodeState | undefined>;
  /** Node executions of an execution, as {@link NodeListQuery} selects and orders them. */
  listNodes(executionPk: number, query: NodeListQuery, page: PageRequest): Promise<Page<NodeState>>;
  /** Every node and task execution of an execution, by node id and attempt (for replay comparison). */
  allOfExecution(executionPk: number): Promise<{ nodes: NodeState[]; tasks: TaskExecution[] }>;
  /** One task execution, or undefined. */
  getTask(executionPk: number, nodeId: string, retryAttempt: number): Promise<TaskExecution | undefined>;
  /** Attempts of one node. */
  listTasks(
    executionPk: number,
    nodeId: string,
    sortKey: string,
    ascending: boolean,
    page: PageRequest,
  ): Promise<Page<TaskExecution>>;
}

const buf = (u: Uint8Array) => Buffer.from(u.buffer, u.byteOffset, u.byteLength);

function nodeState(r: Record<string, unknown>): NodeState {
  return { node: fromBinary(NodeExecutionSchema, bytes(r.state)), phaseVersion: Number(r.phase_version) };
}

function taskState(r: Record<string, unknown>): TaskExecution {
  return fromBinary(TaskExecutionSchema, bytes(r.state));
}

/**
 * A task execution as the API serves it: its stored state with `closure.cost` (dollars) from
 * `attempt_costs` once the attempt was priced. The cost is not part of the event-derived state,
 * so replay comparisons read {@link taskState} instead.
 */
function pricedTaskState(r: Record<string, unknown>): TaskExecution {
  const task = taskState(r);
  if (task.closure && r.cost_micros !== null && r.cost_micros !== undefined)
    task.closure.cost = Number(r.cost_micros) / 1_000_000;
  return task;
}

/** Task executions joined with their priced attempt (if any). */
const PRICED_TASKS = `SELECT t.state, c.cost_micros FROM task_executions t
  LEFT JOIN attempt_costs c USING (execution_pk, node_id, retry_attempt)`;

/** PostgreSQL implementation of {@link EventRepository}. */
export class PostgresEventRepository extends PostgresRepository implements EventRepository {
  async existingEventIds(
    tx: Queryable,
    pairs: { executionPk: number; eventId: string }[],
  ): Promise<Set<string>> {
    const rows = await this.unnested(
      tx,
      "execution_events.find_ids",
      `SELECT ev.execution_pk, ev.event_id FROM execution_events ev
       JOIN unnest($1::bigint[], $2::text[]) AS k(execution_pk, event_id) USING (execution_pk, event_id)`,
      pairs,
      [(p) => p.executionPk, (p) => p.eventId],
    );
    return new Set(rows.map((r) => `${Number(r.execution_pk)}/${String(r.event_id)}`));
  }

  async append(tx: Queryable, events: Omit<LoggedEvent, "seq">[]): Promise<void> {
    await this.unnested(
      tx,
      "execution_events.append",
      `INSERT INTO execution_events (execution_pk, event_id, kind, source, node_id, payload)
       SELECT execution_pk, event_id, kind, source, node_id, payload
       FROM unnest($1::bigint[], $2::text[], $3::smallint[], $4::text[], $5::text[], $6::bytea[]) WITH ORDINALITY
         AS e(execution_pk, event_id, kind, source, node_id, payload, ord)
       ORDER BY ord`,
      events,
      [
        (e) => e.executionPk,
        (e) => e.eventId,
        (e) => e.kind,
        (e) => e.source,
        (e) => e.nodeId,
        (e) => buf(e.payload),
      ],
    );
  }

  async loadNodes(tx: Queryable, keys: NodeRowKey[]): Promise<Map<string, NodeState>> {
    const rows = await this.unnested(
      tx,
      "node_executions.load",
      `SELECT n.execution_pk, n.node_id, n.state, n.phase_version FROM node_executions n
       JOIN unnest($1::bigint[], $2::text[]) AS k(execution_pk, node_id) USING (execution_pk, node_id)`,
      keys,
      [(k) => k.executionPk, (k) => k.nodeId],
    );
    return new Map(rows.map((r) => [`${Number(r.execution_pk)}/${String(r.node_id)}`, nodeState(r)]));
  }

  async loadTasks(tx: Queryable, keys: TaskRowKey[]): Promise<Map<string, TaskExecution>> {
    const rows = await this.unnested(
      tx,
      "task_executions.load",
      `SELECT t.execution_pk, t.node_id, t.retry_attempt, t.state FROM task_executions t
       JOIN unnest($1::bigint[], $2::text[], $3::integer[]) AS k(execution_pk, node_id, retry_attempt)
         USING (execution_pk, node_id, retry_attempt)`,
      keys,
      [(k) => k.executionPk, (k) => k.nodeId, (k) => k.retryAttempt],
    );
    return new Map(
      rows.map((r) => [
        `${Number(r.execution_pk)}/${String(r.node_id)}/${Number(r.retry_attempt)}`,
        taskState(r),
      ]),
    );
  }

  async upsertNodes(tx: Queryable, nodes: { executionPk: number; state: NodeState }[]): Promise<void> {
    await this.unnested(
      tx,
      "node_executions.upsert",
      `INSERT INTO node_executions (execution_pk, node_id, state, phase, phase_version, parent_node_id, created_at)
       SELECT * FROM unnest($1::bigint[], $2::text[], $3::bytea[], $4::smallint[], $5::integer[], $6::text[], $7::timestamptz[])
       ON CONFLICT (execution_pk, node_id) DO UPDATE SET state = EXCLUDED.state, phase = EXCLUDED.phase,
         phase_version = EXCLUDED.phase_version, parent_node_id = EXCLUDED.parent_node_id`,
      nodes,
      [
        (n) => n.executionPk,
        (n) => n.state.node.id?.nodeId ?? "",
        (n) => buf(toBinary(NodeExecutionSchema, n.state.node)),
        (n) => n.state.node.closure?.phase ?? 0,
        (n) => n.state.phaseVersion,
        (n) => n.state.node.metadata?.parentNodeId ?? "",
        (n) => tsIso(n.state.node.closure?.createdAt),
      ],
    );
  }

  async upsertTasks(tx: Queryable, tasks: { executionPk: number; task: TaskExecution }[]): Promise<void> {
    await this.unnested(
      tx,
      "task_executions.upsert",
      `INSERT INTO task_executions (execution_pk, node_id, retry_attempt, state, phase, created_at)
       SELECT * FROM unnest($1::bigint[], $2::text[], $3::integer[], $4::bytea[], $5::smallint[], $6::timestamptz[])
       ON CONFLICT (execution_pk, node_id, retry_attempt) DO UPDATE SET state = EXCLUDED.state, phase = EXCLUDED.phase`,
      tasks,
      [
        (t) => t.executionPk,
        (t) => t.task.id?.nodeExecutionId?.nodeId ?? "",
        (t) => t.task.id?.retryAttempt ?? 0,
        (t) => buf(toBinary(TaskExecutionSchema, t.task)),
        (t) => t.task.closure?.phase ?? 0,
        (t) => tsIso(t.task.closure?.createdAt),
      ],
    );
  }

  async readLog(executionPk: number): Promise<LoggedEvent[]> {
    const res = await run(
      this.db,
      this.observe,
      "execution_events.read_log",
      "SELECT seq, execution_pk, event_id, kind, source, node_id, payload FROM execution_events WHERE execution_pk = $1 ORDER BY seq",
      [executionPk],
    );
    return res.rows.map((r) => ({
      seq: Number(r.seq),
      executionPk: Number(r.execution_pk),
      eventId: String(r.event_id),
      kind: Number(r.kind),
      source: String(r.source),
      nodeId: typeof r.node_id === "string" ? r.node_id : "",
      payload: bytes(r.payload),
    }));
  }

  async listLog(executionPk: number, query: LogQuery, page: PageRequest): Promise<Page<LogEntry>> {
    const b = cursorBounds(page, query.after);
    // Positions number the whole log, so they are computed before the node filter; appends to
    // one execution are serialized by its row lock, so a position never changes once read.
    const res = await run(
      this.db,
      this.observe,
      "execution_events.list",
      `SELECT position, recorded_at, source, payload FROM (
         SELECT node_id, recorded_at, source, payload, row_number() OVER (ORDER BY seq) AS position
         FROM execution_events WHERE execution_pk = $1
       ) log
       WHERE position > $2 AND ($3 = '' OR node_id = $3)
       ORDER BY position LIMIT $4`,
      [executionPk, b.after, query.nodeId, b.limit + 1],
    );
    return toCursorPage(
      res.rows,
      b,
      (r) => Number(r.position),
      (r) => ({
        position: Number(r.position),
        recordedAt: date(r.recorded_at) ?? new Date(0),
        source: String(r.source),
        payload: bytes(r.payload),
      }),
    );
  }

  async backfillNodeIds(nodeOf: (payload: Uint8Array) => string, batch = 500): Promise<number> {
    const res = await run(
      this.db,
      this.observe,
      "execution_events.unknown_nodes",
      "SELECT seq, payload FROM execution_events WHERE node_id IS NULL ORDER BY seq LIMIT $1",
      [batch],
    );
    if (res.rows.length === 0) return 0;
    await run(
      this.db,
      this.observe,
      "execution_events.backfill_nodes",
      `UPDATE execution_events e SET node_id = k.node_id
       FROM unnest($1::bigint[], $2::text[]) AS k(seq, node_id) WHERE e.seq = k.seq`,
      [res.rows.map((r) => Number(r.seq)), res.rows.map((r) => nodeOf(bytes(r.payload)))],
    );
    return res.rows.length;
  }

  async getNode(executionPk: number, nodeId: string): Promise<NodeState | undefined> {
    return this.first(
      "node_executions.get",
      "SELECT state, phase_version FROM node_executions WHERE execution_pk = $1 AND node_id = $2",
      [executionPk, nodeId],
      nodeState,
    );
  }

  async listNodes(executionPk: number, query: NodeListQuery, page: PageRequest): Promise<Page<NodeState>> {
    const { parentNodeId, phases, sortKey, ascending } = query;
    const dir = ascending ? "ASC" : "DESC";
    const order =
      sortKey === "node_id"
        ? `node_id ${dir}`
        : sortKey === "phase"
          ? `phase ${dir}, node_id`
          : `created_at ${dir}, node_id`;
    return this.paged(
      "node_executions.list",
      `SELECT state, phase_version FROM node_executions WHERE execution_pk = $1 AND parent_node_id = $2
         AND (cardinality($3::smallint[]) = 0 OR phase = ANY($3::smallint[]))
       ORDER BY ${order}`,
      [executionPk, parentNodeId, phases],
      page,
      nodeState,
    );
  }

  async allOfExecution(executionPk: number): Promise<{ nodes: NodeState[]; tasks: TaskExecution[] }> {
    const where = "WHERE execution_pk = $1 ORDER BY node_id";
    return {
      nodes: await this.all(
        "node_executions.all",
        `SELECT state, phase_version FROM node_executions ${where}`,
        [executionPk],
        nodeState,
      ),
      tasks: await this.all(
        "task_executions.all",
        `SELECT state FROM task_executions ${where}, retry_attempt`,
        [executionPk],
        taskState,
      ),
    };
  }

  async getTask(
    executionPk: number,
    nodeId: string,
    retryAttempt: number,
  ): Promise<TaskExecution | undefined> {
    return this.first(
      "task_executions.get",
      `${PRICED_TASKS} WHERE t.execution_pk = $1 AND t.node_id = $2 AND t.retry_attempt = $3`,
      [executionPk, nodeId, retryAttempt],
      pricedTaskState,
    );
  }

  async listTasks(
    executionPk: number,
    nodeId: string,
    sortKey: string,
    ascending: boolean,
    page: PageRequest,
  ): Promise<Page<TaskExecution>> {
    const dir = ascending ? "ASC" : "DESC";
    const order = sortKey === "created_at" ? `t.created_at ${dir}, retry_attempt` : `retry_attempt ${dir}`;
    return this.paged(
      "task_executions.list",
      `${PRICED_TASKS} WHERE t.execution_pk = $1 AND t.node_id = $2 ORDER BY ${order}`,
      [executionPk, nodeId],
      page,
      pricedTaskState,
    );
  }
}

function tsIso(ts: { seconds: bigint; nanos: number } | undefined): string {
  if (!ts) return new Date(0).toISOString();
  return new Date(Number(ts.seconds) * 1000 + Math.floor(ts.nanos / 1e6)).toISOString();
}
