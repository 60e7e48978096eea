/** The kubelet's domain errors (bad options, fault targets it does not run) and where others go. */
import { createLogger } from "@flotilla/runtime";

/**
 * The default `onError` of a kubelet: each unexpected error becomes a warning line of a
 * `sandbox-kubelet` logger bound to the cluster.
 */
export function logKubeletErrors(clusterName: string): (err: unknown) => void {
  const logger = createLogger({ component: "sandbox-kubelet" }).child({ cluster: clusterName });
  return (err) => logger.warn("kubelet error", { error: err });
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
