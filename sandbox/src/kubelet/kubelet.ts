import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import {
  makeInformer,
  type Informer,
  type ListWatch,
  type V1Lease,
  type V1Node,
  type V1Pod,
  type V1Taint,
} from "@kubernetes/client-node";
import {
  Annotations,
  readSimulatedBehaviour,
  isUnpullableImage,
  Outcome,
  podRuntimeMode,
  RuntimeMode,
  InvalidAnnotationError,
  type SimulatedBehaviour,
} from "./annotations.js";
import { KubeletApi, statusOf } from "./api.js";
import {
  buildNode,
  defaultNodeSpecs,
  nodeConditions,
  resolveNodeSpec,
  type NodeSpec,
  type ResolvedNodeSpec,
} from "./node-spec.js";
import {
  disruptionCondition,
  DisruptionReason,
  exitWithCode,
  PodPhase,
  renderPodStatus,
  terminalPhase,
  unschedulableCondition,
  type ContainerExit,
  type ContainerPhase,
  type PodRunView,
} from "./pod-status.js";
import { createProcessRuntime } from "./process-runtime.js";
import {
  ContainerConfigError,
  ContainerStartError,
  resolveEnv,
  type ContainerHandle,
  type ContainerRuntime,
} from "./runtime.js";
import {
  podRequests,
  schedulePod,
  type NodeUsage,
  type ResourceList,
  type ScheduleResult,
} from "./scheduler.js";
import { createSimulatedRuntime } from "./simulated-runtime.js";
import { LatestWinsWriter, RequestPool } from "./work-queue.js";

/** Options of startKubelet. */
export interface KubeletOptions {
  /** API server URL, e.g. "http://127.0.0.1:41234". */
  server: string;
  /** Cluster name: prefixes default node names and zones. */
  clusterName: string;
  /** How pods run unless their `sandbox.flotilla.io/mode` annotation says otherwise. */
  mode: "process" | "simulated";
  /** Nodes to register. Default: defaultNodeSpecs(clusterName) (2 on-demand + 1 spot). */
  nodes?: NodeSpec[];
  /** Root of per-pod working directories (`<workDir>/<namespace>/<pod>/`). */
  workDir: string;
  /** Scheduler and log-flush tick. Default 50 ms. ErrImagePull turns into ImagePullBackOff after 10 ticks. */
  tickMs?: number;
  /** Node lease renewal interval. Default 10 s. */
  heartbeatMs?: number;
  /**
   * First back-off before restarting a container of a restartPolicy Always/OnFailure pod;
   * doubles per restart up to 5 minutes. Default 10 s, as the kubelet.
   */
  restartBackoffMs?: number;
  /** Receives unexpected errors (API failures other than "gone"). Default: written to stderr. */
  onError?: (err: unknown) => void;
  /**
   * Run in a worker thread of its own (default false: on the caller's thread). A thread keeps
   * the kubelet's client-side work (informer decoding, request building) off the event loop of
   * an API server in the same process, which helps long-running sandboxes and benchmarks on a
   * machine with a free core; it costs ~1-2 s of start-up (client-node loads again in the
   * thread) and ~40 MiB, so tests keep the default.
   */
  thread?: boolean;
}

/** Runtime fault injection, the API twin of the `sandbox.flotilla.io/outcome` annotations. */
export interface KubeletFaults {
  /** OOM-kills a running pod's container: exit 137, reason OOMKilled, pod Failed. */
  oomKill(namespace: string, name: string): Promise<void>;
  /**
   * Preempts a running pod. `PreemptionByScheduler` (default) marks DisruptionTarget then
   * deletes it gracefully, as kube-scheduler does for a victim; `TerminationByKubelet` stops it
   * as on a spot node's shutdown notice and leaves it Failed (reason Terminated).
   * Resolves once the terminal status is written.
   */
  preempt(
    namespace: string,
    name: string,
    reason?: "PreemptionByScheduler" | "TerminationByKubelet",
  ): Promise<void>;
  /**
   * Loses a node: its lease stops, it turns Ready=Unknown with the unreachable taints, and
   * each of its pods is Failed with reason NodeLost and DisruptionTarget, containers gone.
   */
  loseNode(nodeName: string): Promise<void>;
  /** Brings a lost node back: Ready again, taints removed, schedulable. */
  restoreNode(nodeName: string): Promise<void>;
  /** Reclaims a spot node: every pod on it is terminated with TerminationByKubelet. */
  reclaimNode(nodeName: string): Promise<void>;
  /** Makes every later pull of `image` fail (ErrImagePull, then ImagePullBackOff). */
  failImagePulls(image: string): void;
}

/** A running simulated kubelet (one per cluster, driving all its nodes). */
export interface Kubelet {
  /** Stops scheduling and heartbeats and kills every container it started. */
  stop(): Promise<void>;
  /** Fault injection. */
  faults: KubeletFaults;
}

/** startKubelet was given options it cannot run with. */
export class InvalidKubeletOptionsError extends Error {
  override readonly name = "InvalidKubeletOptionsError";
  /** @param option the offending option; @param detail what is wrong with it. */
  constructor(
    readonly option: string,
    readonly detail: string,
  ) {
    super(`invalid kubelet option ${option}: ${detail}`);
  }
}

/** A fault targeted a pod or node this kubelet does not run. */
export class KubeletTargetNotFoundError extends Error {
  override readonly name = "KubeletTargetNotFoundError";
  /** @param kind "pod" or "node"; @param target its name (namespace/name for pods). */
  constructor(
    readonly kind: "pod" | "node",
    readonly target: string,
  ) {
    super(`${kind} ${target} is not running on this kubelet`);
  }
}

