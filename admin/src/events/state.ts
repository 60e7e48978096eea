import { create, toBinary } from "@bufbuild/protobuf";
import {
  durationFromMs,
  timestampDate,
  timestampFromDate,
  type Duration,
  type Timestamp,
} from "@bufbuild/protobuf/wkt";
import {
  ExecutionErrorSchema,
  ExternalResourceRequestSchema,
  LiteralMapSchema,
  NodeExecutionClosureSchema,
  NodeExecutionMetadataSchema,
  NodeExecutionSchema,
  NodeExecution_Phase,
  ResourceQuantitiesSchema,
  ResourcesSchema,
  TaskExecutionClosureSchema,
  TaskExecutionSchema,
  TaskExecution_Phase,
  WorkflowExecution_Phase,
  type NodeExecution,
  type NodeExecutionEvent,
  type TaskExecution,
  type TaskExecutionEvent,
  type WorkflowExecutionEvent,
} from "@flotilla/proto";
import { EntityKind, isTerminalPhase, phaseRank } from "./phases.js";

/**
 * The pure reducers that turn accepted events into stored state. Ingestion and replay both use
 * them, so replaying the event log reproduces exactly what ingestion stored. Every timestamp
 * comes from the events (never from the clock).
 */

/**
 * Records on a node or task closure when it started (its first phase ranked at or past
 * `running`) and, once a terminal phase arrives, how long it ran. Mutates `closure`.
 */
function stampRunTimes(
  closure: { startedAt?: Timestamp | undefined; duration?: Duration | undefined },
  kind: EntityKind,
  phase: number,
  running: number,
  at: Timestamp,
): void {
  if (!closure.startedAt && phaseRank(kind, phase) >= phaseRank(kind, running)) closure.startedAt = at;
  if (isTerminalPhase(kind, phase) && closure.startedAt) {
    closure.duration = durationFromMs(
      timestampDate(at).getTime() - timestampDate(closure.startedAt).getTime(),
    );
  }
}

/** Producer name of events admin itself appends to the log (creation, termination). */
export const ADMIN_PRODUCER = "admin";

/** The event-derived state of a workflow execution (the mutable columns of `executions`). */
export interface ExecutionState {
  phase: WorkflowExecution_Phase;
  phaseVersion: number;
  startedAt: Date | undefined;
  stoppedAt: Date | undefined;
  updatedAt: Date;
  outputsUri: string;
  /** Serialized LiteralMap when outputs came inline. */
  outputData: Uint8Array | undefined;
  /** Serialized ExecutionError. */
  error: Uint8Array | undefined;
  reason: string;
  message: string;
  abortCause: string;
}

/** A node execution plus its phase version (not part of the API message). */
export interface NodeState {
  node: NodeExecution;
  phaseVersion: number;
}

/** Milliseconds-precision Date of an event timestamp (what timestamptz columns keep). */
export function eventDate(ts: Timestamp | undefined): Date {
  if (!ts) throw new TypeError("event occurred_at is not set");
  return new Date(timestampDate(ts).getTime());
}

/** Applies an accepted workflow event to the execution state (undefined before the first event). Pure. */
export function applyWorkflowEvent(
  state: ExecutionState | undefined,
  ev: WorkflowExecutionEvent,
): ExecutionState {
  const at = eventDate(ev.occurredAt);
  const running =
    phaseRank(EntityKind.Workflow, ev.phase) >=
    phaseRank(EntityKind.Workflow, WorkflowExecution_Phase.RUNNING);
  const aborting =
    ev.phase === WorkflowExecution_Phase.ABORTING || ev.phase === WorkflowExecution_Phase.ABORTED;
  const next: ExecutionState = {
    phase: ev.phase,
    phaseVersion: ev.phaseVersion,
    startedAt:
      state?.startedAt ??
      (running &&
      ev.phase !== WorkflowExecution_Phase.ABORTING &&
      ev.phase !== WorkflowExecution_Phase.ABORTED
        ? at
        : undefined),
    stoppedAt: isTerminalPhase(EntityKind.Workflow, ev.phase) ? at : undefined,
    updatedAt: at,
    outputsUri: state?.outputsUri ?? "",
    outputData: state?.outputData,
    error: state?.error,
    reason: ev.reason,
    message: ev.message,
    abortCause: state?.abortCause ?? "",
  };
  const result = ev.outputResult;
  if (result.case === "outputUri") next.outputsUri = result.value;
  if (result.case === "outputData") next.outputData = toBinary(LiteralMapSchema, result.value);
  if (result.case === "error") next.error = toBinary(ExecutionErrorSchema, result.value);
  if (aborting && ev.producerCluster === ADMIN_PRODUCER && ev.message && !next.abortCause)
    next.abortCause = ev.message;
  return next;
}

/** A node state before its first event (to be filled by {@link applyNodeEventInPlace}). */
export function emptyNodeState(): NodeState {
  return { node: create(NodeExecutionSchema, {}), phaseVersion: 0 };
}

