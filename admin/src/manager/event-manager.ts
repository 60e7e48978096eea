import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { Database } from "@flotilla/db";
import { activeSpanContext, contextFromCarrier, isTracing, recordError, startSpan } from "@flotilla/runtime";
import { ADMIN_TRACER } from "../tracing.js";
import {
  EventIncompatibleClusterErrorSchema,
  EventNotFoundErrorSchema,
  EventPhaseRegressionErrorSchema,
  EventPhaseRegressionError_EntityKind,
  EventResultSchema,
  EventResult_Outcome,
  EventSchema,
  EventValidationErrorSchema,
  NodeExecution_PhaseSchema,
  TaskExecution_PhaseSchema,
  WorkflowExecutionEventSchema,
  WorkflowExecution_PhaseSchema,
  type Event,
  type EventResult,
  type TaskExecution,
  TaskExecution_Phase,
  WorkflowExecution_Phase,
} from "@flotilla/proto";
import { ExecutionNotFoundError } from "../errors.js";
import { decideTransition, EntityKind, isTerminalPhase, type PhaseState } from "../events/phases.js";
import {
  ADMIN_PRODUCER,
  applyNodeEventInPlace,
  applyTaskEventInPlace,
  emptyNodeState,
  emptyTaskState,
  linkTaskToNode,
  markParentNode,
  applyWorkflowEvent,
  toTimestamp,
  type ExecutionState,
  type NodeState,
} from "../events/state.js";
import { EventKindCode, isProblem, validateEvent, type ValidEvent } from "../events/validate-event.js";
import type { AdminMetrics } from "../metrics.js";
import { messagesForPhaseChange } from "../notifications/rules.js";
import type { EventRepository, LoggedEvent } from "../repository/event-repository.js";
import type { ExecutionRecord, ExecutionRepository } from "../repository/execution-repository.js";
import type { NotificationRepository } from "../repository/notification-repository.js";
import type { AttemptCostRecord } from "../repository/cost-repository.js";
import type { CostManager, FinishedAttempt } from "./cost-manager.js";
import type { ExecutionKey } from "./placement.js";

/** Most events one IngestEvents batch may carry. */
export const MAX_EVENT_BATCH = 1000;

/** Dependencies of {@link EventManager}. */
export interface EventManagerDeps {
  db: Database;
  executions: ExecutionRepository;
  events: EventRepository;
  /**
   * The notification outbox: when an accepted workflow event makes an execution terminal, the
   * messages of its notifications are written here in the same transaction.
   */
  outbox?: NotificationRepository;
  metrics?: AdminMetrics;
  /** Prices attempts that reach a terminal phase (in the ingesting transaction); none: not priced. */
  costs?: CostManager;
}

/** The state replay rebuilds (and ingestion stores) for one execution. */
export interface ExecutionSnapshot {
  execution: ExecutionState;
  /** Node executions sorted by node id. */
  nodes: NodeState[];
  /** Task executions sorted by node id, then attempt. */
  tasks: TaskExecution[];
}

const kindName = {
  [EventKindCode.Workflow]: "workflow",
  [EventKindCode.Node]: "node",
  [EventKindCode.Task]: "task",
} as const;
const entityOf = {
  [EventKindCode.Workflow]: EntityKind.Workflow,
  [EventKindCode.Node]: EntityKind.Node,
  [EventKindCode.Task]: EntityKind.Task,
} as const;
const regressionEntity = {
  [EventKindCode.Workflow]: EventPhaseRegressionError_EntityKind.WORKFLOW,
  [EventKindCode.Node]: EventPhaseRegressionError_EntityKind.NODE,
  [EventKindCode.Task]: EventPhaseRegressionError_EntityKind.TASK,
} as const;

function phaseName(kind: ValidEvent["kind"], phase: number): string {
  const schema =
    kind === EventKindCode.Workflow
      ? WorkflowExecution_PhaseSchema
      : kind === EventKindCode.Node
        ? NodeExecution_PhaseSchema
        : TaskExecution_PhaseSchema;
  return schema.values.find((v) => v.number === phase)?.name ?? String(phase);
}

const execKey = (k: ExecutionKey) => `${k.project}/${k.domain}/${k.name}`;

interface Pending {
  index: number;
  event: Event;
  valid: ValidEvent;
}