const UNREACHABLE_TAINTS: V1Taint[] = [
  { key: "node.kubernetes.io/unreachable", effect: "NoSchedule" },
  { key: "node.kubernetes.io/unreachable", effect: "NoExecute" },
];

interface NodeState {
  spec: ResolvedNodeSpec;
  index: number;
  node: V1Node;
  lost: boolean;
  /** What lost the node: the faults API or the node's fault annotation. */
  lostBy?: "api" | "annotation";
  lease?: V1Lease;
  nextPodIP: number;
  /** When Ready last turned True (the condition's lastTransitionTime). */
  readySince: Date;
  /** When the node status (Ready heartbeat) was last written. */
  statusReportedAt: number;
  /** Tail of this node's serialized status changes. */
  ops: Promise<void>;
}

interface Placement {
  nodeName: string;
  requests: ResourceList;
}

const keyOf = (pod: V1Pod) => `${pod.metadata?.namespace ?? "default"}/${pod.metadata?.name ?? ""}`;
const isTerminal = (pod: V1Pod) =>
  pod.status?.phase === PodPhase.succeeded || pod.status?.phase === PodPhase.failed;

/**
 * Runs a simulated kubelet + scheduler for one cluster on the calling thread, talking to its
 * API server only through @kubernetes/client-node: registers the nodes (with leases as
 * heartbeats), binds pending pods that fit, runs bound pods with the process or simulated
 * runtime and reports their status as a kubelet does, confirms graceful deletions, and
 * exposes fault injection. Resolves once the nodes are registered and the informers run.
 * (`startKubelet` runs this on the caller's thread, or in a worker thread with `thread`.)
 */
export async function runKubelet(options: KubeletOptions): Promise<Kubelet> {
  const kubelet = new SandboxKubelet(options);
  try {
    await kubelet.start();
  } catch (err) {
    await kubelet.stop();
    throw err;
  }
  return { stop: () => kubelet.stop(), faults: kubelet.faults };
}

class SandboxKubelet {
  readonly api: KubeletApi;
  readonly tickMs: number;
  readonly restartBackoffMs: number;
  readonly writer: LatestWinsWriter;
  readonly pool = new RequestPool(32);
  readonly nodes = new Map<string, NodeState>();
  readonly brokenImages = new Set<string>();
  /** Workers with buffered log output, flushed on the next tick. */
  readonly logsPending = new Set<PodWorker>();
  readonly runtimes: Record<RuntimeMode, ContainerRuntime>;
  private readonly placements = new Map<string, Placement>();
  private readonly pending = new Map<string, PendingPod>();
  private readonly unschedulable = new Map<string, string>();
  private readonly workers = new Map<string, PodWorker>();
  private informer?: Informer<V1Pod> & ListWatch<V1Pod>;
  private nodeInformer?: Informer<V1Node> & ListWatch<V1Node>;
  private nodeRestartTimer?: NodeJS.Timeout;
  private tickTimer?: NodeJS.Timeout;
  private heartbeatTimer?: NodeJS.Timeout;
  private restartTimer?: NodeJS.Timeout;
  private schedulingNeeded = false;
  private stopped = false;
  readonly onError: (err: unknown) => void;
  readonly faults: KubeletFaults;

  constructor(readonly options: KubeletOptions) {
    this.api = new KubeletApi(options.server, options.clusterName);
    this.tickMs = options.tickMs ?? 50;
    this.restartBackoffMs = options.restartBackoffMs ?? 10_000;
    this.onError =
      options.onError ??
      ((err) =>
        process.stderr.write(
          `[kubelet ${options.clusterName}] ${err instanceof Error ? err.message : String(err)}\n`,
        ));
    this.writer = new LatestWinsWriter((_key, err) => {
      if (statusOf(err) !== 404) this.onError(err);
    });
    this.runtimes = {
      process: createProcessRuntime(),
      simulated: createSimulatedRuntime(({ pod }) => {
        const b = readSimulatedBehaviour(pod);
        const exit: ContainerExit =
          b.outcome === Outcome.oom
            ? { exitCode: 137, reason: "OOMKilled" }
            : b.outcome === Outcome.preempt
              ? { ...exitWithCode(143), signal: 15 }
              : exitWithCode(b.exitCode);
        return { durationMs: b.durationMs, exit, ...(b.log !== undefined ? { log: b.log } : {}) };
      }),
    };
    this.faults = {
      oomKill: async (ns, name) => this.workerFor(ns, name).oomKill(),
      preempt: async (ns, name, reason) =>
        this.workerFor(ns, name).preempt(reason ?? DisruptionReason.preemptionByScheduler),
      loseNode: (node) => this.loseNode(node),
      restoreNode: (node) => this.restoreNode(node),
      reclaimNode: (node) => this.reclaimNode(node),
      failImagePulls: (image) => void this.brokenImages.add(image),
    };
  }

