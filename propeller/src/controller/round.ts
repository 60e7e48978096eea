/**
 * One round of one workflow: load from the caches, evaluate the DAG, emit events, write the
 * status when it changed, finalize terminal workflows. See {@link RoundRunner.run} for the
 * state diagram.
 */
import { clone, create, equals } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Annotations, Labels, taskPodName, type Logger } from "@flotilla/common";
import { contextFromCarrier, currentTraceCarrier, isTracing, withSpan } from "@flotilla/runtime";
import { PROPELLER_TRACER } from "../tracing.js";
import {
  EventSchema,
  ExecutionErrorSchema,
  WorkflowExecutionEventSchema,
  WorkflowExecutionIdentifierSchema,
  ExecutionError_Kind,
  WorkflowExecutionStatusSchema,
  WorkflowExecution_Phase,
  type Event,
  type NodeStatus,
  type WorkflowExecutionStatus,
} from "@flotilla/proto";
import type { PodIndex, WorkflowCache, WorkflowExecutionCr } from "../informers/caches.js";
import { splitKey } from "../informers/caches.js";
import { RoundOutcome, type PropellerMetrics } from "../metrics.js";
import type { EventSink } from "../events/event-sink.js";
import { evaluateWorkflow, type NodeHandlers } from "../workflow/executor.js";
import { isTerminalNodePhase, isTerminalWorkflowPhase } from "../workflow/phases.js";
import type { ExecutorConfig, PodPort, TaskIO, TokenBroker } from "../workflow/ports.js";
import { NESTED_NODE_SEPARATOR, forEachNodeStatus } from "../workflow/node-ids.js";
import { runConcurrently } from "../workflow/level.js";
import { RoundContext } from "../workflow/round-context.js";
import {
  StatusEncoder,
  offloadedUrisOf,
  type StatusBlobs,
  type StatusBudget,
} from "../workflow/status-codec.js";
import { ConflictError, CrNotFoundError, ObjectTooLargeError, type KubeWorkflowExecutions } from "./kube.js";
import { InvalidSpecError, type SpecCache, type WorkingStatus } from "./spec-cache.js";

/** The finalizer the propeller puts on CRs it drives, so deletion waits for the abort. */
export const PROPELLER_FINALIZER = "flotilla.io/propeller";

/** Finished pods of a running workflow are deleted once this many accumulated. */
const FINISHED_POD_BATCH = 50;

/** What a round reports to the worker. */
export interface RoundResult {
  outcome: RoundOutcome;
  /** Look at the workflow again after this many ms (deadlines, polling). */
  requeueAfterMs?: number;
}

/** Everything a round uses. */
export interface RoundDeps {
  workflows: WorkflowCache;
  pods: PodIndex;
  crs: KubeWorkflowExecutions;
  /** Pod writes; `deleteCollection` (when present) removes a finished execution's pods in one call. */
  podPort: PodPort & { deleteCollection?(namespace: string, labelSelector: string): Promise<void> };
  io: TaskIO;
  blobs: StatusBlobs;
  tokens?: TokenBroker;
  events: EventSink;
  metrics: PropellerMetrics;
  specs: SpecCache;
  executor: ExecutorConfig;
  handlers: NodeHandlers;
  statusBudget: StatusBudget;
  /** Delete pods of finished nodes once their outcome is persisted (keeps caches small). */
  deleteFinishedPods: boolean;
  /** Called after every status write with the object's serialized size and node encoding. */
  onStatusWritten?: (key: string, objectBytes: number, encoding: string) => void;
  /** Conflicts retried within one round before giving up (requeue with backoff). */
  maxConflictRetries?: number;
  /** Lines about one execution carry its key as `execution`. */
  logger: Logger;
}