/** An execution whose workflow phase became terminal in an ingested batch. */
interface Finished {
  record: ExecutionRecord;
  state: ExecutionState;
}

/**
 * Ingests execution events: idempotent by event id, only legal phase transitions, the producer
 * must be the execution's cluster, every accepted event appended to the log in the same
 * transaction as the state it produced. Also rebuilds an execution's state from its log.
 */
export class EventManager {
  constructor(private readonly deps: EventManagerDeps) {}

  /**
   * Applies a batch from the propeller of `producerCluster`. Events are applied in order and
   * independently: each gets one result (accepted, duplicate, or rejected with a typed detail).
   * One transaction and a constant number of statements per batch. Returns the results in
   * request order. Side effects: updates executions, node and task executions, appends the log.
   */
  async ingest(producerCluster: string, events: Event[]): Promise<EventResult[]> {
    const traced = isTracing() ? startIngestSpans(events) : undefined;
    try {
      const results = await this.ingestBatch(producerCluster, events);
      traced?.end(results);
      return results;
    } catch (err) {
      traced?.fail(err);
      throw err;
    }
  }

  private async ingestBatch(producerCluster: string, events: Event[]): Promise<EventResult[]> {
    const results: EventResult[] = new Array<EventResult>(events.length);
    const pending: Pending[] = [];
    for (const [index, event] of events.entries()) {
      const valid = validateEvent(event);
      if (isProblem(valid)) {
        results[index] = this.rejected(index, "InvalidArgument", `${valid.field}: ${valid.description}`, {
          case: "validation",
          value: create(EventValidationErrorSchema, valid),
        });
      } else if (valid.producerCluster !== producerCluster) {
        results[index] = this.rejected(
          index,
          "IncompatibleCluster",
          `event producer_cluster ${valid.producerCluster} differs from the batch producer ${producerCluster}`,
          {
            case: "incompatibleCluster",
            value: create(EventIncompatibleClusterErrorSchema, {
              expectedCluster: producerCluster,
              actualCluster: valid.producerCluster,
            }),
          },
        );
      } else {
        pending.push({ index, event, valid });
      }
    }
    if (pending.length > 0) {
      const { results: applied, priced } = await this.apply(pending, true);
      for (const r of applied) results[r.index] = r;
      this.deps.costs?.count(priced);
    }
    const m = this.deps.metrics;
    if (m) {
      m.eventBatchSize.observe(events.length);
      const counts = new Map<string, { kind: string; outcome: string; n: number }>();
      for (const [i, r] of results.entries()) {
        const e = events[i].event.case;
        const kind =
          e === "workflowEvent"
            ? "workflow"
            : e === "nodeEvent"
              ? "node"
              : e === "taskEvent"
                ? "task"
                : "unknown";
        const outcome =
          r.outcome === EventResult_Outcome.ACCEPTED
            ? "accepted"
            : r.outcome === EventResult_Outcome.DUPLICATE
              ? "duplicate"
              : "rejected";
        const entry = counts.get(`${kind}/${outcome}`) ?? { kind, outcome, n: 0 };
        entry.n++;
        counts.set(`${kind}/${outcome}`, entry);
      }
      for (const { kind, outcome, n } of counts.values()) m.eventsIngested.inc({ kind, outcome }, n);
    }
    return results;
  }

  /**
   * Records a workflow phase change decided by admin itself (termination) through the same rules
   * and log as propeller events. Returns the resulting state, or throws
   * {@link ExecutionNotFoundError}; returns undefined when the transition is not legal any more
   * (e.g. the execution finished meanwhile).
   */
  async recordAdminWorkflowEvent(
    key: ExecutionKey,
    eventId: string,
    phase: WorkflowExecution_Phase,
    reason: string,
    message: string,
    at: Date = new Date(),
  ): Promise<ExecutionState | undefined> {
    const current = await this.deps.executions.get(key);
    if (!current) throw new ExecutionNotFoundError(execKey(key));
    const event = create(EventSchema, {
      event: {
        case: "workflowEvent",
        value: create(WorkflowExecutionEventSchema, {
          eventId,
          producerCluster: ADMIN_PRODUCER,
          executionId: key,
          phase,
          phaseVersion: current.state.phaseVersion,
          occurredAt: toTimestamp(at),
          reason,
          message,
        }),
      },
    });
    const valid = validateEvent(event);
    if (isProblem(valid)) throw new Error(`admin event invalid: ${valid.field}: ${valid.description}`);
    const {
      results: [result],
    } = await this.apply([{ index: 0, event, valid }], false);
    if (result?.outcome === EventResult_Outcome.REJECTED) return undefined;
    return (await this.deps.executions.get(key))?.state;
  }