  async start(): Promise<void> {
    const specs = this.options.nodes ?? defaultNodeSpecs(this.options.clusterName);
    if (specs.length === 0) throw new InvalidKubeletOptionsError("nodes", "at least one node is needed");
    const names = new Set<string>();
    for (const [index, spec] of specs.entries()) {
      if (names.has(spec.name))
        throw new InvalidKubeletOptionsError("nodes", `node name ${spec.name} is listed twice`);
      names.add(spec.name);
      const resolved = resolveNodeSpec(this.options.clusterName, spec, index);
      const node = buildNode(this.options.clusterName, resolved, new Date());
      this.nodes.set(spec.name, {
        spec: resolved,
        index,
        node,
        lost: false,
        nextPodIP: 1,
        readySince: new Date(),
        statusReportedAt: Date.now(),
        ops: Promise.resolve(),
      });
    }
    await this.api.ensureNamespace("kube-node-lease");
    for (const state of this.nodes.values()) {
      state.node = await this.api.registerNode(state.node);
      state.lease = await this.api.renewLease(state.spec.name, undefined, new Date());
    }
    const informer = makeInformer<V1Pod>(this.api.kubeConfig, "/api/v1/pods", () =>
      this.api.listPods(),
    ) as Informer<V1Pod> & ListWatch<V1Pod>;
    const nodeInformer = makeInformer<V1Node>(this.api.kubeConfig, "/api/v1/nodes", () =>
      this.api.listNodes(),
    ) as Informer<V1Node> & ListWatch<V1Node>;
    nodeInformer.on("add", (node) => this.onNode(node));
    nodeInformer.on("update", (node) => this.onNode(node));
    nodeInformer.on("delete", (node) => this.onNodeDeleted(node));
    nodeInformer.on("error", (err) => {
      if (this.stopped) return;
      this.onError(err);
      this.nodeRestartTimer = setTimeout(
        () => void nodeInformer.start().catch((e: unknown) => this.onError(e)),
        250,
      );
    });
    this.nodeInformer = nodeInformer;
    await nodeInformer.start();
    informer.on("add", (pod) => this.onPod(pod));
    informer.on("update", (pod) => this.onPod(pod));
    informer.on("delete", (pod) => this.onPodDeleted(pod));
    informer.on("error", (err) => {
      if (this.stopped) return;
      this.onError(err);
      this.restartTimer = setTimeout(() => void informer.start().catch((e: unknown) => this.onError(e)), 250);
    });
    this.informer = informer;
    await informer.start();
    this.tickTimer = setInterval(() => this.tick(), this.tickMs);
    this.heartbeatTimer = setInterval(() => void this.heartbeat(), this.options.heartbeatMs ?? 10_000);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.tickTimer);
    clearInterval(this.heartbeatTimer);
    clearTimeout(this.restartTimer);
    clearTimeout(this.nodeRestartTimer);
    await this.nodeInformer?.stop();
    await this.informer?.stop();
    await Promise.all([...this.workers.values()].map((w) => w.shutdown()));
    this.api.close();
  }

  // ---- pod events ----------------------------------------------------------------------------

  private onPod(pod: V1Pod): void {
    if (this.stopped) return;
    try {
      this.handlePod(pod);
    } catch (err) {
      // A pod this kubelet cannot make sense of (e.g. a malformed quantity) must not stop it
      // from serving the others.
      this.onError(err);
    }
  }

  private handlePod(pod: V1Pod): void {
    const key = keyOf(pod);
    const nodeName = pod.spec?.nodeName;
    if (!nodeName) {
      if (pod.metadata?.deletionTimestamp) {
        // An unscheduled pod has no containers to stop: confirm its deletion at once.
        this.pending.delete(key);
        void this.request(() =>
          this.api.deletePod(pod.metadata?.namespace ?? "default", pod.metadata?.name ?? "", {
            gracePeriodSeconds: 0,
            uid: pod.metadata?.uid,
          }),
        ).catch(this.onError);
      } else if (!isTerminal(pod) && !this.placements.has(key)) {
        this.pending.set(key, pendingPod(pod));
        this.schedulingNeeded = true;
      }
      return;
    }
    this.pending.delete(key);
    this.unschedulable.delete(key);
    const node = this.nodes.get(nodeName);
    if (!node) return;
    if (isTerminal(pod)) {
      if (this.placements.delete(key)) this.schedulingNeeded = true;
    } else if (!this.placements.has(key)) {
      this.placements.set(key, { nodeName, requests: podRequests(pod) });
    }
    let worker = this.workers.get(key);
    if (worker && worker.uid !== pod.metadata?.uid) {
      void worker.shutdown();
      this.workers.delete(key);
      worker = undefined;
    }
    if (worker) {
      worker.update(pod);
      return;
    }
    // A lost node's kubelet is gone: pods bound there wait until the node comes back.
    if (node.lost && !pod.metadata?.deletionTimestamp) return;
    if (isTerminal(pod) || pod.status?.phase === PodPhase.running) {
      // Not started by this kubelet instance (it restarted): a finished pod only needs its
      // deletion confirmed; a running one lost its containers with the previous instance.
      worker = new PodWorker(this, pod, node, { adopted: true });
    } else {
      worker = new PodWorker(this, pod, node, { adopted: false });
    }
    this.workers.set(key, worker);
    worker.begin();
  }

  private onPodDeleted(pod: V1Pod): void {
    const key = keyOf(pod);
    this.pending.delete(key);
    this.unschedulable.delete(key);
    if (this.placements.delete(key)) this.schedulingNeeded = true;
    const worker = this.workers.get(key);
    if (worker && worker.uid === pod.metadata?.uid) {
      this.workers.delete(key);
      void worker.shutdown();
    }
  }

  /** Called by a worker whose pod reached a terminal phase: its resources are free again. */
  released(key: string): void {
    if (this.placements.delete(key)) this.schedulingNeeded = true;
  }

  private workerFor(namespace: string, name: string): PodWorker {
    const worker = this.workers.get(`${namespace}/${name}`);
    if (!worker) throw new KubeletTargetNotFoundError("pod", `${namespace}/${name}`);
    return worker;
  }

  // ---- scheduling ----------------------------------------------------------------------------

  private tick(): void {
    for (const w of this.logsPending) void w.flushLogs();
    this.logsPending.clear();
    if (this.schedulingNeeded && !this.stopped) this.schedule();
  }

  private schedule(): void {
    this.schedulingNeeded = false;
    if (this.pending.size === 0) return;
    const usage = new Map<string, NodeUsage>();
    for (const [name, state] of this.nodes)
      usage.set(name, { node: state.node, requested: new Map(), pods: 0 });
    for (const p of this.placements.values()) {
      const u = usage.get(p.nodeName);
      if (!u) continue;
      u.pods++;
      for (const [r, amount] of p.requests) u.requested.set(r, (u.requested.get(r) ?? 0) + amount);
    }
    const usageList = [...usage.values()];
    const queue = [...this.pending.entries()].sort(
      ([ka, a], [kb, b]) => a.created - b.created || ka.localeCompare(kb),
    );
    // Usage only grows during a pass, so a pod identical (for scheduling) to one that did not
    // fit will not fit either: 10,000 identical pending pods cost one evaluation, not 10,000.
    const failed = new Map<string, string>();
    for (const [key, { pod, requests, signature }] of queue) {
      const known = failed.get(signature);
      const result: ScheduleResult =
        known !== undefined ? { scheduled: false, message: known } : schedulePod(pod, usageList, requests);
      if (!result.scheduled) {
        failed.set(signature, result.message);
        if (this.unschedulable.get(key) !== result.message) {
          this.unschedulable.set(key, result.message);
          this.reportUnschedulable(pod, result.message);
        }
        continue;
      }
      this.pending.delete(key);
      this.unschedulable.delete(key);
      this.placements.set(key, { nodeName: result.nodeName, requests });
      const u = usage.get(result.nodeName);
      if (u) {
        u.pods++;
        for (const [r, amount] of requests) u.requested.set(r, (u.requested.get(r) ?? 0) + amount);
      }
      void this.bind(key, pod, result.nodeName);
    }
  }

  private async bind(key: string, pod: V1Pod, nodeName: string): Promise<void> {
    const ns = pod.metadata?.namespace ?? "default";
    const name = pod.metadata?.name ?? "";
    try {
      await this.pool.run(() => this.api.bindPod(ns, name, pod.metadata?.uid, nodeName));
    } catch (err) {
      const status = statusOf(err);
      // 404: deleted meanwhile. 409: already bound (by us earlier or someone else).
      if (status !== 404 && status !== 409) {
        this.onError(err);
        const current = this.informer?.get(name, ns);
        if (current && !current.spec?.nodeName && current.metadata?.uid === pod.metadata?.uid) {
          this.placements.delete(key);
          this.pending.set(key, pendingPod(current));
          this.schedulingNeeded = true;
        }
      } else if (status === 404) {
        this.placements.delete(key);
      }
    }
  }

  private reportUnschedulable(pod: V1Pod, message: string): void {
    const ns = pod.metadata?.namespace ?? "default";
    const name = pod.metadata?.name ?? "";
    const key = keyOf(pod);
    void this.writer.submit(key, async () => {
      const current = this.informer?.get(name, ns) ?? pod;
      if (current.spec?.nodeName || current.metadata?.uid !== pod.metadata?.uid) return;
      if (this.unschedulable.get(key) !== message) return;
      const others = (current.status?.conditions ?? []).filter((c) => c.type !== "PodScheduled");
      await this.request(() =>
        this.api.patchPodStatus(
          ns,
          name,
          toWire({
            phase: PodPhase.pending,
            conditions: [...others, unschedulableCondition(message, new Date())],
          }),
        ),
      );
    });
  }

  // ---- nodes -------------------------------------------------------------------------------

  /**
   * Renews every live node's lease, and, like a kubelet's nodeStatusReportFrequency, re-posts
   * its Ready condition with a fresh heartbeat every six lease periods even when unchanged.
   */
  private async heartbeat(): Promise<void> {
    const reportEveryMs = 6 * (this.options.heartbeatMs ?? 10_000);
    for (const state of this.nodes.values()) {
      if (state.lost || this.stopped) continue;
      const now = new Date();
      try {
        state.lease = await this.pool.run(() => this.api.renewLease(state.spec.name, state.lease, now));
        if (now.getTime() - state.statusReportedAt >= reportEveryMs) {
          state.statusReportedAt = now.getTime();
          await this.nodeOp(state, async () => {
            if (state.lost) return; // lost meanwhile: its Unknown condition must stand
            await this.pool.run(() =>
              this.api.patchNodeStatus(
                state.spec.name,
                toWire({ conditions: nodeConditions(true, now, state.readySince) }),
              ),
            );
          });
        }
      } catch (err) {
        state.lease = undefined;
        this.onError(err);
      }
    }
  }

  nodeState(name: string): NodeState {
    const state = this.nodes.get(name);
    if (!state) throw new KubeletTargetNotFoundError("node", name);
    return state;
  }

  /** Keeps the scheduler's copy of our nodes current (labels, cordon) and applies fault annotations. */
  private onNode(node: V1Node): void {
    const name = node.metadata?.name ?? "";
    const state = this.nodes.get(name);
    if (!state || this.stopped) return;
    state.node = node;
    this.schedulingNeeded = true;
    const fault = node.metadata?.annotations?.[Annotations.nodeFault];
    if (fault === "lost" && !state.lost) {
      void this.loseNode(name, "annotation").catch(this.onError);
    } else if (fault !== "lost" && state.lost && state.lostBy === "annotation") {
      void this.restoreNode(name).catch(this.onError);
    }
  }

  /** A real kubelet re-registers a node object deleted under it; so does this one. */
  private onNodeDeleted(node: V1Node): void {
    const state = this.nodes.get(node.metadata?.name ?? "");
    if (!state || this.stopped) return;
    state.lost = false;
    state.lostBy = undefined;
    state.readySince = new Date();
    const fresh = buildNode(this.options.clusterName, state.spec, state.readySince);
    void this.api
      .registerNode(fresh)
      .then((registered) => {
        state.node = registered;
        this.schedulingNeeded = true;
      })
      .catch(this.onError);
  }

  /** Runs node status changes of one node one after the other (heartbeat, lose, restore). */
  private nodeOp(state: NodeState, op: () => Promise<void>): Promise<void> {
    const next = state.ops.then(op, op);
    state.ops = next.catch(() => undefined);
    return next;
  }

  private async loseNode(name: string, by: "api" | "annotation" = "api"): Promise<void> {
    const state = this.nodeState(name);
    if (state.lost) return;
    state.lost = true;
    state.lostBy = by;
    await this.nodeOp(state, () => this.markLost(state));
  }

  private async markLost(state: NodeState): Promise<void> {
    const name = state.spec.name;
    const now = new Date();
    const taints = [
      ...(state.node.spec?.taints ?? []).filter((t) => !t.key.startsWith("node.kubernetes.io/unreachable")),
      ...UNREACHABLE_TAINTS.map((t) => ({ ...t, timeAdded: now })),
    ];
    await this.api.setNodeTaints(name, toWire(taints));
    state.node = await this.api.patchNodeStatus(
      name,
      toWire({ conditions: nodeConditions(false, lastHeartbeat(state.node) ?? now, now) }),
    );
    state.node.spec = { ...state.node.spec, taints };
    const victims = [...this.workers.values()].filter((w) => w.nodeName === name);
    await Promise.all(victims.map((w) => w.nodeLost()));
  }

  private async restoreNode(name: string): Promise<void> {
    const state = this.nodeState(name);
    if (!state.lost) return;
    await this.nodeOp(state, () => this.markRestored(state));
  }

  private async markRestored(state: NodeState): Promise<void> {
    if (!state.lost) return;
    const name = state.spec.name;
    const now = new Date();
    const taints = (state.node.spec?.taints ?? []).filter(
      (t) => !t.key.startsWith("node.kubernetes.io/unreachable"),
    );
    await this.api.setNodeTaints(name, toWire(taints));
    state.node = await this.api.patchNodeStatus(name, toWire({ conditions: nodeConditions(true, now, now) }));
    state.readySince = now;
    state.statusReportedAt = now.getTime();
    state.node.spec = { ...state.node.spec, taints };
    state.lost = false;
    state.lostBy = undefined;
    state.lease = await this.api.renewLease(name, state.lease, now);
    this.schedulingNeeded = true;
    for (const pod of this.informer?.list() ?? []) {
      if (pod.spec?.nodeName === name && !this.workers.has(keyOf(pod))) this.onPod(pod);
    }
  }

  private async reclaimNode(name: string): Promise<void> {
    this.nodeState(name);
    const victims = [...this.workers.values()].filter((w) => w.nodeName === name);
    await Promise.all(victims.map((w) => w.preempt(DisruptionReason.terminationByKubelet)));
  }

  /**
   * Runs an API call in the request pool, retrying transient failures (no response, 429, 5xx)
   * with capped exponential back-off, as a kubelet's status manager keeps retrying, until it
   * succeeds, fails for good (4xx), the kubelet stops, or `alive()` turns false.
   */
  async request<T>(call: () => Promise<T>, alive: () => boolean = () => true): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.pool.run(call);
      } catch (err) {
        const status = statusOf(err);
        const transient = status === 0 || status === 429 || status >= 500;
        if (!transient || this.stopped || !alive()) throw err;
        await new Promise((resolve) => setTimeout(resolve, Math.min(50 * 2 ** attempt, 2000)).unref());
        if (this.stopped || !alive()) throw err;
      }
    }
  }

  runtimeFor(pod: V1Pod): RuntimeMode {
    return podRuntimeMode(pod, this.options.mode);
  }
}

