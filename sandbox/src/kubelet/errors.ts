/** The kubelet's domain errors: bad options and fault targets it does not run. */

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