  private rejected(
    index: number,
    reason: string,
    message: string,
    detail: EventResult["detail"],
  ): EventResult {
    return create(EventResultSchema, {
      index,
      outcome: EventResult_Outcome.REJECTED,
      reason,
      message,
      detail,
    });
  }

  /**
   * Applies validated events in one transaction. Returns their results and the attempts priced
   * (stored in the same transaction; the caller counts them once it committed).
   */
  private async apply(
    pending: Pending[],
    checkCluster: boolean,
  ): Promise<{ results: EventResult[]; priced: AttemptCostRecord[] }> {
    const { db, executions, events, costs } = this.deps;
    const finished: Finished[] = [];
    const attemptsEnded: Array<{ record: ExecutionRecord; phase: TaskExecution_Phase }> = [];
    const outcome = await db.transaction(async (tx) => {
      finished.length = 0;
      attemptsEnded.length = 0;
      const attemptsToPrice: FinishedAttempt[] = [];
      const keys = new Map<string, ExecutionKey>();
      for (const p of pending) keys.set(execKey(p.valid.execution), p.valid.execution);
      const rows = await executions.lockMany(tx, [...keys.values()]);
      const byKey = new Map<string, ExecutionRecord>(rows.map((r) => [execKey(r.key), r]));
      const known = pending.filter((p) => byKey.has(execKey(p.valid.execution)));
      const pkOf = (p: Pending) => byKey.get(execKey(p.valid.execution))!.pk;
      const existing = await events.existingEventIds(
        tx,
        known.map((p) => ({ executionPk: pkOf(p), eventId: p.valid.eventId })),
      );
      // Nodes named by node events, their parents, and the nodes of task events (which learn
      // their task id from them).
      const nodeKeys = new Map<string, { executionPk: number; nodeId: string }>();
      for (const p of known) {
        const e = p.event.event;
        const ids =
          e.case === "nodeEvent" && e.value.parentNodeId
            ? [p.valid.nodeId, e.value.parentNodeId]
            : [p.valid.nodeId];
        for (const nodeId of ids)
          if (nodeId) nodeKeys.set(`${pkOf(p)}/${nodeId}`, { executionPk: pkOf(p), nodeId });
      }
      const nodes = await events.loadNodes(tx, [...nodeKeys.values()]);
      const tasks = await events.loadTasks(
        tx,
        known
          .filter((p) => p.valid.kind === EventKindCode.Task)
          .map((p) => ({ executionPk: pkOf(p), nodeId: p.valid.nodeId, retryAttempt: p.valid.retryAttempt })),
      );
      const states = new Map<number, ExecutionState>(rows.map((r) => [r.pk, r.state]));
      const dirtyExec = new Set<number>();
      const dirtyNodes = new Map<string, { executionPk: number; state: NodeState }>();
      const dirtyTasks = new Map<string, { executionPk: number; task: TaskExecution }>();
      const log: Omit<LoggedEvent, "seq">[] = [];
      const results: EventResult[] = [];

      for (const p of pending) {
        const v = p.valid;
        const row = byKey.get(execKey(v.execution));
        if (!row) {
          results.push(
            this.rejected(p.index, "ExecutionNotFound", `execution ${execKey(v.execution)} does not exist`, {
              case: "notFound",
              value: create(EventNotFoundErrorSchema, { missing: `execution ${execKey(v.execution)}` }),
            }),
          );
          continue;
        }
        if (checkCluster && row.cluster !== v.producerCluster) {
          results.push(
            this.rejected(
              p.index,
              "IncompatibleCluster",
              row.cluster === null
                ? `execution ${execKey(v.execution)} is not placed on any cluster yet`
                : `execution ${execKey(v.execution)} runs on cluster ${row.cluster}, not ${v.producerCluster}`,
              {
                case: "incompatibleCluster",
                value: create(EventIncompatibleClusterErrorSchema, {
                  expectedCluster: row.cluster ?? "",
                  actualCluster: v.producerCluster,
                }),
              },
            ),
          );
          continue;
        }
        const dedupeKey = `${row.pk}/${v.eventId}`;
        if (existing.has(dedupeKey)) {
          results.push(create(EventResultSchema, { index: p.index, outcome: EventResult_Outcome.DUPLICATE }));
          continue;
        }
        let current: PhaseState | undefined;
        const nodeKey = `${row.pk}/${v.nodeId}`;
        const taskKey = `${row.pk}/${v.nodeId}/${v.retryAttempt}`;
        if (v.kind === EventKindCode.Workflow) current = states.get(row.pk);
        else if (v.kind === EventKindCode.Node) {
          const n = nodes.get(nodeKey);
          current = n ? { phase: n.node.closure?.phase ?? 0, phaseVersion: n.phaseVersion } : undefined;
        } else {
          const t = tasks.get(taskKey);
          current = t
            ? { phase: t.closure?.phase ?? 0, phaseVersion: t.closure?.phaseVersion ?? 0 }
            : undefined;
        }
        const decision = decideTransition(entityOf[v.kind], current, v);
        if (!decision.legal) {
          const from = current ? phaseName(v.kind, current.phase) : "none";
          results.push(
            this.rejected(
              p.index,
              decision.refusal,
              `${kindName[v.kind]} ${execKey(v.execution)}${v.nodeId ? `/${v.nodeId}` : ""}: ${from} (v${current?.phaseVersion ?? 0}) → ` +
                `${phaseName(v.kind, v.phase)} (v${v.phaseVersion}) is not a legal transition`,
              {
                case: "phaseRegression",
                value: create(EventPhaseRegressionErrorSchema, {
                  currentPhase: from,
                  eventPhase: phaseName(v.kind, v.phase),
                  currentPhaseVersion: current?.phaseVersion ?? 0,
                  eventPhaseVersion: v.phaseVersion,
                  alreadyTerminal: current !== undefined && isTerminalPhase(entityOf[v.kind], current.phase),
                  entity: regressionEntity[v.kind],
                }),
              },
            ),
          );
          continue;
        }
        const e = p.event.event;
        if (e.case === "workflowEvent") {
          const before = states.get(row.pk);
          const after = applyWorkflowEvent(before, e.value);
          states.set(row.pk, after);
          dirtyExec.add(row.pk);
          if (
            isTerminalPhase(EntityKind.Workflow, after.phase) &&
            (before === undefined || !isTerminalPhase(EntityKind.Workflow, before.phase))
          )
            finished.push({ record: row, state: after });
        } else if (e.case === "nodeEvent") {
          // States loaded in this transaction belong to it: mutate them instead of copying.
          const state = getOrSet(nodes, nodeKey, emptyNodeState);
          applyNodeEventInPlace(state, e.value);
          dirtyNodes.set(nodeKey, { executionPk: row.pk, state });
          const parentKey = `${row.pk}/${e.value.parentNodeId}`;
          const parent = e.value.parentNodeId ? nodes.get(parentKey) : undefined;
          if (parent && markParentNode(parent))
            dirtyNodes.set(parentKey, { executionPk: row.pk, state: parent });
        } else if (e.case === "taskEvent") {
          const task = getOrSet(tasks, taskKey, emptyTaskState);
          const wasTerminal = isTerminalPhase(EntityKind.Task, task.closure?.phase ?? 0);
          applyTaskEventInPlace(task, e.value);
          const phase = task.closure?.phase ?? 0;
          if (!wasTerminal && isTerminalPhase(EntityKind.Task, phase))
            attemptsEnded.push({ record: row, phase });
          dirtyTasks.set(taskKey, { executionPk: row.pk, task });
          const node = nodes.get(nodeKey);
          if (node && linkTaskToNode(node, e.value))
            dirtyNodes.set(nodeKey, { executionPk: row.pk, state: node });
          if (isTerminalPhase(EntityKind.Task, e.value.phase))
            attemptsToPrice.push({
              executionPk: row.pk,
              project: row.key.project,
              domain: row.key.domain,
              executionName: row.key.name,
              workflow: row.workflow.name,
              cluster: v.producerCluster,
              task,
              event: e.value,
            });
          // A running attempt's cost series exists (at 0) before its first cost is counted.
          else if (e.value.phase === TaskExecution_Phase.RUNNING)
            costs?.touch({ project: row.key.project, domain: row.key.domain, cluster: v.producerCluster });
        }
        existing.add(dedupeKey);
        log.push({
          executionPk: row.pk,
          eventId: v.eventId,
          kind: v.kind,
          source: v.producerCluster,
          nodeId: v.nodeId,
          payload: toBinary(EventSchema, p.event),
        });
        results.push(create(EventResultSchema, { index: p.index, outcome: EventResult_Outcome.ACCEPTED }));
      }

      await events.append(tx, log);
      await events.upsertNodes(tx, [...dirtyNodes.values()]);
      await events.upsertTasks(tx, [...dirtyTasks.values()]);
      await executions.updateStates(
        tx,
        [...dirtyExec].map((pk) => ({ pk, state: states.get(pk)! })),
      );
      // Notifications are written with the phase change that triggers them: both or neither.
      if (this.deps.outbox) {
        const messages = rows.flatMap((r) =>
          dirtyExec.has(r.pk) ? messagesForPhaseChange(r, r.state.phase, states.get(r.pk)!) : [],
        );
        if (messages.length > 0) await this.deps.outbox.enqueue(tx, messages);
      }
      const priced = costs ? await costs.price(tx, attemptsToPrice) : [];
      return { results, priced };
    });
    this.countFinished(finished, attemptsEnded);
    return outcome;
  }

