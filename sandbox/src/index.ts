/**
 * @flotilla/sandbox: a Docker-free stand-in for Kubernetes clusters — an in-process Kubernetes
 * API server emulator speaking the real REST + watch protocol, and a simulated kubelet.
 */
export { startApiServer, type ApiServerHandle, type ApiServerOptions } from "./apiserver/server.js";
export { ApiFaults, ApiCounters, type ErrorFaultOptions } from "./apiserver/faults.js";
export type { ClusterApi, DeleteOptions, WriteOptions } from "./apiserver/api.js";
export { ApiError, type StatusBody, type StatusCause, type StatusDetails } from "./apiserver/errors.js";
export {
  startCluster,
  writeKubeconfig,
  kubeconfigFor,
  type ClusterOptions,
  type SandboxCluster,
  type KubeconfigCluster,
} from "./cluster.js";
export {
  startKubelet,
  type Kubelet,
  type KubeletFaults,
  type KubeletOptions,
  type NodeSpec,
} from "./kubelet/index.js";
