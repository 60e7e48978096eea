/**
 * The routing subsystem of admin: cluster registry, routing rules, hard isolation, placement
 * of executions onto clusters (the {@link ExecutionPlacer}) and the data plane behind it.
 */
import type { BlobStore } from "@flotilla/common";
import type { Database } from "@flotilla/db";
import type { Registry } from "prom-client";
import { createDataPlane, type DataPlane } from "../dataplane/data-plane.js";
import type { ExecutionPlacer } from "../manager/placement.js";
import type { ExecutionPlacementRepository } from "../repository/execution-placement.js";
import { createClusterHandlers, type ClusterHandlers } from "../rpc/cluster-handlers.js";
import { validateRoutingSection, type RoutingSectionInput } from "./config.js";
import { createRoutingMetrics } from "./metrics.js";
import { ProjectLookup, type IsolationResolver } from "./project-lookup.js";
import { RoutingManager, type RoutingLogger } from "./routing-manager.js";

export * from "./config.js";
export * from "./router.js";
export { chiSquare } from "./stats.js";
export { RoutingManager, type RoutingLogger, type ClusterView } from "./routing-manager.js";
export { ClusterNotFoundError, type ClusterRecord } from "./cluster-repository.js";
export { RoutingRuleNotFoundError } from "./rule-repository.js";
export { StaleRevisionError } from "../errors.js";
export type { StoredDecision } from "./decision-repository.js";
export { ProjectLookup, type IsolationResolver } from "./project-lookup.js";
export { createRoutingMetrics, type RoutingMetrics } from "./metrics.js";

/** Dependencies of {@link createRoutingSubsystem}. */
export interface RoutingSubsystemOptions {
  /** Admin's database (migrations 0050-0054 applied). */
  db: Database;
  /** The execution repository (only `updatePlacement` is used). */
  executions: ExecutionPlacementRepository;
  /** Blob store for offloaded closures. */
  blobStore: BlobStore;
  /** The `clusters`, `routing` and `dataPlane` config sections. */
  config: RoutingSectionInput;
  /** Prometheus registry the `flotilla_admin_*` routing metrics are registered in. */
  registry: Registry;
  logger: RoutingLogger;
  /** Overrides the isolation lookup (default: the projects table). */
  isolation?: IsolationResolver;
  /** Overrides the data plane (tests). */
  dataPlane?: DataPlane;
}

/** What {@link createRoutingSubsystem} returns. */
export interface RoutingSubsystem {
  /** The placer the execution manager calls. */
  placer: ExecutionPlacer;
  /** AdminService RPCs for clusters, heartbeats, routing rules and ExplainExecution. */
  handlers: ClusterHandlers;
  /** The manager behind both (cluster registry, rules, re-evaluation, quota sync). */
  manager: RoutingManager;
  /** Applies configured clusters and starts the re-evaluation and quota-sync loops. */
  start(): Promise<void>;
  /** Stops the loops and waits for in-flight placements. */
  stop(): Promise<void>;
}

/**
 * Builds the routing subsystem. Validates the config sections (throws RoutingConfigError);
 * no I/O until `start()` or a call.
 */
export function createRoutingSubsystem(options: RoutingSubsystemOptions): RoutingSubsystem {
  const { clusters, settings } = validateRoutingSection(options.config);
  const lookup = new ProjectLookup(options.db);
  const dataPlane =
    options.dataPlane ??
    createDataPlane({
      blobStore: options.blobStore,
      crBudgetBytes: settings.crBudgetBytes,
      requestTimeoutMs: settings.requestTimeoutMs,
      installCrd: settings.installCrd,
      resourceQuota: settings.resourceQuota,
      quotaValues: (project, domain) => lookup.quotaValues(project, domain),
    });
  const manager = new RoutingManager({
    db: options.db,
    executions: options.executions,
    dataPlane,
    settings,
    configClusters: clusters,
    metrics: createRoutingMetrics(options.registry),
    logger: options.logger,
    isolation: options.isolation ?? lookup,
    lookup,
  });
  return {
    placer: manager,
    handlers: createClusterHandlers(manager),
    manager,
    start: () => manager.start(),
    stop: () => manager.stop(),
  };
}