  /**
   * Counts executions that reached a terminal phase with their creation-to-end duration, and
   * task attempts that ended (RETRYABLE_FAILED ones are retries).
   */
  private countFinished(
    finished: Finished[],
    attemptsEnded: Array<{ record: ExecutionRecord; phase: TaskExecution_Phase }>,
  ): void {
    const m = this.deps.metrics;
    if (!m) return;
    for (const { record, phase } of attemptsEnded)
      m.taskAttemptsFinished.inc({
        project: record.key.project,
        domain: record.key.domain,
        phase: TaskExecution_Phase[phase] ?? String(phase),
      });
    for (const { record, state } of finished) {
      const labels = {
        project: record.key.project,
        domain: record.key.domain,
        phase: WorkflowExecution_Phase[state.phase] ?? String(state.phase),
      };
      m.executionsFinished.inc(labels);
      const end = state.stoppedAt ?? state.updatedAt;
      m.executionDuration.observe(labels, Math.max(0, (end.getTime() - record.createdAt.getTime()) / 1000));
    }
  }

  /**
   * Rebuilds an execution's state by folding its event log through the same reducers ingestion
   * uses. Returns the snapshot; throws {@link ExecutionNotFoundError}. Reads only.
   */
  async replay(key: ExecutionKey): Promise<ExecutionSnapshot> {
    const row = await this.deps.executions.get(key);
    if (!row) throw new ExecutionNotFoundError(execKey(key));
    const log = await this.deps.events.readLog(row.pk);
    return replayLog(log.map((l) => fromBinary(EventSchema, l.payload)));
  }