/** A pod waiting for a node, with what the scheduler needs precomputed. */
interface PendingPod {
  pod: V1Pod;
  requests: ResourceList;
  /** Everything that decides where the pod fits; equal signatures fit the same nodes. */
  signature: string;
  /** Creation time in ms, the queue order. */
  created: number;
}

function pendingPod(pod: V1Pod): PendingPod {
  const requests = podRequests(pod);
  const spec = pod.spec;
  const signature = JSON.stringify([
    [...requests].sort(([a], [b]) => a.localeCompare(b)),
    spec?.nodeSelector ?? null,
    spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? null,
    spec?.tolerations ?? null,
  ]);
  return { pod, requests, signature, created: timeOf(pod.metadata?.creationTimestamp) };
}

function timeOf(value: Date | string | undefined): number {
  if (value === undefined) return 0;
  return value instanceof Date ? value.getTime() : Date.parse(value);
}

function lastHeartbeat(node: V1Node): Date | undefined {
  const ready = node.status?.conditions?.find((c) => c.type === "Ready");
  return ready?.lastHeartbeatTime ? new Date(ready.lastHeartbeatTime) : undefined;
}

/**
 * Deep-copies `value` for the wire, writing dates as Kubernetes does (RFC 3339, whole
 * seconds, UTC) since objects sent as patches bypass client-node's serializer.
 */
