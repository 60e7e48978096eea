/**
 * The simulated kubelet of one cluster, composed of its parts: node lifecycle
 * (`node-lifecycle.ts`), the scheduling queue (`scheduling-queue.ts`) and one pod worker per
 * bound pod (`pod-worker.ts`), fed by pod and node informers over
 * @kubernetes/client-node. This file wires them and routes informer events and faults.
 */
import {
  makeInformer,
  type Informer,
  type KubernetesObject,
  type ListWatch,
  type V1Node,
  type V1Pod,
} from "@kubernetes/client-node";
import { backoffDelay, sleep, type BackoffOptions } from "@flotilla/runtime";
import { readSimulatedBehaviour, Outcome, podRuntimeMode, type RuntimeMode } from "./annotations.js";
import { KubeletApi, statusOf } from "./api.js";
import { KubeletTargetNotFoundError, logKubeletErrors } from "./errors.js";
import { NodeLifecycle } from "./node-lifecycle.js";
import { defaultNodeSpecs, type NodeSpec } from "./node-spec.js";
import { DisruptionReason, exitWithCode, PodPhase, type ContainerExit } from "./pod-status.js";
import { isTerminal, keyOf, PodWorker } from "./pod-worker.js";
import { createProcessRuntime } from "./process-runtime.js";
import type { ContainerRuntime } from "./runtime.js";
import { SchedulingQueue } from "./scheduling-queue.js";
import { createSimulatedRuntime } from "./simulated-runtime.js";
import { LatestWinsWriter, RequestPool } from "./work-queue.js";

export { InvalidKubeletOptionsError, KubeletTargetNotFoundError } from "./errors.js";

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

