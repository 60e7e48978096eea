/**
 * The sandbox's simulated kubelet and scheduler: `startKubelet` plus the pieces it is made of
 * (node specs, scheduler fit logic, annotations), exported for reuse and tests.
 */
export {
  runKubelet,
  KubeletTargetNotFoundError,
  InvalidKubeletOptionsError,
  type Kubelet,
  type KubeletFaults,
  type KubeletOptions,
} from "./kubelet.js";
export { startKubelet, KubeletThreadExitedError } from "./kubelet-thread.js";
export { CapacityType, NodeLabels, SPOT_TAINT, defaultNodeSpecs, type NodeSpec } from "./node-spec.js";
export {
  Annotations,
  Outcome,
  RuntimeMode,
  InvalidAnnotationError,
  isUnpullableImage,
} from "./annotations.js";
export {
  schedulePod,
  podRequests,
  tolerates,
  matchesNodeSelector,
  type NodeUsage,
  type ScheduleResult,
} from "./scheduler.js";
export { KubeApiError, kubeConfigFor } from "./api.js";
