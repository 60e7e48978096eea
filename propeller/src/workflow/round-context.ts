/**
 * The state one round works on: the execution (spec + graph), its mutable status, the cached
 * pods, the clock and the ports. Phase changes go through {@link RoundContext} so that every
 * change bumps its phase version and emits exactly one event.
 */
import { createHash } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { V1Pod } from "@kubernetes/client-node";
import {
  EventSchema,
  ExternalResourceHeldSchema,
  LiteralMapSchema,
  NodeExecutionEventSchema,
  NodeExecutionIdentifierSchema,
  NodeExecution_Phase,
  NodeStatusSchema,
  ResourceUsageSchema,
  TaskExecutionEventSchema,
  TaskExecutionIdentifierSchema,
  WorkflowExecutionEventSchema,
  type Event,
  type ExecutionError,
  type LiteralMap,
  type NodeStatus,
  type TaskExecution_Phase,
  type TaskTemplate,
  type WorkflowExecutionSpec,
  type WorkflowExecutionStatus,
  WorkflowExecution_Phase,
} from "@flotilla/proto";
import { BlobNotFoundError } from "@flotilla/common";
import type { WorkflowGraph } from "./graph.js";
import { identifierKey } from "./graph.js";
import { isTerminalNodePhase, isTerminalWorkflowPhase } from "./phases.js";
import type { ExecutorConfig, ExecutorPorts } from "./ports.js";
import type { AttemptLocations } from "../plugins/pod/pod-plugin.js";
import { quantityValue } from "./quantity.js";

/** The execution a round drives, as read from the (cached) CR. */
export interface ExecutionView {
  namespace: string;
  name: string;
  uid: string;
  spec: WorkflowExecutionSpec;
  graph: WorkflowGraph;
  /** Set when the CR is being deleted or admin asked for an abort: the cause shown to users. */
  abortCause?: string;
  /** W3C trace context of the execution, propagated to pods. */
  traceparent?: string;
}

/** Details that accompany a phase change. */
export interface PhaseDetails {
  reason?: string;
  message?: string;
  error?: ExecutionError;
  outputUri?: string;
}

const EVENT_ID_MAX = 128;

function eventId(...parts: (string | number)[]): string {
  const id = parts.join("/");
  if (id.length <= EVENT_ID_MAX) return id;
  return `${parts[0]}/${createHash("sha256").update(id).digest("hex")}`;
}

/** Mutable state of one round. */
export class RoundContext {
  /** Events produced by this round, in order. */
  readonly events: Event[] = [];
  /** Pods created by this round (names). */
  readonly createdPods: string[] = [];
  /** Earliest time (ms from now) the workflow should be looked at again without any event. */
  requeueAfterMs: number | undefined;
  private inputsPromise: Promise<LiteralMap> | undefined;
  private readonly outputs = new Map<string, Promise<LiteralMap>>();

  constructor(
    readonly execution: ExecutionView,
    readonly status: WorkflowExecutionStatus,
    readonly pods: ReadonlyMap<string, V1Pod>,
    readonly now: Date,
    readonly ports: ExecutorPorts,
    readonly config: ExecutorConfig,
  ) {}

  /** Asks for another round within `ms` (the earliest request wins). */
  requeue(ms: number): void {
    const v = Math.max(0, Math.ceil(ms));
    if (this.requeueAfterMs === undefined || v < this.requeueAfterMs) this.requeueAfterMs = v;
  }

  /** The status of node `id`, created (UNSPECIFIED) when absent. */
  node(id: string): NodeStatus {
    let ns = this.status.nodes[id];
    if (!ns) {
      ns = create(NodeStatusSchema, {});
      this.status.nodes[id] = ns;
    }
    return ns;
  }

  /** The execution's input LiteralMap (read once per round; empty when the execution has no inputs). */
  workflowInputs(): Promise<LiteralMap> {
    this.inputsPromise ??= this.execution.spec.inputsUri
      ? this.ports.io.readLiteralMap(this.execution.spec.inputsUri).catch((err: unknown) => {
          if (err instanceof BlobNotFoundError) return create(LiteralMapSchema, {});
          throw err;
        })
      : Promise.resolve(create(LiteralMapSchema, {}));
    return this.inputsPromise;
  }

  /** The outputs of a succeeded node (read once per round). */
  nodeOutputs(nodeId: string): Promise<LiteralMap> {
    let p = this.outputs.get(nodeId);
    if (!p) {
      const ns = this.status.nodes[nodeId];
      const uri =
        ns?.outputsUri || this.attemptLocations(nodeId, Math.max(0, (ns?.attempts ?? 1) - 1)).outputsUri;
      p = this.ports.io.readLiteralMap(uri);
      this.outputs.set(nodeId, p);
    }
    return p;
  }