/** Waits before an informer starts again after its list or watch failed (reset once it connects). */
const INFORMER_RESTART: BackoffOptions = { initialMs: 250, maxMs: 5_000 };
/** Waits between attempts of an API call that failed transiently. */
const REQUEST_RETRY: BackoffOptions = { initialMs: 50, maxMs: 2_000 };

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
  readonly workDir: string;
  readonly writer: LatestWinsWriter;
  readonly pool = new RequestPool(32);
  readonly brokenImages = new Set<string>();
  readonly runtimes: Record<RuntimeMode, ContainerRuntime>;
  readonly faults: KubeletFaults;
  readonly onError: (err: unknown) => void;
  /** Workers with buffered log output, flushed on the next tick. */
  private readonly logsPending = new Set<PodWorker>();
  private readonly workers = new Map<string, PodWorker>();
  private readonly nodes: NodeLifecycle;
  private readonly scheduling: SchedulingQueue;
  private informer?: Informer<V1Pod> & ListWatch<V1Pod>;
  private nodeInformer?: Informer<V1Node> & ListWatch<V1Node>;
  /** Aborted on stop: cuts retry and restart waits short. */
  private readonly stopping = new AbortController();
  private tickTimer?: NodeJS.Timeout;
  private stopped = false;

  constructor(readonly options: KubeletOptions) {
    this.api = new KubeletApi(options.server, options.clusterName);
    this.tickMs = options.tickMs ?? 50;
    this.restartBackoffMs = options.restartBackoffMs ?? 10_000;
    this.workDir = options.workDir;
    this.onError = options.onError ?? logKubeletErrors(options.clusterName);
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
    this.nodes = new NodeLifecycle(
      {
        api: this.api,
        pool: this.pool,
        stopped: () => this.stopped,
        onError: this.onError,
        nodesChanged: () => this.scheduling.markNeeded(),
        workersOn: (nodeName) => [...this.workers.values()].filter((w) => w.nodeName === nodeName),
        nodeRestored: (nodeName) => {
          for (const pod of this.informer?.list() ?? []) {
            if (pod.spec?.nodeName === nodeName && !this.workers.has(keyOf(pod))) this.onPod(pod);
          }
        },
      },
      {
        clusterName: options.clusterName,
        nodes: options.nodes ?? defaultNodeSpecs(options.clusterName),
        heartbeatMs: options.heartbeatMs ?? 10_000,
      },
    );
    this.scheduling = new SchedulingQueue({
      api: this.api,
      pool: this.pool,
      writer: this.writer,
      request: (call) => this.request(call),
      nodes: () => [...this.nodes.nodes].map(([name, state]) => [name, state.node]),
      currentPod: (ns, name) => this.informer?.get(name, ns),
      onError: this.onError,
    });
    this.faults = {
      oomKill: async (ns, name) => this.workerFor(ns, name).oomKill(),
      preempt: async (ns, name, reason) =>
        this.workerFor(ns, name).preempt(reason ?? DisruptionReason.preemptionByScheduler),
      loseNode: (node) => this.nodes.loseNode(node),
      restoreNode: (node) => this.nodes.restoreNode(node),
      reclaimNode: (node) => this.nodes.reclaimNode(node),
      failImagePulls: (image) => void this.brokenImages.add(image),
    };
  }

  async start(): Promise<void> {
    await this.nodes.register();
    this.nodeInformer = await this.startInformer<V1Node>("/api/v1/nodes", () => this.api.listNodes(), {
      upsert: (node) => this.nodes.onNode(node),
      delete: (node) => this.nodes.onNodeDeleted(node),
    });
    this.informer = await this.startInformer<V1Pod>("/api/v1/pods", () => this.api.listPods(), {
      upsert: (pod) => this.onPod(pod),
      delete: (pod) => this.onPodDeleted(pod),
    });
    this.tickTimer = setInterval(() => this.tick(), this.tickMs);
    this.nodes.startHeartbeats();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.stopping.abort();
    clearInterval(this.tickTimer);
    this.nodes.stop();
    await this.nodeInformer?.stop();
    await this.informer?.stop();
    await Promise.all([...this.workers.values()].map((w) => w.shutdown()));
    this.api.close();
  }

  /**
   * Starts a list+watch informer on `path` whose adds and updates go to `upsert`; when its
   * list or watch fails it reports the error and starts again after a backoff that grows
   * while it keeps failing (client-node informers stop on error).
   */
  private async startInformer<T extends KubernetesObject>(
    path: string,
    list: () => ReturnType<Parameters<typeof makeInformer<T>>[2]>,
    on: { upsert: (obj: T) => void; delete: (obj: T) => void },
  ): Promise<Informer<T> & ListWatch<T>> {
    const informer = makeInformer<T>(this.api.kubeConfig, path, list) as Informer<T> & ListWatch<T>;
    informer.on("add", on.upsert);
    informer.on("update", on.upsert);
    informer.on("delete", on.delete);
    let failures = 0;
    informer.on("connect", () => (failures = 0));
    informer.on("error", (err) => {
      if (this.stopped) return;
      this.onError(err);
      sleep(backoffDelay(failures++, INFORMER_RESTART), this.stopping.signal).then(
        () => void informer.start().catch((e: unknown) => this.onError(e)),
        () => undefined, // stopped meanwhile
      );
    });
    await informer.start();
    return informer;
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
        this.scheduling.dropPending(key);
        void this.request(() =>
          this.api.deletePod(pod.metadata?.namespace ?? "default", pod.metadata?.name ?? "", {
            gracePeriodSeconds: 0,
            uid: pod.metadata?.uid,
          }),
        ).catch(this.onError);
      } else {
        this.scheduling.enqueue(pod);
      }
      return;
    }
    const node = this.nodes.nodes.get(nodeName);
    this.scheduling.bound(pod, nodeName, node !== undefined);
    if (!node) return;
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
    // A pod found finished or Running was not started by this kubelet instance (it
    // restarted): a finished pod only needs its deletion confirmed; a running one lost its
    // containers with the previous instance.
    const adopted = isTerminal(pod) || pod.status?.phase === PodPhase.running;
    worker = new PodWorker(this, pod, node, { adopted });
    this.workers.set(key, worker);
    worker.begin();
  }

  private onPodDeleted(pod: V1Pod): void {
    const key = keyOf(pod);
    this.scheduling.forget(key);
    const worker = this.workers.get(key);
    if (worker && worker.uid === pod.metadata?.uid) {
      this.workers.delete(key);
      void worker.shutdown();
    }
  }

  /** Called by a worker whose pod reached a terminal phase: its resources are free again. */
  released(key: string): void {
    this.scheduling.release(key);
  }

  /** Called by a worker with buffered log output: flushed on the next tick. */
  logsWaiting(worker: PodWorker): void {
    this.logsPending.add(worker);
  }

  private workerFor(namespace: string, name: string): PodWorker {
    const worker = this.workers.get(`${namespace}/${name}`);
    if (!worker) throw new KubeletTargetNotFoundError("pod", `${namespace}/${name}`);
    return worker;
  }

  private tick(): void {
    for (const w of this.logsPending) void w.flushLogs();
    this.logsPending.clear();
    if (!this.stopped) this.scheduling.runIfNeeded();
  }

  /**
   * Runs an API call in the request pool, retrying transient failures (no response, 429, 5xx)
   * with the shared jittered backoff, as a kubelet's status manager keeps retrying, until it
   * succeeds, fails for good (4xx), the kubelet stops, or `alive()` turns false; then the
   * last error is thrown.
   */
  async request<T>(call: () => Promise<T>, alive: () => boolean = () => true): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.pool.run(call);
      } catch (err) {
        const status = statusOf(err);
        const transient = status === 0 || status === 429 || status >= 500;
        if (!transient || this.stopped || !alive()) throw err;
        await sleep(backoffDelay(attempt, REQUEST_RETRY), this.stopping.signal).catch(() => undefined);
        if (this.stopped || !alive()) throw err;
      }
    }
  }

  runtimeFor(pod: V1Pod): RuntimeMode {
    return podRuntimeMode(pod, this.options.mode);
  }
}
