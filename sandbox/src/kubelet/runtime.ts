import type { V1Container, V1EnvVar, V1Pod } from "@kubernetes/client-node";
import type { ContainerExit } from "./pod-status.js";

/** A started container (or simulated stand-in for one). */
export interface ContainerHandle {
  /** When the container started running. */
  readonly startedAt: Date;
  /** OS process id of the container's main process (process runtime only). */
  readonly pid?: number;
  /** Settles once, when the container has ended and its output is fully delivered. */
  readonly exited: Promise<ContainerExit>;
  /**
   * Stops the container like a kubelet does on pod deletion: SIGTERM, then SIGKILL after
   * `graceMs`. Resolves with the exit once it has stopped (the same value as `exited`).
   */
  stop(graceMs: number): Promise<ContainerExit>;
  /** Kills the container at once as the kernel OOM killer would (exit 137, OOMKilled). */
  oomKill(): Promise<ContainerExit>;
}

/** What a runtime needs to start a pod's main container. */
export interface StartRequest {
  pod: V1Pod;
  /** The container to run (the pod's first container). */
  container: V1Container;
  /** Per-pod working directory (already created). */
  workDir: string;
  /** Resolved environment of the container (name → value). */
  env: Record<string, string>;
  /** Receives captured output, in order, as it is produced. */
  onOutput(text: string): void;
}

/** Runs containers. */
export interface ContainerRuntime {
  /** Prefix of container IDs it reports ("sandbox-process"). */
  readonly name: string;
  /**
   * Starts the container. Resolves once it is running; rejects with ContainerStartError when
   * it cannot start at all (the kubelet reports it terminated with reason StartError).
   */
  start(request: StartRequest): Promise<ContainerHandle>;
}

/** A container that could not be started (executable missing, bad working directory...). */
export class ContainerStartError extends Error {
  override readonly name = "ContainerStartError";
  /** @param container the container name; @param detail the runtime's explanation. */
  constructor(
    readonly container: string,
    readonly detail: string,
  ) {
    super(`failed to start container ${JSON.stringify(container)}: ${detail}`);
  }
}

/**
 * A container whose configuration cannot be resolved (an env source the sandbox does not
 * serve, an invalid annotation). Reported as waiting reason CreateContainerConfigError.
 */
export class ContainerConfigError extends Error {
  override readonly name = "ContainerConfigError";
  /** @param container the container name; @param detail what is wrong. */
  constructor(
    readonly container: string,
    readonly detail: string,
  ) {
    super(`container ${JSON.stringify(container)}: ${detail}`);
  }
}

/** Facts about the pod's placement that `fieldRef` env vars may read. */
export interface PodFacts {
  nodeName: string;
  hostIP: string;
  podIP: string;
}

/**
 * Resolves a container's environment as the kubelet does: literal `value`s (with `$(VAR)`
 * references to earlier variables expanded, `$$` an escaped `$`) and `valueFrom.fieldRef` for
 * the downward-API fields. Other sources (ConfigMap, Secret, resourceFieldRef) throw
 * ContainerConfigError naming the variable. Returns name → value in declaration order.
 */
export function resolveEnv(pod: V1Pod, container: V1Container, facts: PodFacts): Record<string, string> {
  const env: Record<string, string> = {};
  for (const v of container.env ?? []) env[v.name] = resolveVar(pod, container, v, env, facts);
  return env;
}

function resolveVar(
  pod: V1Pod,
  container: V1Container,
  v: V1EnvVar,
  env: Record<string, string>,
  facts: PodFacts,
): string {
  if (v.valueFrom === undefined) return expandReferences(v.value ?? "", env);
  const path = v.valueFrom.fieldRef?.fieldPath;
  if (path === undefined) {
    throw new ContainerConfigError(
      container.name,
      `env ${v.name}: only literal values and fieldRef are supported by the sandbox kubelet`,
    );
  }
  const meta = pod.metadata ?? {};
  const keyed = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(path);
  if (keyed) {
    const source = keyed[1] === "labels" ? meta.labels : meta.annotations;
    return source?.[keyed[2] ?? ""] ?? "";
  }
  const fields: Record<string, string | undefined> = {
    "metadata.name": meta.name,
    "metadata.namespace": meta.namespace,
    "metadata.uid": meta.uid,
    "spec.nodeName": facts.nodeName,
    "spec.serviceAccountName": pod.spec?.serviceAccountName ?? "default",
    "status.hostIP": facts.hostIP,
    "status.podIP": facts.podIP,
  };
  if (!(path in fields))
    throw new ContainerConfigError(container.name, `env ${v.name}: unsupported fieldRef ${path}`);
  return fields[path] ?? "";
}

/**
 * Expands `$(NAME)` references against `env` as Kubernetes does for command, args and env:
 * unknown references are left as written, `$$` becomes `$`.
 */
export function expandReferences(text: string, env: Readonly<Record<string, string>>): string {
  return text.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (match, name: string | undefined) => {
    if (match === "$$") return "$";
    return name !== undefined && name in env ? (env[name] ?? "") : match;
  });
}
