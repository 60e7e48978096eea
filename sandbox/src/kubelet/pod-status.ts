import type {
  V1Container,
  V1ContainerStatus,
  V1Pod,
  V1PodCondition,
  V1PodStatus,
} from "@kubernetes/client-node";

/** Pod phases as the kubelet reports them. */
export const PodPhase = {
  pending: "Pending",
  running: "Running",
  succeeded: "Succeeded",
  failed: "Failed",
} as const;
/** One of the pod phases. */
export type PodPhase = (typeof PodPhase)[keyof typeof PodPhase];

/** Why a container ended, as in `state.terminated`. */
export interface ContainerExit {
  exitCode: number;
  /** "Completed", "Error", "OOMKilled", "StartError", "ContainerStatusUnknown". */
  reason: string;
  message?: string;
  /** Signal that ended the process, when it was one (process runtime only). */
  signal?: number;
}

/** The exit of a container that ran to completion with `exitCode` (reason Completed or Error). */
export function exitWithCode(exitCode: number, message?: string): ContainerExit {
  return { exitCode, reason: exitCode === 0 ? "Completed" : "Error", ...(message ? { message } : {}) };
}

/** What the kubelet knows about one container at a point in time. */
export type ContainerPhase =
  | { kind: "waiting"; reason: string; message?: string }
  | { kind: "running"; startedAt: Date }
  | { kind: "terminated"; exit: ContainerExit; startedAt?: Date; finishedAt: Date };

/** Everything needed to render a pod's status. */
export interface PodRunView {
  phase: PodPhase;
  /** Per container of `spec.containers`, in order. */
  containers: ContainerPhase[];
  hostIP: string;
  podIP?: string;
  startTime: Date;
  /** Pod-level reason/message ("NodeLost", "Terminated", "Evicted"). */
  reason?: string;
  message?: string;
  /** Extra conditions, e.g. DisruptionTarget. */
  extraConditions?: V1PodCondition[];
  /** Container runtime prefix for containerIDs ("sandbox-process", "sandbox-simulated"). */
  runtime: string;
  /** Restarts so far (restartPolicy Always/OnFailure). */
  restartCount?: number;
  /** How the previous run ended, reported as `lastState.terminated`. */
  lastTermination?: { exit: ContainerExit; startedAt?: Date; finishedAt: Date };
}

/**
 * Renders the status a kubelet would report for `pod` in the state `view`:
 * phase, conditions (PodReadyToStartContainers, Initialized, Ready, ContainersReady,
 * PodScheduled, extras), containerStatuses, IPs, startTime and qosClass. Condition transition
 * times are carried over from `pod.status` when a condition's status did not change.
 */
export function renderPodStatus(pod: V1Pod, view: PodRunView, now: Date): V1PodStatus {
  const containers = pod.spec?.containers ?? [];
  const statuses = containers.map((c, i) =>
    renderContainer(pod, c, view.containers[i] ?? { kind: "waiting", reason: "ContainerCreating" }, view),
  );
  const allReady = statuses.length > 0 && statuses.every((s) => s.ready);
  const terminal = view.phase === PodPhase.succeeded || view.phase === PodPhase.failed;
  const notReady = statuses.filter((s) => !s.ready).map((s) => s.name);
  const readyReason = terminal
    ? view.phase === PodPhase.succeeded
      ? "PodCompleted"
      : "PodFailed"
    : "ContainersNotReady";
  const readyMessage = terminal ? undefined : `containers with unready status: [${notReady.join(" ")}]`;
  const sandboxUp =
    !terminal &&
    view.containers.some(
      (c) => c.kind === "running" || (c.kind === "waiting" && c.reason !== "ContainerCreating"),
    );
  const previous = pod.status?.conditions ?? [];
  const condition = (type: string, ok: boolean, reason?: string, message?: string): V1PodCondition => {
    const status = ok ? "True" : "False";
    const before = previous.find((c) => c.type === type);
    const cond: V1PodCondition = {
      type,
      status,
      lastTransitionTime:
        before && before.status === status && before.lastTransitionTime
          ? new Date(before.lastTransitionTime)
          : now,
    };
    if (!ok && reason) cond.reason = reason;
    if (!ok && message) cond.message = message;
    return cond;
  };
  const conditions: V1PodCondition[] = [
    condition("PodReadyToStartContainers", sandboxUp || view.phase === PodPhase.running),
    condition("Initialized", true),
    condition("Ready", allReady, readyReason, readyMessage),
    condition("ContainersReady", allReady, readyReason, readyMessage),
    condition("PodScheduled", true),
    ...(view.extraConditions ?? []),
  ];
  const status: V1PodStatus = {
    phase: view.phase,
    conditions,
    hostIP: view.hostIP,
    hostIPs: [{ ip: view.hostIP }],
    startTime: view.startTime,
    containerStatuses: statuses,
    qosClass: qosClass(pod),
  };
  if (view.podIP) {
    status.podIP = view.podIP;
    status.podIPs = [{ ip: view.podIP }];
  }
  if (view.reason) status.reason = view.reason;
  if (view.message) status.message = view.message;
  return status;
}