/** A task attempt state before its first event (to be filled by {@link applyTaskEventInPlace}). */
export function emptyTaskState(): TaskExecution {
  return create(TaskExecutionSchema, {});
}

/** Applies an accepted node event to the node state (undefined before its first event). Pure. */
export function applyNodeEvent(state: NodeState | undefined, ev: NodeExecutionEvent): NodeState {
  // structuredClone copies these plain-object messages much faster than reflective clone().
  const next: NodeState = state
    ? { node: structuredClone(state.node), phaseVersion: state.phaseVersion }
    : { node: create(NodeExecutionSchema, {}), phaseVersion: 0 };
  applyNodeEventInPlace(next, ev);
  return next;
}

/**
 * Applies an accepted node event by mutating `state` (which the caller owns; events are not
 * copied, so their sub-messages become shared with the state and must not be mutated later).
 */
export function applyNodeEventInPlace(state: NodeState, ev: NodeExecutionEvent): void {
  const at = ev.occurredAt!;
  const node = state.node;
  if (ev.id) node.id = ev.id;
  if (ev.inputUri) node.inputUri = ev.inputUri;
  const closure = node.closure ?? create(NodeExecutionClosureSchema, { createdAt: at });
  closure.phase = ev.phase;
  closure.updatedAt = at;
  stampRunTimes(closure, EntityKind.Node, ev.phase, NodeExecution_Phase.RUNNING, at);
  if (ev.outputResult.case === "outputUri") closure.outputsUri = ev.outputResult.value;
  if (ev.outputResult.case === "error") closure.error = ev.outputResult.value;
  if (ev.childExecutionId) closure.childExecutionId = ev.childExecutionId;
  closure.message = ev.message;
  node.closure = closure;
  const metadata = node.metadata ?? create(NodeExecutionMetadataSchema, {});
  if (ev.parentNodeId) metadata.parentNodeId = ev.parentNodeId;
  if (ev.nodeName) metadata.nodeName = ev.nodeName;
  node.metadata = metadata;
  state.phaseVersion = ev.phaseVersion;
}

/** Applies an accepted task event to the attempt state (undefined before its first event). Pure. */
export function applyTaskEvent(state: TaskExecution | undefined, ev: TaskExecutionEvent): TaskExecution {
  const task = state ? structuredClone(state) : create(TaskExecutionSchema, {});
  applyTaskEventInPlace(task, ev);
  return task;
}

/** Applies an accepted task event by mutating `task` (owned by the caller; see applyNodeEventInPlace). */
export function applyTaskEventInPlace(task: TaskExecution, ev: TaskExecutionEvent): void {
  const at = ev.occurredAt!;
  if (ev.id) task.id = ev.id;
  if (ev.inputUri) task.inputUri = ev.inputUri;
  const closure = task.closure ?? create(TaskExecutionClosureSchema, { createdAt: at });
  closure.phase = ev.phase;
  closure.phaseVersion = ev.phaseVersion;
  closure.updatedAt = at;
  stampRunTimes(closure, EntityKind.Task, ev.phase, TaskExecution_Phase.RUNNING, at);
  if (ev.outputResult.case === "outputUri") closure.outputsUri = ev.outputResult.value;
  if (ev.outputResult.case === "error") closure.error = ev.outputResult.value;
  if (ev.logs.length > 0) closure.logs = ev.logs;
  if (ev.taskType) closure.taskType = ev.taskType;
  if (ev.podName) closure.podName = ev.podName;
  closure.reason = ev.reason;
  const req = ev.requestedResources;
  if (req) {
    closure.resources = create(ResourcesSchema, {
      requests: create(ResourceQuantitiesSchema, {
        cpu: String(req.cpuCores),
        memory: String(req.memoryBytes),
        gpu: String(req.gpus),
      }),
    });
  }
  if (ev.externalResources.length > 0) {
    closure.externalResources = ev.externalResources.map((r) =>
      create(ExternalResourceRequestSchema, { resource: r.resource, tokens: r.tokens }),
    );
  }
  task.closure = closure;
}

/**
 * Records on a node the task its attempts run (from an accepted task event), once. Mutates
 * `state`; returns whether it changed. Applied identically by ingestion and replay.
 */
export function linkTaskToNode(state: NodeState, ev: TaskExecutionEvent): boolean {
  const taskId = ev.id?.taskId;
  const metadata = state.node.metadata;
  if (!taskId || !metadata || metadata.taskId) return false;
  metadata.taskId = taskId;
  return true;
}

/** Marks a node as having sub-nodes (a child node event named it as parent). Returns whether it changed. */
export function markParentNode(state: NodeState): boolean {
  const metadata = state.node.metadata;
  if (!metadata || metadata.isParentNode) return false;
  metadata.isParentNode = true;
  return true;
}

/** Converts a Date to a proto Timestamp (helper for building admin events). */
export function toTimestamp(d: Date): Timestamp {
  return timestampFromDate(d);
}
