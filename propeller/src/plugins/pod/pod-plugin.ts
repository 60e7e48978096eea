/**
 * The container/pod plugin: builds the pod of one task attempt and reads a task phase (and, on
 * failure, a classified error) back from the pod as the informer cache shows it.
 *
 * Failure classification decides which retry budget an attempt consumes:
 * - USER: the container exited non-zero (the user's code failed), or the attempt timed out.
 * - SYSTEM: the platform failed the attempt: OOM kill, eviction, preemption (spot reclaim),
 *   image pull errors, node loss, a pod that vanished.
 */
import type { V1Affinity, V1Container, V1EnvVar, V1Pod, V1Toleration } from "@kubernetes/client-node";
import { Annotations, Labels, MANAGED_BY, WorkflowExecutionResource, boundedName } from "@flotilla/common";
import {
  ExecutionError_Kind,
  type LiteralMap,
  type TaskTemplate,
  type WorkflowExecutionSpec,
} from "@flotilla/proto";
import { primitiveEnvValue } from "../../workflow/literals.js";

/** Label and taint key marking spot (interruptible) capacity, and its value. */
export const SpotScheduling = {
  key: "flotilla.io/capacity-type",
  value: "spot",
  /** Label put on pods of interruptible attempts. */
  podLabel: "flotilla.io/interruptible",
} as const;

/**
 * Annotation the pod cache puts on a tombstone: a pod that disappeared, deleted by someone
 * other than the propeller, before it reached a terminal phase.
 */
export const TOMBSTONE_ANNOTATION = "flotilla.io/observed-deleted";

/** Name of the task container in every task pod. */
export const TASK_CONTAINER = "task";

/** Env var names the propeller sets in every task container (the task I/O contract). */
export const TaskEnv = {
  inputsDir: "FLOTILLA_INPUTS_DIR",
  outputsDir: "FLOTILLA_OUTPUTS_DIR",
  inputsUri: "FLOTILLA_INPUTS_URI",
  outputsUri: "FLOTILLA_OUTPUTS_URI",
  rawOutputPrefix: "FLOTILLA_RAW_OUTPUT_PREFIX",
  inputPrefix: "FLOTILLA_INPUT_",
  project: "FLOTILLA_PROJECT",
  domain: "FLOTILLA_DOMAIN",
  execution: "FLOTILLA_EXECUTION",
  nodeId: "FLOTILLA_NODE_ID",
  attempt: "FLOTILLA_ATTEMPT",
} as const;

/** Where one attempt's inputs and outputs live. */
export interface AttemptLocations {
  /** URI of the serialized input LiteralMap. */
  inputsUri: string;
  /** URI of the directory holding `inputs.json` and one file per primitive input. */
  inputsDirUri: string;
  /** URI of the directory the container writes `outputs.json` into. */
  outputsDirUri: string;
  /** URI where the propeller writes the output LiteralMap. */
  outputsUri: string;
  /** Local paths of the two directories when the blob store is a local directory. */
  inputsDirPath?: string;
  outputsDirPath?: string;
}

/** Everything needed to build one task attempt's pod. */
export interface TaskPodRequest {
  name: string;
  namespace: string;
  owner: { name: string; uid: string };
  spec: WorkflowExecutionSpec;
  nodeId: string;
  attempt: number;
  task: TaskTemplate;
  interruptible: boolean;
  inputs: LiteralMap;
  locations: AttemptLocations;
  /** Extra pod annotations (from the task's `plugin_config.podAnnotations`). */
  podAnnotations: Record<string, string>;
  traceparent?: string;
}

/** A task could not be turned into a pod (a user error in the task definition). */
export class InvalidTaskError extends Error {
  override readonly name = "InvalidTaskError";
  constructor(
    readonly task: string,
    readonly reason: string,
  ) {
    super(`task ${task} cannot run as a pod: ${reason}`);
  }
}

function labelValue(v: string): string {
  return boundedName(v, 63);
}

function envName(input: string): string {
  return `${TaskEnv.inputPrefix}${input.toUpperCase().replace(/[^A-Z0-9_]/g, "_")}`;
}