/** Runs rounds. One instance is shared by all workers; rounds of one key never overlap (the queue ensures it). */
export class RoundRunner {
  private readonly lastRound = new Map<string, { fingerprint: string; dueAt: number }>();
  private readonly abortRequests = new Map<string, string>();
  /** Keys whose current state this process has re-emitted (first round after start/election). */
  private readonly replayed = new Set<string>();

  constructor(private readonly deps: RoundDeps) {}

  /** Asks for the execution `key` to be aborted with `cause` (from an admin heartbeat response). */
  requestAbort(key: string, cause: string): void {
    this.abortRequests.set(key, cause);
    this.lastRound.delete(key);
  }

  /**
   * Runs one round for `key`.
   *
   * ```
   *  key ─▶ cached CR? ──no──▶ NOT-FOUND (forget caches)
   *           │yes
   *           ▼
   *   unchanged since last no-op round and no deadline due? ──yes──▶ SHORT-CIRCUIT
   *           │no
   *           ▼
   *   decode spec+status (kept from the last round at the same resourceVersion)
   *           │ ─(invalid spec)─▶ status FAILED (SYSTEM InvalidSpec)
   *           │
   *   not deleting, not terminal, no finalizer ─▶ add finalizer
   *           │
   *   evaluate DAG over each level's frontier (deletion or abort request ⇒ abort path) ─▶ enqueue events (waits when the buffer is full)
   *           │
   *   status changed? ──yes──▶ encode changed chunks (plain │ gzip │ offloaded) ─▶ PUT /status ─(409)─▶ re-read CR, rerun round
   *           │                                                                        └─(too large)─▶ retry with offloading forced
   *           ▼
   *   terminal? ──yes──▶ delete pods, label terminated, drop finalizer ─▶ SUCCESS
   *           │no
   *           ▼
   *   delete pods of finished attempts ─▶ SUCCESS (requeue at the earliest deadline)
   * ```
   *
   * Throws for anything unexpected (after forgetting the kept status, which the round may have
   * changed half-way); the worker then requeues with backoff.
   */
  async run(key: string): Promise<RoundResult> {
    let obj = this.deps.workflows.get(key);
    if (!obj) return this.notFound(key, undefined);
    const retries = this.deps.maxConflictRetries ?? 3;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.once(key, obj);
      } catch (err) {
        // The round may have changed the kept status half-way: decode the CR again next time.
        this.deps.specs.forgetStatus(key);
        if (err instanceof CrNotFoundError) return this.notFound(key, obj.metadata?.uid);
        if (!(err instanceof ConflictError)) throw err;
        this.deps.metrics.crUpdateConflicts.inc();
        this.deps.workflows.forgetWritten(key);
        this.lastRound.delete(key);
        if (attempt >= retries) throw err;
        const { namespace, name } = splitKey(key);
        try {
          obj = await this.deps.crs.get(namespace, name);
        } catch (getErr) {
          if (getErr instanceof CrNotFoundError) return this.notFound(key, obj.metadata?.uid);
          throw getErr;
        }
      }
    }
  }

  private notFound(key: string, uid: string | undefined): RoundResult {
    this.lastRound.delete(key);
    this.replayed.delete(key);
    this.abortRequests.delete(key);
    this.deps.pods.forgetExecution(key);
    this.deps.specs.forget(key, uid);
    return { outcome: RoundOutcome.notFound };
  }

  private async once(key: string, obj: WorkflowExecutionCr): Promise<RoundResult> {
    const d = this.deps;
    const meta = obj.metadata ?? {};
    if (meta.labels?.[Labels.terminated] === "true") return { outcome: RoundOutcome.shortCircuit };
    const deleting = meta.deletionTimestamp !== undefined && meta.deletionTimestamp !== null;
    const hasFinalizer = (meta.finalizers ?? []).includes(PROPELLER_FINALIZER);
    if (deleting && !hasFinalizer) return { outcome: RoundOutcome.shortCircuit };

    // The inputs of this round; pods seen later (even during the round) make the next round real.
    const podsFp = this.deps.pods.changeOf(key);
    const fp = `${obj.metadata?.resourceVersion ?? ""}#${podsFp}`;
    const last = this.lastRound.get(key);
    if (!deleting && last && last.fingerprint === fp && Date.now() < last.dueAt) {
      return { outcome: RoundOutcome.shortCircuit, requeueAfterMs: last.dueAt - Date.now() };
    }
    if (!isTracing()) return this.evaluate(key, obj, podsFp);
    // A round that does work is a span of the execution's trace: the CR's traceparent
    // annotation (the admin's create) is its parent.
    return withSpan(
      PROPELLER_TRACER,
      "round",
      async (span) => {
        const result = await this.evaluate(key, obj, podsFp);
        span?.setAttribute("flotilla.round.outcome", result.outcome);
        return result;
      },
      {
        parent: contextFromCarrier({
          traceparent: meta.annotations?.[Annotations.traceparent],
          tracestate: meta.annotations?.[Annotations.tracestate],
        }),
        attributes: {
          "flotilla.execution": key,
          "flotilla.cluster": d.executor.clusterId,
          "k8s.resource.version": meta.resourceVersion ?? "",
        },
      },
    );
  }

  /** The working part of a round (after the short-circuit checks of {@link once}). */
  private async evaluate(key: string, input: WorkflowExecutionCr, podsFp: number): Promise<RoundResult> {
    const d = this.deps;
    let obj = input;
    const meta = obj.metadata ?? {};
    const { namespace, name } = splitKey(key);
    const deleting = meta.deletionTimestamp !== undefined && meta.deletionTimestamp !== null;
    const hasFinalizer = (meta.finalizers ?? []).includes(PROPELLER_FINALIZER);
    const working = await d.specs.status(key, obj);
    const status = working.status;
    const before = workflowLevelOf(status);
    let changedNodes: string[] = [];
    let order: readonly string[] | undefined;
    const now = new Date();
    let specBytes = 0;
    let outputPrefix = "";
    let events: Event[] = [];
    let requeueAfterMs: number | undefined;
    try {
      const decoded = await d.specs.spec(key, obj);
      specBytes = decoded.specBytes;
      outputPrefix = decoded.spec.outputPrefix;
      order = decoded.graph.order;
      if (!deleting && !hasFinalizer && !isTerminalWorkflowPhase(status.phase)) {
        obj = await this.patchMetadata(obj, {
          finalizers: [...(meta.finalizers ?? []), PROPELLER_FINALIZER],
        });
      }
      const abortCause = deleting
        ? "the WorkflowExecution was deleted"
        : decoded.spec.abortCause || this.abortRequests.get(key);
      const traceparent = meta.annotations?.[Annotations.traceparent];
      const ctx = new RoundContext(
        {
          namespace,
          name,
          uid: meta.uid ?? key,
          spec: decoded.spec,
          graph: decoded.graph,
          ...(abortCause !== undefined ? { abortCause } : {}),
          ...(traceparent ? { traceparent } : {}),
        },
        status,
        d.pods.podsOf(key),
        now,
        { pods: d.podPort, io: d.io, ...(d.tokens ? { tokens: d.tokens } : {}) },
        d.executor,
      );
      if (!this.replayed.has(key)) {
        ctx.replayCurrentState();
        this.replayed.add(key);
      }
      try {
        await evaluateWorkflow(ctx, d.handlers);
      } finally {
        changedNodes = ctx.changedNodeIds();
      }
      events = ctx.events;
      requeueAfterMs = ctx.requeueAfterMs;
      if (ctx.createdPods.length > 0) d.metrics.podsCreated.inc(ctx.createdPods.length);
    } catch (err) {
      if (!(err instanceof InvalidSpecError)) throw err;
      d.logger.warn("invalid workflow spec; failing the workflow", { execution: key, error: err.message });
      if (!isTerminalWorkflowPhase(status.phase)) {
        status.phase = WorkflowExecution_Phase.FAILED;
        status.phaseVersion += 1;
        status.error = create(ExecutionErrorSchema, {
          kind: ExecutionError_Kind.SYSTEM,
          code: "InvalidSpec",
          message: err.message.slice(0, 4096),
        });
        status.stoppedAt = timestampFromDate(now);
        // The spec is unreadable, so the execution id comes from the labels admin sets.
        events.push(
          create(EventSchema, {
            event: {
              case: "workflowEvent",
              value: create(WorkflowExecutionEventSchema, {
                eventId: `${meta.uid ?? key}/wf/${status.phaseVersion}`,
                producerCluster: d.executor.clusterId,
                executionId: create(WorkflowExecutionIdentifierSchema, {
                  project: meta.labels?.[Labels.project] ?? "",
                  domain: meta.labels?.[Labels.domain] ?? "",
                  name: meta.labels?.[Labels.execution] ?? name,
                }),
                phase: WorkflowExecution_Phase.FAILED,
                phaseVersion: status.phaseVersion,
                occurredAt: timestampFromDate(now),
                outputResult: { case: "error", value: status.error },
                reason: "InvalidSpec",
                message: err.message.slice(0, 1024),
              }),
            },
          }),
        );
      }
    }
    // While tracing, each event names this round's span, so the admin records its ingestion
    // in the execution's trace (a batch mixes executions, so the context travels per event).
    const carrier = currentTraceCarrier();
    if (carrier.traceparent) for (const e of events) e.traceContext = carrier;
    await d.events.enqueue(events);

    if (changedNodes.length > 0 || !equals(WorkflowExecutionStatusSchema, before, workflowLevelOf(status))) {
      status.updatedAt = timestampFromDate(now);
      status.observedGeneration = BigInt(meta.generation ?? 0);
      if (!working.encoder) {
        working.encoder = new StatusEncoder(order);
        working.encoder.noteStored(working.storedUris);
      }
      working.encoder.markDirty(changedNodes);
      obj = await this.writeStatus(key, obj, working, specBytes, outputPrefix);
    }

    if (isTerminalWorkflowPhase(status.phase)) {
      await this.finalize(key, obj, deleting);
      return { outcome: RoundOutcome.success };
    }
    if (d.deleteFinishedPods) await this.deleteFinishedPods(key, namespace, name, status, obj);
    const due = requeueAfterMs ?? d.executor.runningRecheckMs;
    this.lastRound.set(key, {
      fingerprint: `${obj.metadata?.resourceVersion ?? ""}#${podsFp}`,
      dueAt: Date.now() + due,
    });
    return { outcome: RoundOutcome.success, requeueAfterMs: due };
  }

  private async patchMetadata(
    obj: WorkflowExecutionCr,
    metadata: { labels?: Record<string, string | null>; finalizers?: string[] },
  ): Promise<WorkflowExecutionCr> {
    const started = performance.now();
    const patched = await this.deps.crs.patchMetadata(
      obj.metadata?.namespace ?? "",
      obj.metadata?.name ?? "",
      {
        ...metadata,
        ...(obj.metadata?.resourceVersion ? { resourceVersion: obj.metadata.resourceVersion } : {}),
      },
    );
    this.deps.metrics.crUpdateLatency.observe((performance.now() - started) / 1000);
    this.deps.workflows.noteWritten(patched);
    // A metadata patch leaves the status as it was: the kept status is that of the new version.
    this.deps.specs.rememberStatus(
      objectKeyOf(obj),
      obj.metadata?.resourceVersion ?? "",
      patched.metadata?.resourceVersion ?? "",
    );
    return patched;
  }

  private async writeStatus(
    key: string,
    obj: WorkflowExecutionCr,
    working: WorkingStatus,
    specBytes: number,
    outputPrefix: string,
  ): Promise<WorkflowExecutionCr> {
    const d = this.deps;
    const status = working.status;
    const encoder = working.encoder as StatusEncoder;
    const otherBytes = specBytes + Buffer.byteLength(JSON.stringify(obj.metadata ?? {})) + 256;
    const previousOffload = new Set([...working.storedUris, ...offloadedUrisOf(obj.status)]);
    let budget = d.statusBudget;
    for (let attempt = 0; ; attempt++) {
      const encoded = await encoder.encode(status, {
        budget,
        otherBytes,
        blobs: d.blobs,
        offloadPrefix: outputPrefix || "file:///tmp/",
      });
      const started = performance.now();
      try {
        const written = await d.crs.replaceStatus(obj, encoded.json);
        d.metrics.crUpdateLatency.observe((performance.now() - started) / 1000);
        d.metrics.crStatusBytes.observe({ encoding: encoded.encoding }, otherBytes + encoded.statusBytes);
        d.onStatusWritten?.(key, otherBytes + encoded.statusBytes, encoded.encoding);
        d.workflows.noteWritten(written);
        d.specs.rememberStatus(key, working.rv, written.metadata?.resourceVersion ?? "");
        // Chunks the new status no longer refers to are deleted once it is written.
        const current = new Set(encoded.offloadedUris ?? []);
        working.storedUris = [...current];
        const superseded = [...previousOffload].filter((uri) => !current.has(uri));
        encoder.forgetStored(superseded);
        for (const uri of superseded) {
          await d.blobs.delete(uri).catch((e: unknown) =>
            d.logger.warn("cannot delete a superseded offloaded status chunk", {
              execution: key,
              uri,
              error: e,
            }),
          );
        }
        return written;
      } catch (err) {
        if (!(err instanceof ObjectTooLargeError)) throw err;
        d.metrics.crTooLarge.inc();
        if (attempt >= 2) throw err;
        // The estimate was off: force compression, then offloading.
        budget = { inlineNodesBytes: 0, objectBytes: Math.floor(budget.objectBytes / 4) };
      }
    }
  }

  private async finalize(key: string, obj: WorkflowExecutionCr, deleting: boolean): Promise<void> {
    const d = this.deps;
    const { namespace } = splitKey(key);
    const live = d.pods.livePodsOf(key);
    if (live && live.size > 0) {
      const names = [...live.keys()];
      for (const podName of names) d.pods.expectDelete(namespace, podName);
      const execLabel = [...live.values()][0]?.metadata?.labels?.[Labels.execution];
      if (d.podPort.deleteCollection && execLabel) {
        await d.podPort.deleteCollection(namespace, `${Labels.execution}=${execLabel}`);
      } else {
        for (const podName of names) await d.podPort.delete(namespace, podName);
      }
      d.metrics.podsDeleted.inc(names.length);
    }
    const meta = obj.metadata ?? {};
    const finalizers = (meta.finalizers ?? []).filter((f) => f !== PROPELLER_FINALIZER);
    const needsLabel = !deleting && meta.labels?.[Labels.terminated] !== "true";
    const needsFinalizerRemoval = finalizers.length !== (meta.finalizers ?? []).length;
    if (needsLabel || needsFinalizerRemoval) {
      try {
        await this.patchMetadata(obj, {
          ...(needsLabel ? { labels: { [Labels.terminated]: "true" } } : {}),
          ...(needsFinalizerRemoval ? { finalizers } : {}),
        });
      } catch (err) {
        if (!(err instanceof CrNotFoundError)) throw err;
      }
    }
    this.lastRound.delete(key);
    this.abortRequests.delete(key);
    d.pods.forgetExecution(key);
    d.specs.forget(key, meta.uid);
  }

  /** Deletes live pods of attempts whose outcome the (persisted) status already records. */
  private async deleteFinishedPods(
    key: string,
    namespace: string,
    name: string,
    status: WorkflowExecutionStatus,
    obj: WorkflowExecutionCr,
  ): Promise<void> {
    const d = this.deps;
    const live = d.pods.livePodsOf(key);
    if (!live || live.size === 0) return;
    // Finished pods are at most the live ones: below a batch there is nothing to do yet.
    if (live.size < FINISHED_POD_BATCH) return;
    const execName = (obj.spec as { executionId?: { name?: string } } | undefined)?.executionId?.name ?? name;
    const isFinished = (nodeId: string, ns: NodeStatus, a: number): boolean =>
      a < (isTerminalNodePhase(ns.phase) ? ns.attempts : ns.attempts - 1);
    const podNameOf = (nodeId: string, ns: NodeStatus, a: number): string =>
      a === ns.attempts - 1 && ns.podName ? ns.podName : taskPodName(execName, nodeId, a);
    let finished: string[] = [];
    // Each live pod names its node and attempt in its labels: look those nodes up (O(live pods)).
    let resolved = true;
    for (const [podName, pod] of live) {
      const labels = pod.metadata?.labels ?? {};
      const nodeId = labels[Labels.node];
      const a = Number(labels[Labels.attempt]);
      const ns = nodeId !== undefined ? nodeStatusAt(status.nodes, nodeId) : undefined;
      if (!ns || nodeId === undefined || !Number.isInteger(a) || podNameOf(nodeId, ns, a) !== podName) {
        // A label bounded (hashed) from a long nested id, or a pod of no known node: scan instead.
        resolved = false;
        break;
      }
      if (isFinished(nodeId, ns, a)) finished.push(podName);
    }
    if (!resolved) {
      finished = [];
      // Nested nodes (sub-workflows, branches) are named by their execution-wide id.
      forEachNodeStatus(status.nodes, (nodeId, ns) => {
        for (let a = 0; a < ns.attempts; a++) {
          const podName = podNameOf(nodeId, ns, a);
          if (isFinished(nodeId, ns, a) && live.has(podName)) finished.push(podName);
        }
      });
    }
    // Finished pods are removed in batches while the workflow runs (and all at once when it
    // ends), keeping API calls per task low.
    if (finished.length < FINISHED_POD_BATCH) return;
    // As many deletes in flight as pod creates in a wave: a level of a wide workflow finishes
    // hundreds of pods at once, and one at a time they would take longer than the level ran.
    await runConcurrently(finished, d.executor.podConcurrency, async (podName) => {
      d.pods.expectDelete(namespace, podName);
      await d.podPort.delete(namespace, podName);
      d.metrics.podsDeleted.inc();
    });
  }
}