export function toWire<T>(value: T): T {
  return wireValue(value) as T;
}

function wireValue(value: unknown): unknown {
  if (value instanceof Date) return `${value.toISOString().slice(0, 19)}Z`;
  if (Array.isArray(value)) return value.map(wireValue);
  if (value === null || typeof value !== "object") return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = wireValue(v);
  return out;
}

// ---- per-pod lifecycle -------------------------------------------------------------------------

/**
 * Drives one pod bound to one of this kubelet's nodes:
 *
 *   begin ─▶ Pending/ContainerCreating ─┬─▶ (image unpullable) Pending/ErrImagePull ─▶ ImagePullBackOff
 *                                        ├─▶ (bad config) Pending/CreateContainerConfigError
 *                                        ├─▶ (cannot exec) Failed/StartError
 *                                        └─▶ Running ─▶ Succeeded | Failed (Error, OOMKilled,
 *                                              │        DisruptionTarget, NodeLost)
 *                                              └─▶ (restartPolicy Always/OnFailure) Running with
 *                                                  CrashLoopBackOff, restartCount+1 ─▶ Running ...
 *   deletionTimestamp at any point ─▶ stop containers (grace) ─▶ terminal status ─▶ delete(grace=0)
 */
class PodWorker {
  pod: V1Pod;
  readonly uid: string | undefined;
  readonly key: string;
  readonly namespace: string;
  readonly name: string;
  readonly nodeName: string;
  private view: PodRunView;
  private handle?: ContainerHandle;
  private behaviour?: SimulatedBehaviour;
  private disruption?: { reason: DisruptionReason; message: string };
  private lost = false;
  private finished = false;
  private cancelled = false;
  private deleting = false;
  private logBuffer = "";
  private logChain: Promise<void> = Promise.resolve();
  private backoffTimer?: NodeJS.Timeout;
  private terminalWritten?: Promise<void>;
  private defunct = false;
  private lastWritten = "";
  /** Whether a container process (or simulation) is currently running. */
  private running = false;
  private wakeBackoff?: () => void;
  private attemptWaiters: Array<() => void> = [];
  private settle!: () => void;
  /** Resolves once the pod is done with: terminal status written, or deletion confirmed. */
  private readonly settled = new Promise<void>((resolve) => {
    this.settle = resolve;
  });