  /** Blob locations of one attempt of one node, below the execution's output prefix. */
  attemptLocations(nodeId: string, attempt: number): AttemptLocations {
    const io = this.ports.io;
    const base = io.join(this.execution.spec.outputPrefix, "nodes", nodeId, String(attempt));
    const inputsDirUri = io.join(base, "inputs");
    const outputsDirUri = io.join(base, "outputs");
    const loc: AttemptLocations = {
      inputsUri: io.join(base, "inputs.pb"),
      inputsDirUri,
      outputsDirUri,
      outputsUri: io.join(base, "outputs.pb"),
    };
    const inPath = io.localPath(inputsDirUri);
    const outPath = io.localPath(outputsDirUri);
    if (inPath) loc.inputsDirPath = inPath;
    if (outPath) loc.outputsDirPath = outPath;
    return loc;
  }

  private executionId() {
    return this.execution.spec.executionId;
  }

  /** Moves the workflow to `phase` (no-op when already there) and emits a workflow event. */
  setWorkflowPhase(phase: WorkflowExecution_Phase, details: PhaseDetails = {}): void {
    const st = this.status;
    if (st.phase === phase) return;
    st.phase = phase;
    st.phaseVersion += 1;
    const ts = timestampFromDate(this.now);
    st.updatedAt = ts;
    st.startedAt ??= ts;
    if (details.message !== undefined) st.message = details.message.slice(0, 1024);
    if (details.error) st.error = details.error;
    if (details.outputUri) st.outputsUri = details.outputUri;
    if (isTerminalWorkflowPhase(phase)) st.stoppedAt = ts;
    const ev = create(WorkflowExecutionEventSchema, {
      eventId: eventId(this.execution.uid, "wf", st.phaseVersion),
      producerCluster: this.config.clusterId,
      executionId: this.executionId(),
      phase,
      phaseVersion: st.phaseVersion,
      occurredAt: ts,
      reason: details.reason ?? "",
      message: (details.message ?? "").slice(0, 1024),
    });
    if (details.error) ev.outputResult = { case: "error", value: details.error };
    else if (details.outputUri) ev.outputResult = { case: "outputUri", value: details.outputUri };
    this.events.push(create(EventSchema, { event: { case: "workflowEvent", value: ev } }));
  }

  /** Moves node `nodeId` to `phase` (no-op when already there) and emits a node event. */
  setNodePhase(
    nodeId: string,
    phase: NodeExecution_Phase,
    details: PhaseDetails & { inputUri?: string } = {},
  ): void {
    const ns = this.node(nodeId);
    if (ns.phase === phase) return;
    ns.phase = phase;
    ns.phaseVersion += 1;
    const ts = timestampFromDate(this.now);
    ns.lastUpdatedAt = ts;
    if (phase === NodeExecution_Phase.RUNNING) ns.startedAt ??= ts;
    if (isTerminalNodePhase(phase)) {
      ns.stoppedAt = ts;
      ns.waiting = undefined;
    }
    ns.message = (details.message ?? "").slice(0, 1024);
    if (details.error) ns.error = details.error;
    if (details.outputUri) ns.outputsUri = details.outputUri;
    const node = this.execution.graph.nodes.get(nodeId);
    const ev = create(NodeExecutionEventSchema, {
      eventId: eventId(this.execution.uid, "n", nodeId, ns.phaseVersion),
      producerCluster: this.config.clusterId,
      id: create(NodeExecutionIdentifierSchema, { executionId: this.executionId(), nodeId }),
      phase,
      phaseVersion: ns.phaseVersion,
      occurredAt: ts,
      inputUri: details.inputUri ?? "",
      reason: details.reason ?? "",
      message: (details.message ?? "").slice(0, 1024),
      nodeName: node?.metadata?.name ?? "",
    });
    if (details.error) ev.outputResult = { case: "error", value: details.error };
    else if (details.outputUri) ev.outputResult = { case: "outputUri", value: details.outputUri };
    this.events.push(create(EventSchema, { event: { case: "nodeEvent", value: ev } }));
  }

  /**
   * Records the task phase of the current attempt of `nodeId` and emits a task event. A repeat
   * of the same phase emits only when `details.reason` or `message` changed (a detail update).
   */
  setTaskPhase(
    nodeId: string,
    task: TaskTemplate,
    attempt: number,
    phase: TaskExecution_Phase,
    details: PhaseDetails & { inputUri?: string; podName?: string; update?: boolean } = {},
  ): void {
    const ns = this.node(nodeId);
    const message = (details.message ?? "").slice(0, 1024);
    if (ns.taskPhase === phase && !details.update) return;
    ns.taskPhaseVersion += 1;
    ns.taskPhase = phase;
    ns.message = message;
    ns.lastUpdatedAt = timestampFromDate(this.now);
    const requests = task.container?.resources?.requests ?? task.container?.resources?.limits;
    const ev = create(TaskExecutionEventSchema, {
      eventId: eventId(this.execution.uid, "t", nodeId, attempt, ns.taskPhaseVersion),
      producerCluster: this.config.clusterId,
      id: create(TaskExecutionIdentifierSchema, {
        taskId: task.id,
        nodeExecutionId: create(NodeExecutionIdentifierSchema, { executionId: this.executionId(), nodeId }),
        retryAttempt: attempt,
      }),
      phase,
      phaseVersion: ns.taskPhaseVersion,
      occurredAt: timestampFromDate(this.now),
      reason: details.reason ?? "",
      message,
      taskType: task.type,
      podName: details.podName ?? ns.podName,
      inputUri: details.inputUri ?? "",
      requestedResources: create(ResourceUsageSchema, {
        cpuCores: quantityValue(requests?.cpu),
        memoryBytes: quantityValue(requests?.memory),
        gpus: quantityValue(requests?.gpu),
        seconds: ns.startedAt
          ? Math.max(0, (this.now.getTime() - Number(ns.startedAt.seconds) * 1000) / 1000)
          : 0,
      }),
      externalResources: ns.leases.map((l) =>
        create(ExternalResourceHeldSchema, { resource: l.resource, tokens: l.tokens, leaseId: l.leaseId }),
      ),
    });
    if (details.error) ev.outputResult = { case: "error", value: details.error };
    else if (details.outputUri) ev.outputResult = { case: "outputUri", value: details.outputUri };
    this.events.push(create(EventSchema, { event: { case: "taskEvent", value: ev } }));
  }