/** The workflow-level fields of `status` (a copy without the node map), to compare before and after a round. */
function workflowLevelOf(status: WorkflowExecutionStatus): WorkflowExecutionStatus {
  const nodes = status.nodes;
  status.nodes = {};
  try {
    return clone(WorkflowExecutionStatusSchema, status);
  } finally {
    status.nodes = nodes;
  }
}

/** The status of the node with execution-wide id `uniqueId` (`parent.child` for nested ones). */
function nodeStatusAt(
  nodes: { readonly [id: string]: NodeStatus },
  uniqueId: string,
): NodeStatus | undefined {
  let level = nodes;
  let ns: NodeStatus | undefined;
  for (const part of uniqueId.split(NESTED_NODE_SEPARATOR)) {
    ns = level[part];
    if (!ns) return undefined;
    level = ns.subNodes;
  }
  return ns;
}

function objectKeyOf(obj: WorkflowExecutionCr): string {
  return `${obj.metadata?.namespace ?? ""}/${obj.metadata?.name ?? ""}`;
}

/** When a terminal CR's `status.stoppedAt` is, if it has one. */
export function stoppedAtOf(obj: WorkflowExecutionCr): Date | undefined {
  const s = (obj.status as { stoppedAt?: string } | undefined)?.stoppedAt;
  if (!s) return undefined;
  const d = new Date(s);
  return Number.isNaN(d.getTime()) ? undefined : d;
}