  constructor(
    private readonly kubelet: SandboxKubelet,
    pod: V1Pod,
    private readonly node: NodeState,
    private readonly mode: { adopted: boolean },
  ) {
    this.pod = pod;
    this.uid = pod.metadata?.uid;
    this.key = keyOf(pod);
    this.namespace = pod.metadata?.namespace ?? "default";
    this.name = pod.metadata?.name ?? "";
    this.nodeName = node.spec.name;
    const startTime = pod.status?.startTime ? new Date(pod.status.startTime) : new Date();
    this.view = {
      phase: PodPhase.pending,
      containers: this.allContainers({ kind: "waiting", reason: "ContainerCreating" }),
      hostIP: node.spec.address,
      startTime,
      runtime: "sandbox",
    };
  }

  private allContainers(phase: ContainerPhase): ContainerPhase[] {
    // Every container of the pod reports the state of the main (first) container.
    return (this.pod.spec?.containers ?? []).map(() => phase);
  }

  begin(): void {
    if (this.mode.adopted) {
      if (isTerminal(this.pod)) {
        this.finished = true;
        this.kubelet.released(this.key);
        if (this.pod.metadata?.deletionTimestamp) {
          void this.confirmDeletion().catch((err: unknown) => this.kubelet.onError(err));
        }
        return;
      }
      void this.finish(
        {
          exitCode: 137,
          reason: "ContainerStatusUnknown",
          message: "The container could not be located when the pod was terminated",
        },
        undefined,
      ).catch((err: unknown) => this.kubelet.onError(err));
      return;
    }
    void this.run().catch((err: unknown) => this.kubelet.onError(err));
  }

  update(pod: V1Pod): void {
    this.pod = pod;
    if (pod.metadata?.deletionTimestamp && !this.deleting) {
      this.deleting = true;
      void this.stopForDeletion().catch((err: unknown) => this.kubelet.onError(err));
    }
  }

  private writeStatus(): Promise<void> {
    return this.kubelet.writer.submit(this.key, async () => {
      if (this.defunct) return;
      // The view is read when the write runs, so queued writes coalesce: under load a pod may
      // go from its last reported state straight to the newest one, and an unchanged state is
      // not written twice.
      const signature = JSON.stringify(this.view);
      if (signature === this.lastWritten) return;
      const status = renderPodStatus(this.pod, this.view, new Date());
      const updated = await this.kubelet.request(
        () => this.kubelet.api.patchPodStatus(this.namespace, this.name, toWire(status)),
        () => !this.defunct,
      );
      this.lastWritten = signature;
      if (updated.metadata?.uid === this.uid) this.pod = { ...this.pod, status: updated.status ?? status };
    });
  }