/** Builds the pod of one attempt: deterministic name, owner reference, labels, env, resources, scheduling. */
export function buildTaskPod(req: TaskPodRequest): V1Pod {
  const container = req.task.container;
  const taskName = req.task.id?.name ?? "(unnamed)";
  if (!container) throw new InvalidTaskError(taskName, "it has no container");
  if (!container.image) throw new InvalidTaskError(taskName, "its container has no image");
  const exec = req.spec.executionId;
  const project = exec?.project ?? "";
  const domain = exec?.domain ?? "";
  const execution = exec?.name ?? req.owner.name;

  const env: V1EnvVar[] = container.env.map((kv) => ({ name: kv.key, value: kv.value }));
  const set = (name: string, value: string | undefined): void => {
    if (value !== undefined) env.push({ name, value });
  };
  set(TaskEnv.project, project);
  set(TaskEnv.domain, domain);
  set(TaskEnv.execution, execution);
  set(TaskEnv.nodeId, req.nodeId);
  set(TaskEnv.attempt, String(req.attempt));
  set(TaskEnv.inputsUri, req.locations.inputsUri);
  set(TaskEnv.outputsUri, req.locations.outputsUri);
  set(TaskEnv.rawOutputPrefix, req.spec.rawOutputDataPrefix || undefined);
  set(TaskEnv.inputsDir, req.locations.inputsDirPath ?? "/var/flotilla/inputs");
  set(TaskEnv.outputsDir, req.locations.outputsDirPath ?? "/var/flotilla/outputs");
  for (const [name, lit] of Object.entries(req.inputs.literals)) set(envName(name), primitiveEnvValue(lit));

  const resources: { requests?: Record<string, string>; limits?: Record<string, string> } = {};
  const quantities = (
    q: { cpu: string; memory: string; gpu: string; ephemeralStorage: string } | undefined,
  ) => {
    if (!q) return undefined;
    const out: Record<string, string> = {};
    if (q.cpu) out.cpu = q.cpu;
    if (q.memory) out.memory = q.memory;
    if (q.gpu) out["nvidia.com/gpu"] = q.gpu;
    if (q.ephemeralStorage) out["ephemeral-storage"] = q.ephemeralStorage;
    return Object.keys(out).length ? out : undefined;
  };
  const requests = quantities(container.resources?.requests);
  const limits = quantities(container.resources?.limits);
  if (requests) resources.requests = requests;
  if (limits) resources.limits = limits;

  const taskContainer: V1Container = {
    name: TASK_CONTAINER,
    image: container.image,
    env,
    ...(container.command.length ? { command: [...container.command] } : {}),
    ...(container.args.length ? { args: [...container.args] } : {}),
    ...(requests || limits ? { resources } : {}),
  };

  const labels: Record<string, string> = {
    ...req.spec.labels,
    ...req.task.labels,
    [Labels.managedBy]: MANAGED_BY,
    [Labels.project]: labelValue(project),
    [Labels.domain]: labelValue(domain),
    [Labels.execution]: labelValue(execution),
    [Labels.node]: labelValue(req.nodeId),
    [Labels.attempt]: String(req.attempt),
  };
  const annotations: Record<string, string> = { ...req.spec.annotations, ...req.podAnnotations };
  if (req.traceparent) annotations[Annotations.traceparent] = req.traceparent;

  const tolerations: V1Toleration[] = [];
  let affinity: V1Affinity | undefined;
  if (req.interruptible) {
    labels[SpotScheduling.podLabel] = "true";
    tolerations.push({
      key: SpotScheduling.key,
      operator: "Equal",
      value: SpotScheduling.value,
      effect: "NoSchedule",
    });
    affinity = {
      nodeAffinity: {
        preferredDuringSchedulingIgnoredDuringExecution: [
          {
            weight: 100,
            preference: {
              matchExpressions: [{ key: SpotScheduling.key, operator: "In", values: [SpotScheduling.value] }],
            },
          },
        ],
      },
    };
  }
  const serviceAccount = req.spec.securityContext?.serviceAccount;
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: req.name,
      namespace: req.namespace,
      labels,
      annotations,
      ownerReferences: [
        {
          apiVersion: WorkflowExecutionResource.apiVersion,
          kind: WorkflowExecutionResource.kind,
          name: req.owner.name,
          uid: req.owner.uid,
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: {
      restartPolicy: "Never",
      containers: [taskContainer],
      ...(serviceAccount ? { serviceAccountName: serviceAccount } : {}),
      ...(tolerations.length ? { tolerations } : {}),
      ...(affinity ? { affinity } : {}),
    },
  };
}

/** A classified task failure. */
export interface TaskFailure {
  kind: ExecutionError_Kind;
  code: string;
  message: string;
}

/** What a pod says about its attempt. */
export type PodObservation =
  | { state: "pending"; reason?: string }
  | { state: "running"; startedAt?: Date }
  | { state: "succeeded" }
  | { state: "failed"; failure: TaskFailure };

const IMAGE_PULL_REASONS = new Set([
  "ErrImagePull",
  "ImagePullBackOff",
  "InvalidImageName",
  "ErrImageNeverPull",
]);
const PREEMPTION_REASONS = new Set([
  "Preempted",
  "Preempting",
  "PreemptionByScheduler",
  "TerminationByKubelet",
  "Spot",
  "SpotInterruption",
]);
const NODE_LOSS_REASONS = new Set([
  "NodeLost",
  "NodeShutdown",
  "Shutdown",
  "Terminated",
  "UnexpectedAdmissionError",
]);

/** Reads the attempt state of a task pod and classifies failures as USER or SYSTEM. */
export function observePod(pod: V1Pod): PodObservation {
  const status = pod.status;
  const phase = status?.phase;
  const cs =
    status?.containerStatuses?.find((c) => c.name === TASK_CONTAINER) ?? status?.containerStatuses?.[0];
  const system = (code: string, message: string): PodObservation => ({
    state: "failed",
    failure: { kind: ExecutionError_Kind.SYSTEM, code, message },
  });
  if (phase === "Succeeded") return { state: "succeeded" };
  if (phase !== "Failed") {
    const disrupted = status?.conditions?.find((c) => c.type === "DisruptionTarget" && c.status === "True");
    const gone = pod.metadata?.annotations?.[TOMBSTONE_ANNOTATION] === "true";
    if (disrupted && (gone || pod.metadata?.deletionTimestamp)) {
      return system(
        "Preempted",
        disrupted.message || `the pod was disrupted (${disrupted.reason ?? "unknown"})`,
      );
    }
    if (gone) return system("PodDeleted", "the pod was deleted before it finished");
  }
  if (phase === "Failed") {
    const reason = status?.reason ?? "";
    const message = status?.message ?? "";
    const disruption = status?.conditions?.find((c) => c.type === "DisruptionTarget" && c.status === "True");
    if (reason === "Evicted") return system("Evicted", message || "the pod was evicted");
    if (PREEMPTION_REASONS.has(reason) || (disruption && PREEMPTION_REASONS.has(disruption.reason ?? ""))) {
      return system("Preempted", message || disruption?.message || "the pod was preempted");
    }
    if (NODE_LOSS_REASONS.has(reason))
      return system("NodeLost", message || `the pod's node was lost (${reason})`);
    if (disruption)
      return system("Interrupted", disruption.message || `disrupted: ${disruption.reason ?? "unknown"}`);
    const term = cs?.state?.terminated ?? cs?.lastState?.terminated;
    if (term?.reason === "OOMKilled")
      return system(
        "OOMKilled",
        `the container was killed for exceeding its memory limit (exit ${term.exitCode})`,
      );
    if (term && term.exitCode !== 0) {
      return {
        state: "failed",
        failure: {
          kind: ExecutionError_Kind.USER,
          code: "NonZeroExitCode",
          message: `the container exited with code ${term.exitCode}${term.message ? `: ${term.message}` : ""}`,
        },
      };
    }
    return system(reason || "PodFailed", message || "the pod failed without a container exit code");
  }
  const waiting = cs?.state?.waiting;
  if (waiting?.reason && IMAGE_PULL_REASONS.has(waiting.reason)) {
    return system("ImagePullError", waiting.message || `cannot pull image (${waiting.reason})`);
  }
  if (phase === "Running") {
    const started = cs?.state?.running?.startedAt ?? status?.startTime;
    return started ? { state: "running", startedAt: new Date(started) } : { state: "running" };
  }
  const unschedulable = status?.conditions?.find((c) => c.type === "PodScheduled" && c.status === "False");
  const reason = waiting?.reason ?? unschedulable?.reason;
  return reason ? { state: "pending", reason } : { state: "pending" };
}

/** When an attempt's clock started: the pod's start time, else its creation time. */
export function podStartTime(pod: V1Pod): Date | undefined {
  const t = pod.status?.startTime ?? pod.metadata?.creationTimestamp;
  return t ? new Date(t) : undefined;
}
