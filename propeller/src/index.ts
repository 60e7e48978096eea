/**
 * @flotilla/propeller: the per-cluster controller that drives WorkflowExecution CRs.
 * `startPropeller(options)` runs one in-process (tests, the demo); the bin wraps it.
 */
export {
  DEFAULT_ROUND_WORKERS,
  PROPELLER_VERSION,
  startPropeller,
  type Propeller,
  type PropellerOptions,
} from "./controller/propeller.js";
export {
  leaseTimings,
  loadPropellerOptions,
  propellerConfig,
  propellerOptionsFrom,
  type PropellerConfig,
} from "./config.js";
/** The runtime's logger, so embedders can pass `startPropeller({ logger })` without importing the runtime. */
export { createLogger, silentLogger, type Logger } from "@flotilla/runtime";
export { PROPELLER_FINALIZER, RoundRunner, type RoundDeps, type RoundResult } from "./controller/round.js";
export {
  DEFAULT_LEADER_ELECTION,
  LeaderElector,
  type LeaderElectionOptions,
} from "./controller/leader-election.js";
export {
  ConflictError,
  CrNotFoundError,
  KubePods,
  KubeWorkflowExecutions,
  ObjectTooLargeError,
} from "./controller/kube.js";
export { InvalidSpecError, SpecCache } from "./controller/spec-cache.js";
export {
  adminEventTransport,
  adminTransport,
  createAdminClient,
  type AdminClient,
} from "./clients/admin-client.js";
export {
  createResourceManagerBroker,
  resourceManagerTransport,
  MAX_RESOURCE_MANAGER_BATCH,
  type ResourceManagerBatchOptions,
  type ResourceManagerBrokerOptions,
} from "./clients/resource-manager-broker.js";
export {
  EventSink,
  EventSinkStoppedError,
  type EventSinkOptions,
  type EventTransport,
} from "./events/event-sink.js";
export {
  PodIndex,
  WorkflowCache,
  objectKey,
  splitKey,
  type WorkflowExecutionCr,
} from "./informers/caches.js";
export { ResilientInformer } from "./informers/informer.js";
export { PropellerMetrics, RoundOutcome } from "./metrics.js";
export * from "./queue/workqueue.js";
export {
  TOMBSTONE_ANNOTATION,
  SpotScheduling,
  TaskEnv,
  buildTaskPod,
  observePod,
  type PodObservation,
} from "./plugins/pod/pod-plugin.js";
export {
  WaitingReasons,
  attemptIsInterruptible,
  taskPolicy,
  tokenHolder,
  type TaskPolicy,
} from "./nodes/task/task-handler.js";
export * from "./workflow/executor.js";
export * from "./workflow/graph.js";
export * from "./workflow/ports.js";
export * from "./workflow/round-context.js";
export * from "./workflow/status-codec.js";
export * from "./workflow/literals.js";
export * from "./testing/builders.js";
export { FakePods, FakeTokens, MemoryIO } from "./testing/fakes.js";
export { RecordingAdmin } from "./testing/recording-admin.js";
export {
  createExecution,
  ensureNamespace,
  installCrd,
  kubeConfigFrom,
  offloadClosure,
  readExecutionStatus,
} from "./testing/cluster-fixtures.js";