  private async run(): Promise<void> {
    const pod = this.pod;
    const container = pod.spec?.containers?.[0];
    if (this.pod.metadata?.deletionTimestamp) {
      this.update(pod);
      return;
    }
    this.view.podIP = `127.${100 + (this.node.index % 150)}.${(this.node.nextPodIP >> 8) & 255}.${this.node.nextPodIP & 255}`;
    this.node.nextPodIP = (this.node.nextPodIP % 65_000) + 1;
    let mode: RuntimeMode;
    try {
      mode = this.kubelet.runtimeFor(pod);
      if (
        mode === RuntimeMode.simulated ||
        pod.metadata?.annotations?.["sandbox.flotilla.io/outcome"] !== undefined
      ) {
        this.behaviour = readSimulatedBehaviour(pod);
      }
    } catch (err) {
      if (err instanceof InvalidAnnotationError)
        return this.waitWithError("CreateContainerConfigError", err.message);
      throw err;
    }
    const runtime = this.kubelet.runtimes[mode];
    this.view.runtime = runtime.name;
    // Not awaited: if the status writer is busy, this write and the Running one that follows
    // coalesce into one (a kubelet under load also skips straight to the newest state).
    void this.writeStatus();
    if (!container) return this.waitWithError("CreateContainerConfigError", "pod has no containers");
    const image = container.image;
    if (
      isUnpullableImage(image) ||
      this.kubelet.brokenImages.has(image ?? "") ||
      this.behaviour?.outcome === Outcome.imagePullError
    ) {
      return this.failImagePull(image ?? "");
    }
    let env: Record<string, string>;
    try {
      env = resolveEnv(pod, container, {
        nodeName: this.nodeName,
        hostIP: this.view.hostIP,
        podIP: this.view.podIP,
      });
    } catch (err) {
      if (err instanceof ContainerConfigError)
        return this.waitWithError("CreateContainerConfigError", err.detail);
      throw err;
    }
    const workDir = join(this.kubelet.options.workDir, this.namespace, this.name);
    if (mode === RuntimeMode.process) {
      await mkdir(workDir, { recursive: true });
      if (this.cancelled) return;
    }
    const policy = pod.spec?.restartPolicy ?? "Always";
    for (;;) {
      let handle: ContainerHandle;
      try {
        handle = await runtime.start({
          pod,
          container,
          workDir,
          env,
          onOutput: (text) => this.appendLog(text),
        });
      } catch (err) {
        if (!(err instanceof ContainerStartError)) throw err;
        const exit: ContainerExit = { exitCode: 128, reason: "StartError", message: err.detail };
        const again = policy !== "Never" && (await this.backOff(exit, undefined));
        if (this.lost) return;
        if (!again) {
          await this.finish(exit, undefined);
          return;
        }
        continue;
      }
      this.handle = handle;
      if (this.cancelled) {
        await handle.stop(0);
        return;
      }
      this.running = true;
      this.view.phase = PodPhase.running;
      this.view.containers = this.allContainers({ kind: "running", startedAt: handle.startedAt });
      void this.writeStatus();
      const exit = await handle.exited;
      this.running = false;
      if (this.lost) return;
      if (this.behaviour?.outcome === Outcome.preempt && !this.disruption && !this.deleting) {
        this.disruption = {
          reason: DisruptionReason.terminationByKubelet,
          message: "Pod was terminated in response to imminent node shutdown.",
        };
      }
      const restart = policy === "Always" || (policy === "OnFailure" && exit.exitCode !== 0);
      const again =
        restart && !this.disruption && !this.deleting && (await this.backOff(exit, handle.startedAt));
      if (this.lost) return;
      if (!again) {
        await this.finish(exit, handle.startedAt);
        return;
      }
    }
  }

  /**
   * Records a run that will be restarted (restartCount, lastState), reports the container as
   * waiting in CrashLoopBackOff and waits out the back-off. Returns false when the pod must
   * stop instead (deleted, disrupted, lost or shut down meanwhile).
   */
  private async backOff(exit: ContainerExit, startedAt: Date | undefined): Promise<boolean> {
    const finishedAt = new Date();
    const restarts = this.view.restartCount ?? 0;
    const prior = this.view.lastTermination;
    const delay = Math.min(this.kubelet.restartBackoffMs * 2 ** restarts, 300_000);
    const container = this.pod.spec?.containers?.[0]?.name ?? "";
    this.view.lastTermination = { exit, finishedAt, ...(startedAt ? { startedAt } : {}) };
    this.view.restartCount = restarts + 1;
    this.view.phase = PodPhase.running;
    this.view.containers = this.allContainers({
      kind: "waiting",
      reason: "CrashLoopBackOff",
      message: `back-off ${Math.round(delay / 1000)}s restarting failed container=${container} pod=${this.name}_${this.namespace}(${this.uid ?? ""})`,
    });
    await this.flushLogs();
    void this.writeStatus();
    this.settleAttempt();
    await new Promise<void>((resolve) => {
      this.wakeBackoff = resolve;
      this.backoffTimer = setTimeout(resolve, delay);
    });
    this.wakeBackoff = undefined;
    if (this.deleting || this.disruption || this.cancelled || this.lost) {
      // Not restarted after all: this run's exit is the container's final state.
      this.view.restartCount = restarts;
      this.view.lastTermination = prior;
      return false;
    }
    return true;
  }

  private waitWithError(reason: string, message: string): Promise<void> {
    this.view.containers = this.allContainers({ kind: "waiting", reason, message });
    return this.writeStatus();
  }

  private async failImagePull(image: string): Promise<void> {
    const ref = image.includes(":") || image.includes("@") ? image : `${image}:latest`;
    await this.waitWithError(
      "ErrImagePull",
      `failed to pull and unpack image "${ref}": failed to resolve reference "${ref}": pull access denied, repository does not exist or may require authorization`,
    );
    if (this.cancelled) return;
    await new Promise<void>((resolve) => {
      this.backoffTimer = setTimeout(resolve, this.kubelet.tickMs * 10);
    });
    if (this.cancelled || this.lost) return;
    await this.waitWithError("ImagePullBackOff", `Back-off pulling image "${image}"`);
  }

