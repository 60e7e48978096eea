/**
 * The state one round works on: the execution (spec + graph), its mutable status, the cached
 * pods, the clock and the ports. Phase changes go through {@link RoundContext} so that every
 * change bumps its phase version and emits exactly one event.
 */
import { createHash } from "node:crypto";
import { clone, create, equals } from "@bufbuild/protobuf";
import { timestampFromDate, type Timestamp } from "@bufbuild/protobuf/wkt";
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
  type Node,
  type NodeExecutionEvent,
  type NodeStatus,
  type TaskExecution_Phase,
  type TaskTemplate,
  type WorkflowExecutionSpec,
  type WorkflowExecutionStatus,
  WorkflowExecution_Phase,
} from "@flotilla/proto";
import { BlobNotFoundError, identifierKey, tryParseQuantity, type PodResourceUsage } from "@flotilla/common";
import type { BindingSources } from "./bindings.js";
import type { WorkflowGraph } from "./graph.js";
import { innerGraphOf } from "./graph.js";
import { nestedNodeId } from "./node-ids.js";
import { isTerminalNodePhase, isTerminalWorkflowPhase } from "./phases.js";
import type { ExecutorConfig, ExecutorPorts } from "./ports.js";
import type { AttemptLocations } from "../plugins/pod/pod-plugin.js";

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

/**
 * A level of nodes a context works on below the execution's workflow: the nodes of a
 * sub-workflow, or the alternative a branch took. See {@link RoundContext.nested}.
 */
export interface NestedLevel {
  /** Local id of the node (in the enclosing level) the nested nodes run inside. */
  parentNodeId: string;
  /** The nested nodes. */
  graph: WorkflowGraph;
  /**
   * The workflow inputs of the level (a sub-workflow's inputs: the parent node's inputs).
   * Absent: the enclosing level's.
   */
  inputs?: () => Promise<LiteralMap>;
  /**
   * Where the nested nodes' bindings resolve (a branch's alternative reads the enclosing
   * workflow's nodes and inputs). Absent: the level's own inputs and nodes.
   */
  sources?: BindingSources;
}

/** Round-wide state every level of one round shares. */
interface RoundShared {
  events: Event[];
  createdPods: string[];
  requeueAfterMs: number | undefined;
  /** Outputs read this round by execution-wide node id. */
  outputs: Map<string, Promise<LiteralMap>>;
  /**
   * Top-level nodes this round looked up for change (every mutation goes through
   * {@link RoundContext.node}), each with a copy of its status before (undefined: it had none).
   */
  touched: Map<string, NodeStatus | undefined>;
}

/**
 * Mutable state of one round. The root context works on the execution's workflow; nested
 * contexts ({@link nested}) work on the nodes inside a sub-workflow or branch node. A nested
 * context keeps its nodes' statuses in the parent's `sub_nodes`, names them execution-wide as
 * `{parent}.{child}` (events, pods, token holders, blob locations) and puts the parent's id on
 * their events; events, created pods and requeue requests go to the round as a whole.
 */
export class RoundContext {
  /** Events produced by this round, in order. */
  readonly events: Event[];
  /** Pods created by this round (names). */
  readonly createdPods: string[];
  /** The graph of the nodes this context works on (the execution's workflow at the root). */
  readonly graph: WorkflowGraph;
  /** Statuses of the nodes this context works on, by local id. */
  readonly nodes: { [id: string]: NodeStatus };
  /** Execution-wide id of the node this level runs inside; "" at the root. */
  readonly parentNodeId: string;
  private readonly shared: RoundShared;
  private readonly level: NestedLevel | undefined;
  private readonly enclosing: RoundContext | undefined;
  private inputsPromise: Promise<LiteralMap> | undefined;
  /** Whether this is a nested context (set in the constructor, before any lookup). */
  private readonly enclosingSet: boolean;

  constructor(
    readonly execution: ExecutionView,
    readonly status: WorkflowExecutionStatus,
    readonly pods: ReadonlyMap<string, V1Pod>,
    readonly now: Date,
    readonly ports: ExecutorPorts,
    readonly config: ExecutorConfig,
    within?: { parent: RoundContext; level: NestedLevel },
  ) {
    if (within) {
      const { parent, level } = within;
      this.shared = parent.shared;
      this.graph = level.graph;
      this.nodes = parent.node(level.parentNodeId).subNodes;
      this.parentNodeId = parent.uniqueId(level.parentNodeId);
      this.level = level;
    } else {
      this.shared = {
        events: [],
        createdPods: [],
        requeueAfterMs: undefined,
        outputs: new Map(),
        touched: new Map(),
      };
      this.graph = execution.graph;
      this.nodes = status.nodes;
      this.parentNodeId = "";
    }
    this.events = this.shared.events;
    this.createdPods = this.shared.createdPods;
    this.enclosing = within?.parent;
    this.enclosingSet = within !== undefined;
  }