  /**
   * Re-emits the current phase of the workflow, of every node, and of every unfinished node's
   * task attempt, with the ids they were first emitted with. Called on a workflow's first round
   * in a (re)started or newly elected propeller: events a previous process buffered but never
   * delivered (it was killed) are re-created; the admin acknowledges ids it already has as
   * duplicates. Intermediate transitions of a lost buffer are not recoverable, the latest are.
   */
  replayCurrentState(): void {
    const st = this.status;
    const now = timestampFromDate(this.now);
    if (st.phase !== WorkflowExecution_Phase.UNSPECIFIED && st.phaseVersion > 0) {
      const ev = create(WorkflowExecutionEventSchema, {
        eventId: eventId(this.execution.uid, "wf", st.phaseVersion),
        producerCluster: this.config.clusterId,
        executionId: this.executionId(),
        phase: st.phase,
        phaseVersion: st.phaseVersion,
        occurredAt: st.updatedAt ?? now,
        reason: "Replayed",
        message: st.message,
      });
      if (st.error && isTerminalWorkflowPhase(st.phase)) ev.outputResult = { case: "error", value: st.error };
      else if (st.outputsUri) ev.outputResult = { case: "outputUri", value: st.outputsUri };
      this.events.push(create(EventSchema, { event: { case: "workflowEvent", value: ev } }));
    }
    for (const [nodeId, ns] of Object.entries(st.nodes)) {
      if (ns.phaseVersion === 0 || ns.phase === NodeExecution_Phase.UNSPECIFIED) continue;
      const ev = create(NodeExecutionEventSchema, {
        eventId: eventId(this.execution.uid, "n", nodeId, ns.phaseVersion),
        producerCluster: this.config.clusterId,
        id: create(NodeExecutionIdentifierSchema, { executionId: this.executionId(), nodeId }),
        phase: ns.phase,
        phaseVersion: ns.phaseVersion,
        occurredAt: ns.lastUpdatedAt ?? ns.stoppedAt ?? now,
        reason: "Replayed",
        nodeName: this.execution.graph.nodes.get(nodeId)?.metadata?.name ?? "",
      });
      if (ns.error && isTerminalNodePhase(ns.phase) && ns.phase !== NodeExecution_Phase.SUCCEEDED) {
        ev.outputResult = { case: "error", value: ns.error };
      } else if (ns.phase === NodeExecution_Phase.SUCCEEDED) {
        const uri = ns.outputsUri || this.attemptLocations(nodeId, Math.max(0, ns.attempts - 1)).outputsUri;
        ev.outputResult = { case: "outputUri", value: uri };
      }
      this.events.push(create(EventSchema, { event: { case: "nodeEvent", value: ev } }));
      const node = this.execution.graph.nodes.get(nodeId);
      const task =
        node?.target.case === "taskNode"
          ? this.execution.graph.tasks.get(identifierKey(node.target.value.referenceId))
          : undefined;
      if (!task || ns.taskPhaseVersion === 0 || ns.attempts === 0 || isTerminalNodePhase(ns.phase)) continue;
      const tev = create(TaskExecutionEventSchema, {
        eventId: eventId(this.execution.uid, "t", nodeId, ns.attempts - 1, ns.taskPhaseVersion),
        producerCluster: this.config.clusterId,
        id: create(TaskExecutionIdentifierSchema, {
          taskId: task.id,
          nodeExecutionId: create(NodeExecutionIdentifierSchema, { executionId: this.executionId(), nodeId }),
          retryAttempt: ns.attempts - 1,
        }),
        phase: ns.taskPhase,
        phaseVersion: ns.taskPhaseVersion,
        occurredAt: ns.lastUpdatedAt ?? now,
        reason: "Replayed",
        taskType: task.type,
        podName: ns.podName,
      });
      this.events.push(create(EventSchema, { event: { case: "taskEvent", value: tev } }));
    }
  }
}