  /**
   * Records the node id of events logged before the log kept it (migration 0100), batch by
   * batch, reading it from each payload as ingestion would. Returns how many were filled.
   * Side effects: updates `execution_events`.
   */
  async backfillLogNodeIds(): Promise<number> {
    let filled = 0;
    for (;;) {
      const n = await this.deps.events.backfillNodeIds(nodeOfPayload);
      if (n === 0) return filled;
      filled += n;
    }
  }

  /** Reads the state ingestion stored for an execution, in the shape {@link replay} returns. */
  async stored(key: ExecutionKey): Promise<ExecutionSnapshot> {
    const row = await this.deps.executions.get(key);
    if (!row) throw new ExecutionNotFoundError(execKey(key));
    return {
      execution: row.state,
      ...(await this.deps.events.allOfExecution(row.pk)),
    };
  }
}

/**
 * Folds logged events (already accepted, in log order) into an execution snapshot. Pure.
 * Throws when the log does not start with a workflow event (every log starts with "created").
 */
export function replayLog(events: Event[]): ExecutionSnapshot {
  let execution: ExecutionState | undefined;
  const nodes = new Map<string, NodeState>();
  const tasks = new Map<string, TaskExecution>();
  for (const ev of events) {
    const e = ev.event;
    if (e.case === "workflowEvent") execution = applyWorkflowEvent(execution, e.value);
    else if (e.case === "nodeEvent") {
      const id = e.value.id!.nodeId;
      const state = nodes.get(id) ?? emptyNodeState();
      applyNodeEventInPlace(state, e.value);
      nodes.set(id, state);
      const parent = e.value.parentNodeId ? nodes.get(e.value.parentNodeId) : undefined;
      if (parent) markParentNode(parent);
    } else if (e.case === "taskEvent") {
      const id = e.value.id!;
      const key = `${id.nodeExecutionId!.nodeId}\u0000${String(id.retryAttempt).padStart(10, "0")}`;
      const task = tasks.get(key) ?? emptyTaskState();
      applyTaskEventInPlace(task, e.value);
      tasks.set(key, task);
      const node = nodes.get(id.nodeExecutionId!.nodeId);
      if (node) linkTaskToNode(node, e.value);
    }
  }
  if (!execution) throw new Error("event log has no workflow event (the creation event is missing)");
  const sortedKeys = <V>(m: Map<string, V>) => [...m.keys()].sort().map((k) => m.get(k)!);
  return { execution, nodes: sortedKeys(nodes), tasks: sortedKeys(tasks) };
}