  /**
   * Top-level node ids whose status this round changed (or created), compared with their copy
   * from before the round: only nodes the round got through {@link node} are compared.
   */
  changedNodeIds(): string[] {
    const changed: string[] = [];
    for (const [id, before] of this.shared.touched) {
      const now = this.status.nodes[id];
      if (!before || !now || !equals(NodeStatusSchema, before, now)) changed.push(id);
    }
    return changed;
  }

  /**
   * A context for the nodes running inside node `level.parentNodeId` of this level (its status
   * must exist: the nested statuses live in its `sub_nodes`).
   */
  nested(level: NestedLevel): RoundContext {
    return new RoundContext(this.execution, this.status, this.pods, this.now, this.ports, this.config, {
      parent: this,
      level,
    });
  }

  /** Earliest time (ms from now) the workflow should be looked at again without any event. */
  get requeueAfterMs(): number | undefined {
    return this.shared.requeueAfterMs;
  }

  /** Asks for another round within `ms` (the earliest request wins). */
  requeue(ms: number): void {
    const v = Math.max(0, Math.ceil(ms));
    if (this.shared.requeueAfterMs === undefined || v < this.shared.requeueAfterMs)
      this.shared.requeueAfterMs = v;
  }

  /** The execution-wide id of node `id` of this level (`id` itself at the root). */
  uniqueId(id: string): string {
    return nestedNodeId(this.parentNodeId, id);
  }

  /**
   * The status of node `id` of this level, created (UNSPECIFIED) when absent. Everything that
   * changes a node's status gets it here, so the round knows which nodes may have changed
   * ({@link changedNodeIds}); a nested node counts as a change of its top-level ancestor, which
   * the nested context got here when it was made.
   */
  node(id: string): NodeStatus {
    if (!this.enclosingSet && !this.shared.touched.has(id)) {
      const before = this.nodes[id];
      this.shared.touched.set(id, before ? clone(NodeStatusSchema, before) : undefined);
    }
    let ns = this.nodes[id];
    if (!ns) {
      ns = create(NodeStatusSchema, {});
      this.nodes[id] = ns;
    }
    return ns;
  }

  /**
   * The input LiteralMap of this level's workflow (read once per round): the execution's
   * inputs at the root (empty when it has none), the sub-workflow's inputs below.
   */
  workflowInputs(): Promise<LiteralMap> {
    if (this.level && !this.level.inputs && this.enclosing) return this.enclosing.workflowInputs();
    this.inputsPromise ??= this.level?.inputs
      ? this.level.inputs()
      : this.execution.spec.inputsUri
        ? this.ports.io.readLiteralMap(this.execution.spec.inputsUri).catch((err: unknown) => {
            if (err instanceof BlobNotFoundError) return create(LiteralMapSchema, {});
            throw err;
          })
        : Promise.resolve(create(LiteralMapSchema, {}));
    return this.inputsPromise;
  }

  /** The outputs of a succeeded node of this level (read once per round). */
  nodeOutputs(nodeId: string): Promise<LiteralMap> {
    const key = this.uniqueId(nodeId);
    let p = this.shared.outputs.get(key);
    if (!p) {
      const ns = this.nodes[nodeId];
      const uri =
        ns?.outputsUri || this.attemptLocations(nodeId, Math.max(0, (ns?.attempts ?? 1) - 1)).outputsUri;
      p = this.ports.io.readLiteralMap(uri);
      this.shared.outputs.set(key, p);
    }
    return p;
  }

  /**
   * Where bindings of this level's nodes resolve: this level's workflow inputs and node
   * outputs, or the enclosing workflow's for a branch's alternative.
   */
  bindingSources(): BindingSources {
    return (
      this.level?.sources ?? {
        workflowInputs: () => this.workflowInputs(),
        nodeOutputs: (id) => this.nodeOutputs(id),
      }
    );
  }

  /** Blob locations of one attempt of node `nodeId` of this level, below the execution's output prefix. */
  attemptLocations(nodeId: string, attempt: number): AttemptLocations {
    const io = this.ports.io;
    const base = io.join(this.execution.spec.outputPrefix, "nodes", this.uniqueId(nodeId), String(attempt));
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

  /**
   * Moves node `nodeId` of this level to `phase` (no-op when already there) and emits a node
   * event (execution-wide id, parent node id when nested).
   */
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
    const ev = this.nodeEvent(nodeId, ns, ts, details.reason ?? "");
    ev.inputUri = details.inputUri ?? "";
    ev.message = (details.message ?? "").slice(0, 1024);
    if (details.error) ev.outputResult = { case: "error", value: details.error };
    else if (details.outputUri) ev.outputResult = { case: "outputUri", value: details.outputUri };
    this.events.push(create(EventSchema, { event: { case: "nodeEvent", value: ev } }));
  }