  /** Records the container's exit, writes the terminal status, confirms a pending deletion. */
  private finish(exit: ContainerExit, startedAt: Date | undefined): Promise<void> {
    if (this.terminalWritten) return this.terminalWritten;
    this.terminalWritten = (async () => {
      await this.flushLogs();
      const finishedAt = new Date();
      this.view.containers = this.allContainers({
        kind: "terminated",
        exit,
        finishedAt,
        ...(startedAt ? { startedAt } : {}),
      });
      this.view.phase = terminalPhase([exit]);
      if (this.disruption) {
        this.view.phase = PodPhase.failed;
        this.view.extraConditions = [
          disruptionCondition(this.disruption.reason, this.disruption.message, finishedAt),
        ];
        if (this.disruption.reason === DisruptionReason.terminationByKubelet) {
          this.view.reason = "Terminated";
          this.view.message = this.disruption.message;
        }
      }
      this.finished = true;
      await this.writeStatus();
      this.kubelet.released(this.key);
      this.settle();
      this.settleAttempt();
      if (this.deleting) await this.confirmDeletion();
    })();
    return this.terminalWritten;
  }

  private async stopForDeletion(): Promise<void> {
    clearTimeout(this.backoffTimer);
    this.wakeBackoff?.();
    if (this.finished) {
      await this.terminalWritten;
      return this.confirmDeletion();
    }
    if (this.handle) {
      const meta = this.pod.metadata;
      const graceSeconds =
        meta?.deletionGracePeriodSeconds ?? this.pod.spec?.terminationGracePeriodSeconds ?? 30;
      await this.handle.stop(graceSeconds * 1000);
      // run() observes the exit and calls finish(), which confirms the deletion.
      return;
    }
    // Never started (creating, image pull failing, config error): nothing to stop.
    this.cancelled = true;
    this.kubelet.released(this.key);
    await this.confirmDeletion();
  }

  private async confirmDeletion(): Promise<void> {
    await this.kubelet.writer.idle(this.key);
    await this.kubelet.request(() =>
      this.kubelet.api.deletePod(this.namespace, this.name, { gracePeriodSeconds: 0, uid: this.uid }),
    );
    this.settle();
  }

  async oomKill(): Promise<void> {
    if (!this.handle || !this.running || this.finished) {
      throw new KubeletTargetNotFoundError("pod", `${this.key} (no running container)`);
    }
    const reported = new Promise<void>((resolve) => this.attemptWaiters.push(resolve));
    await this.handle.oomKill();
    await reported;
  }

  async preempt(reason: DisruptionReason): Promise<void> {
    if (this.finished) return;
    const now = new Date();
    if (reason === DisruptionReason.preemptionByScheduler) {
      this.disruption = {
        reason,
        message: "sandbox-scheduler: preempting to accommodate a higher priority pod",
      };
      // Mark first, then delete: the victim keeps the condition on its way out.
      const others = (this.pod.status?.conditions ?? []).filter((c) => c.type !== "DisruptionTarget");
      this.view.extraConditions = [disruptionCondition(reason, this.disruption.message, now)];
      await this.kubelet.writer.submit(this.key, async () => {
        await this.kubelet.request(() =>
          this.kubelet.api.patchPodConditions(
            this.namespace,
            this.name,
            toWire([...others, ...(this.view.extraConditions ?? [])]),
          ),
        );
      });
      await this.kubelet.request(() =>
        this.kubelet.api.deletePod(this.namespace, this.name, { uid: this.uid }),
      );
      return this.waitTerminal();
    }
    this.disruption = { reason, message: "Pod was terminated in response to imminent node shutdown." };
    this.wakeBackoff?.();
    if (this.handle) {
      const grace = this.pod.spec?.terminationGracePeriodSeconds ?? 30;
      await this.handle.stop(grace * 1000);
      return this.waitTerminal();
    }
    this.cancelled = true;
    clearTimeout(this.backoffTimer);
    await this.finish(exitWithCode(137), undefined);
  }

  /** Wakes whoever waits for the current run's exit to be reported. */
  private settleAttempt(): void {
    const waiters = this.attemptWaiters;
    this.attemptWaiters = [];
    for (const w of waiters) w();
  }

  private waitTerminal(): Promise<void> {
    return this.settled;
  }

  /** The node went away: containers are gone, the pod fails with NodeLost. */
  async nodeLost(): Promise<void> {
    if (this.finished) return;
    this.lost = true;
    this.cancelled = true;
    clearTimeout(this.backoffTimer);
    this.wakeBackoff?.();
    await this.handle?.stop(0);
    this.disruption = {
      reason: DisruptionReason.deletionByTaintManager,
      message: "Taint manager: deleting due to NoExecute taint",
    };
    this.view.reason = "NodeLost";
    this.view.message = `Node ${this.nodeName} which was running pod ${this.name} is unresponsive`;
    const started = this.view.containers[0];
    await this.finish(
      {
        exitCode: 137,
        reason: "ContainerStatusUnknown",
        message: "The container could not be located when the pod was terminated",
      },
      started?.kind === "running" ? started.startedAt : undefined,
    );
  }

  /** Kubelet shutdown: kill the container without reporting (the cluster is going away). */
  async shutdown(): Promise<void> {
    this.defunct = true;
    this.cancelled = true;
    this.lost = true;
    clearTimeout(this.backoffTimer);
    this.wakeBackoff?.();
    if (this.handle && !this.finished) await this.handle.stop(0);
  }

  appendLog(text: string): void {
    this.logBuffer += text;
    this.kubelet.logsPending.add(this);
    if (this.logBuffer.length > 256 * 1024) void this.flushLogs();
  }

  flushLogs(): Promise<void> {
    if (this.logBuffer === "") return this.logChain;
    const chunk = this.logBuffer;
    this.logBuffer = "";
    const container = this.pod.spec?.containers?.[0]?.name ?? "";
    this.logChain = this.logChain.then(() =>
      this.kubelet
        .request(
          () => this.kubelet.api.appendLog(this.namespace, this.name, container, chunk),
          () => !this.defunct,
        )
        .catch((err: unknown) => this.kubelet.onError(err)),
    );
    return this.logChain;
  }
}
