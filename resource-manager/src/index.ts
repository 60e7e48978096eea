/**
 * @flotilla/resource-manager: grants leases of tokens of shared external services with a global
 * limit per resource, per-tenant caps, weighted fair queueing and borrowing of idle capacity.
 *
 * For callers: {@link createResourceManagerClient}. For tests and demos:
 * {@link startResourceManager}. The allocator, manager and repository are exported for reuse
 * and for tests of other packages.
 */
export {
  Allocator,
  DEFAULT_TTL_MS,
  MAX_TTL_MS,
  effectiveCap,
  validateAllocateRequest,
  validatePoolConfig,
  type AllocatorOptions,
} from "./allocator/allocator.js";
export * from "./allocator/errors.js";
export * from "./allocator/types.js";
export {
  createResourceManagerClient,
  type ResourceManagerClient,
  type ResourceManagerClientOptions,
} from "./client.js";
export { DEFAULT_PORT, resourceManagerConfig, type ResourceManagerConfig } from "./config.js";
export {
  LEADER_LOCK_KEY,
  PostgresLeaderElection,
  type LeaderElectionOptions,
} from "./leader/leader-election.js";
export { GroupCommitter, type CommitFn, type GroupCommitterOptions } from "./manager/group-commit.js";
export {
  MAX_BATCH_SIZE,
  ResourceManager,
  type BatchResult,
  type ReleaseResult,
  type ReleaseTarget,
  type ResourceManagerOptions,
  type ResourceManagerState,
} from "./manager/resource-manager.js";
export {
  createResourceManagerMetrics,
  type ResourceManagerMetrics,
  type ResourceManagerMetricsOptions,
} from "./metrics.js";
export {
  PostgresStateRepository,
  migrateResourceManager,
  type LeaderRecord,
  type PoolSource,
  type StateRepository,
  type StoredPool,
} from "./repository/state-repository.js";
export {
  LEADER_URL_HEADER,
  createResourceManagerServiceImpl,
  fromPoolMessage,
  toConnectError,
  toLeaseMessage,
  toPoolMessage,
  toPoolStatus,
} from "./rpc/resource-manager-service.js";
export {
  resourceManagerReadiness,
  startResourceManagerServer,
  type ResourceManagerServerOptions,
} from "./server.js";
export {
  startResourceManager,
  type RunningResourceManager,
  type StartResourceManagerOptions,
} from "./start.js";