  /** A node event of node `nodeId` of this level in its current phase (no result set). */
  private nodeEvent(
    nodeId: string,
    ns: NodeStatus,
    occurredAt: Timestamp,
    reason: string,
  ): NodeExecutionEvent {
    const uniqueId = this.uniqueId(nodeId);
    return create(NodeExecutionEventSchema, {
      eventId: eventId(this.execution.uid, "n", uniqueId, ns.phaseVersion),
      producerCluster: this.config.clusterId,
      id: create(NodeExecutionIdentifierSchema, { executionId: this.executionId(), nodeId: uniqueId }),
      phase: ns.phase,
      phaseVersion: ns.phaseVersion,
      occurredAt,
      reason,
      nodeName: this.graph.nodes.get(nodeId)?.metadata?.name ?? "",
      parentNodeId: this.parentNodeId,
    });
  }

  /**
   * Records the task phase of the current attempt of `nodeId` (of this level) and emits a task event. A repeat
   * of the same phase emits only when `details.reason` or `message` changed (a detail update).
   */
  setTaskPhase(
    nodeId: string,
    task: TaskTemplate,
    attempt: number,
    phase: TaskExecution_Phase,
    details: PhaseDetails & {
      inputUri?: string;
      podName?: string;
      update?: boolean;
      /** Resources the attempt used, when its pod reported them (terminal phases). */
      used?: PodResourceUsage;
    } = {},
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
      eventId: eventId(this.execution.uid, "t", this.uniqueId(nodeId), attempt, ns.taskPhaseVersion),
      producerCluster: this.config.clusterId,
      id: create(TaskExecutionIdentifierSchema, {
        taskId: task.id,
        nodeExecutionId: create(NodeExecutionIdentifierSchema, {
          executionId: this.executionId(),
          nodeId: this.uniqueId(nodeId),
        }),
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
        cpuCores: tryParseQuantity(requests?.cpu) ?? 0,
        memoryBytes: tryParseQuantity(requests?.memory) ?? 0,
        gpus: tryParseQuantity(requests?.gpu) ?? 0,
        seconds: ns.startedAt
          ? Math.max(0, (this.now.getTime() - Number(ns.startedAt.seconds) * 1000) / 1000)
          : 0,
      }),
      externalResources: ns.leases.map((l) =>
        create(ExternalResourceHeldSchema, { resource: l.resource, tokens: l.tokens, leaseId: l.leaseId }),
      ),
    });
    if (details.used) {
      ev.usedResources = create(ResourceUsageSchema, {
        cpuCores: details.used.cpuCores,
        memoryBytes: details.used.memoryBytes,
        gpus: details.used.gpus,
        seconds: ev.requestedResources?.seconds ?? 0,
      });
    }
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
    this.replayNodes();
  }

  /** Re-emits the node (and unfinished task) events of this level's nodes and, depth-first, of their sub-nodes. */
  private replayNodes(): void {
    const now = timestampFromDate(this.now);
    for (const [nodeId, ns] of Object.entries(this.nodes)) {
      const node = this.graph.nodes.get(nodeId);
      if (ns.phaseVersion > 0 && ns.phase !== NodeExecution_Phase.UNSPECIFIED) {
        const ev = this.nodeEvent(nodeId, ns, ns.lastUpdatedAt ?? ns.stoppedAt ?? now, "Replayed");
        if (ns.error && isTerminalNodePhase(ns.phase) && ns.phase !== NodeExecution_Phase.SUCCEEDED) {
          ev.outputResult = { case: "error", value: ns.error };
        } else if (ns.phase === NodeExecution_Phase.SUCCEEDED) {
          const uri = ns.outputsUri || this.attemptLocations(nodeId, Math.max(0, ns.attempts - 1)).outputsUri;
          ev.outputResult = { case: "outputUri", value: uri };
        }
        this.events.push(create(EventSchema, { event: { case: "nodeEvent", value: ev } }));
        this.replayTask(nodeId, ns, node, now);
      }
      const inner =
        node && Object.keys(ns.subNodes).length > 0
          ? innerGraphOf(this.graph, node, ns.branchTakenNodeId)
          : undefined;
      if (inner) this.nested({ parentNodeId: nodeId, graph: inner }).replayNodes();
    }
  }

  /** Re-emits the task event of an unfinished task node's current attempt. */
  private replayTask(nodeId: string, ns: NodeStatus, node: Node | undefined, now: Timestamp): void {
    const task =
      node?.target.case === "taskNode"
        ? this.graph.tasks.get(identifierKey(node.target.value.referenceId))
        : undefined;
    if (!task || ns.taskPhaseVersion === 0 || ns.attempts === 0 || isTerminalNodePhase(ns.phase)) return;
    const uniqueId = this.uniqueId(nodeId);
    const tev = create(TaskExecutionEventSchema, {
      eventId: eventId(this.execution.uid, "t", uniqueId, ns.attempts - 1, ns.taskPhaseVersion),
      producerCluster: this.config.clusterId,
      id: create(TaskExecutionIdentifierSchema, {
        taskId: task.id,
        nodeExecutionId: create(NodeExecutionIdentifierSchema, {
          executionId: this.executionId(),
          nodeId: uniqueId,
        }),
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