function renderContainer(
  pod: V1Pod,
  c: V1Container,
  phase: ContainerPhase,
  view: PodRunView,
): V1ContainerStatus {
  // Each run of a restarted container gets its own ID, as with a real runtime.
  const idOf = (run: number) =>
    `${view.runtime}://${pod.metadata?.uid ?? pod.metadata?.name ?? ""}/${c.name}${run > 0 ? `-${run}` : ""}`;
  const restarts = view.restartCount ?? 0;
  const containerID = idOf(restarts);
  const last = view.lastTermination;
  const base: V1ContainerStatus = {
    name: c.name,
    image: c.image ?? "",
    imageID: "",
    ready: false,
    restartCount: restarts,
    started: false,
    lastState: last
      ? {
          terminated: {
            exitCode: last.exit.exitCode,
            reason: last.exit.reason,
            ...(last.exit.message ? { message: last.exit.message } : {}),
            ...(last.startedAt ? { startedAt: last.startedAt } : {}),
            finishedAt: last.finishedAt,
            containerID: idOf(restarts - 1),
          },
        }
      : {},
    state: {},
  };
  switch (phase.kind) {
    case "waiting":
      base.state = {
        waiting: { reason: phase.reason, ...(phase.message ? { message: phase.message } : {}) },
      };
      return base;
    case "running":
      return {
        ...base,
        imageID: imageID(c.image),
        containerID,
        ready: true,
        started: true,
        state: { running: { startedAt: phase.startedAt } },
      };
    case "terminated":
      return {
        ...base,
        imageID: phase.exit.reason === "ContainerStatusUnknown" ? "" : imageID(c.image),
        ...(phase.exit.reason === "ContainerStatusUnknown" ? {} : { containerID }),
        state: {
          terminated: {
            exitCode: phase.exit.exitCode,
            reason: phase.exit.reason,
            ...(phase.exit.message ? { message: phase.exit.message } : {}),
            ...(phase.exit.signal !== undefined ? { signal: phase.exit.signal } : {}),
            ...(phase.startedAt ? { startedAt: phase.startedAt } : {}),
            finishedAt: phase.finishedAt,
            ...(phase.exit.reason === "ContainerStatusUnknown" ? {} : { containerID }),
          },
        },
      };
  }
}

function imageID(image: string | undefined): string {
  return `sandbox/${image ?? ""}`;
}

/**
 * The QoS class Kubernetes assigns: Guaranteed when every container has equal cpu and memory
 * requests and limits, BestEffort when none has any, Burstable otherwise.
 */
export function qosClass(pod: V1Pod): "Guaranteed" | "Burstable" | "BestEffort" {
  const containers = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])];
  let any = false;
  let guaranteed = containers.length > 0;
  for (const c of containers) {
    const req = { ...(c.resources?.limits ?? {}), ...(c.resources?.requests ?? {}) };
    const lim = c.resources?.limits ?? {};
    if (Object.keys(req).length > 0 || Object.keys(lim).length > 0) any = true;
    for (const r of ["cpu", "memory"]) {
      if (lim[r] === undefined || String(req[r]) !== String(lim[r])) guaranteed = false;
    }
  }
  if (!any) return "BestEffort";
  return guaranteed ? "Guaranteed" : "Burstable";
}

/** The phase of a `restartPolicy: Never` pod whose containers are all terminated with `exits`. */
export function terminalPhase(exits: readonly ContainerExit[]): PodPhase {
  return exits.every((e) => e.exitCode === 0) ? PodPhase.succeeded : PodPhase.failed;
}

/** The condition PodScheduled=False/Unschedulable with the scheduler's FitError message. */
export function unschedulableCondition(message: string, now: Date): V1PodCondition {
  return {
    type: "PodScheduled",
    status: "False",
    reason: "Unschedulable",
    message,
    lastTransitionTime: now,
  };
}

/** Reasons for the DisruptionTarget condition, as Kubernetes sets them. */
export const DisruptionReason = {
  preemptionByScheduler: "PreemptionByScheduler",
  terminationByKubelet: "TerminationByKubelet",
  deletionByTaintManager: "DeletionByTaintManager",
} as const;
/** One of the DisruptionTarget reasons. */
export type DisruptionReason = (typeof DisruptionReason)[keyof typeof DisruptionReason];

/** The DisruptionTarget=True condition with `reason` and `message`. */
export function disruptionCondition(reason: DisruptionReason, message: string, now: Date): V1PodCondition {
  return { type: "DisruptionTarget", status: "True", reason, message, lastTransitionTime: now };
}
