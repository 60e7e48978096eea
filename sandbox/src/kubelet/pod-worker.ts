/**
 * The pod worker: one per pod bound to one of this kubelet's nodes. It runs the pod's main
 * container with the process or simulated runtime, reports status as a kubelet's status
 * manager does (coalescing queued writes into the newest state), restarts with
 * CrashLoopBackOff per restartPolicy, streams logs to the API, answers faults (OOM kill,
 * preemption, node loss) and confirms graceful deletion.
 */
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { V1Pod } from "@kubernetes/client-node";
import { formatResourceUsage, RESOURCE_USAGE_ANNOTATION } from "@flotilla/common";
import { backoffCeiling } from "@flotilla/runtime";
import {
  readSimulatedBehaviour,
  isUnpullableImage,
  Outcome,
  RuntimeMode,
  InvalidAnnotationError,
  type SimulatedBehaviour,
} from "./annotations.js";
import { statusOf, type KubeletApi } from "./api.js";
import { KubeletTargetNotFoundError } from "./errors.js";
import { allocatePodIP, type NodeState } from "./node-lifecycle.js";
import {
  disruptionCondition,
  DisruptionReason,
  exitWithCode,
  PodPhase,
  renderPodStatus,
  terminalPhase,
  type ContainerExit,
  type ContainerPhase,
  type PodRunView,
} from "./pod-status.js";
import {
  ContainerConfigError,
  ContainerStartError,
  resolveEnv,
  type ContainerHandle,
  type ContainerRuntime,
} from "./runtime.js";
import { simulatedUsage } from "./usage.js";
import type { LatestWinsWriter } from "./work-queue.js";
import { toWire } from "./wire.js";

/** What a pod worker uses of its kubelet. */
export interface PodWorkerHost {
  readonly api: KubeletApi;
  /** Serialises status writes per pod, newest wins. */
  readonly writer: LatestWinsWriter;
  readonly runtimes: Record<RuntimeMode, ContainerRuntime>;
  /** Images made unpullable by `faults.failImagePulls`. */
  readonly brokenImages: ReadonlySet<string>;
  /** Root of per-pod working directories. */
  readonly workDir: string;
  /** The kubelet tick; ErrImagePull turns into ImagePullBackOff after 10. */
  readonly tickMs: number;
  /** First CrashLoopBackOff delay. */
  readonly restartBackoffMs: number;
  /** Runs an API call, retrying transient failures while `alive()`. */
  request<T>(call: () => Promise<T>, alive?: () => boolean): Promise<T>;
  /** How the pod runs (its annotation, else the kubelet's mode). */
  runtimeFor(pod: V1Pod): RuntimeMode;
  /** The pod reached a terminal phase (or never started): its resources are free. */
  released(key: string): void;
  /** The worker has buffered log output to flush on the next tick. */
  logsWaiting(worker: PodWorker): void;
  /** Receives unexpected failures. */
  onError(err: unknown): void;
}

/** `namespace/name` of a pod. */
export const keyOf = (pod: V1Pod): string =>
  `${pod.metadata?.namespace ?? "default"}/${pod.metadata?.name ?? ""}`;

/** Whether a pod is Succeeded or Failed. */
export const isTerminal = (pod: V1Pod): boolean =>
  pod.status?.phase === PodPhase.succeeded || pod.status?.phase === PodPhase.failed;

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
export class PodWorker {
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

  /**
   * @param kubelet what the worker uses of its kubelet; @param node the node it runs on;
   * @param mode `adopted` for a pod found Running or finished that this kubelet instance did
   * not start (call `begin()` to act on it).
   */
  constructor(
    private readonly kubelet: PodWorkerHost,
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
    this.view.podIP = allocatePodIP(this.node);
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
    // Written from the next event-loop turn and not awaited: a container that starts at once
    // (simulated, or a quick exec) is reported Running in one write instead of Pending then
    // Running, as a busy kubelet also skips straight to the newest state; a slower start, or a
    // busy status writer, still shows Pending/ContainerCreating first.
    setImmediate(() => void this.writeStatus());
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
    const workDir = join(this.kubelet.workDir, this.namespace, this.name);
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
    // The kubelet's CrashLoopBackOff is deterministic (its message names the delay): the
    // ceiling of the shared backoff, without jitter.
    const delay = backoffCeiling(restarts, { initialMs: this.kubelet.restartBackoffMs, maxMs: 300_000 });
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

  /**
   * Writes the pod's resource usage annotation (before its terminal status, so a watcher that
   * sees it finish sees its usage). A pod deleted meanwhile has no usage to report.
   */
  private async reportUsage(): Promise<void> {
    const annotations = { [RESOURCE_USAGE_ANNOTATION]: formatResourceUsage(simulatedUsage(this.pod)) };
    try {
      await this.kubelet.request(
        () => this.kubelet.api.annotatePod(this.namespace, this.name, annotations),
        () => !this.defunct,
      );
    } catch (err) {
      if (statusOf(err) !== 404 && !this.defunct) this.kubelet.onError(err);
    }
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
      if (startedAt && !this.lost) await this.reportUsage();
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
    this.kubelet.logsWaiting(this);
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