/** The node a logged event is about ("" for workflow events and unreadable payloads). */
function nodeOfPayload(payload: Uint8Array): string {
  const valid = validateEvent(fromBinary(EventSchema, payload));
  return isProblem(valid) ? "" : valid.nodeId;
}

/** The value of `key` in `map`, after setting it to `make()` when absent. */
function getOrSet<K, V>(map: Map<K, V>, key: K, make: () => V): V {
  const found = map.get(key);
  if (found !== undefined) return found;
  const made = make();
  map.set(key, made);
  return made;
}

/** The per-trace ingestion spans of one batch: ended with the batch's results. */
interface IngestSpans {
  end(results: EventResult[]): void;
  fail(err: unknown): void;
}

/**
 * Starts one `ingest events` span per trace the batch's events name (their `trace_context`, set
 * by the propeller round that produced them), as a child of that round's span and linked to the
 * IngestEvents RPC span, so each execution's trace shows when its events were recorded even
 * though one batch mixes executions. Events without a trace context get no span.
 */
function startIngestSpans(events: Event[]): IngestSpans {
  const groups = new Map<string, { carrier: Record<string, string>; indexes: number[] }>();
  for (const [index, event] of events.entries()) {
    const traceparent = event.traceContext.traceparent;
    if (!traceparent) continue;
    const group = groups.get(traceparent) ?? { carrier: event.traceContext, indexes: [] };
    group.indexes.push(index);
    groups.set(traceparent, group);
  }
  const batch = activeSpanContext();
  const spans = [...groups.values()].map(({ carrier, indexes }) => {
    const span = startSpan(ADMIN_TRACER, "ingest events", {
      attributes: { "flotilla.events": indexes.length, "flotilla.events.batch": events.length },
      ...(batch ? { links: [{ context: batch }] } : {}),
      parent: contextFromCarrier(carrier),
    });
    return { span, indexes };
  });
  return {
    end(results) {
      for (const { span, indexes } of spans) {
        const outcomes = { accepted: 0, duplicate: 0, rejected: 0 };
        const phases = new Set<string>();
        for (const i of indexes) {
          const r = results[i];
          if (r?.outcome === EventResult_Outcome.ACCEPTED) outcomes.accepted++;
          else if (r?.outcome === EventResult_Outcome.DUPLICATE) outcomes.duplicate++;
          else outcomes.rejected++;
          const e = events[i]?.event;
          if (e?.case === "workflowEvent")
            phases.add(WorkflowExecution_Phase[e.value.phase] ?? String(e.value.phase));
        }
        span.setAttributes({
          "flotilla.events.accepted": outcomes.accepted,
          "flotilla.events.duplicate": outcomes.duplicate,
          "flotilla.events.rejected": outcomes.rejected,
          ...(phases.size > 0 ? { "flotilla.workflow.phases": [...phases] } : {}),
        });
        span.end();
      }
    },
    fail(err) {
      for (const { span } of spans) {
        recordError(span, err);
        span.end();
      }
    },
  };
}
