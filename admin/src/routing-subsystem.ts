/**
 * Assembles the routing subsystem of admin from its layers: the repositories (clusters, routing
 * rules, decisions, pending placements and terminations), the managers (cluster registry,
 * routing rules, placer, data-plane maintenance) and the cluster and routing RPC handlers. The
 * placer is the {@link ExecutionPlacer} the execution manager calls.
 */
import type { BlobStore } from "@flotilla/common";
import type { Database } from "@flotilla/db";
import type { Registry } from "prom-client";
import { createDataPlane, type DataPlane } from "./dataplane/data-plane.js";
import type { AdminLogger } from "./logger.js";
import { ClusterRegistry } from "./manager/cluster-registry.js";
import { DataPlaneMaintenance } from "./manager/data-plane-maintenance.js";
import type { ExecutionPlacer } from "./manager/placement.js";
import { Placer } from "./manager/placer.js";
import { ProjectLookup, type IsolationResolver } from "./manager/project-lookup.js";
import type { RoutingChanges } from "./manager/routing-changes.js";
import { createRoutingMetrics } from "./manager/routing-metrics.js";
import { RoutingRulesManager } from "./manager/routing-rules.js";
import { createPostgresAttributesRepository } from "./repository/attributes-repository.js";
import { createPostgresClusterRepository } from "./repository/cluster-repository.js";
import type { ExecutionPlacementRepository } from "./repository/execution-placement.js";
import {
  createPostgresPendingPlacementRepository,
  type PendingPlacementRepository,
} from "./repository/pending-placement-repository.js";
import { createPostgresPendingTerminationRepository } from "./repository/pending-termination-repository.js";
import { createPostgresRegistryRepository } from "./repository/registry-repository.js";
import { createPostgresRoutingDecisionRepository } from "./repository/routing-decision-repository.js";
import { createPostgresRoutingRuleRepository } from "./repository/routing-rule-repository.js";
import { validateRoutingSection, type RoutingSectionInput } from "./routing/config.js";
import { createClusterHandlers, type ClusterHandlers } from "./rpc/cluster-handlers.js";
import { createRoutingHandlers, type RoutingHandlers } from "./rpc/routing-handlers.js";

/** Dependencies of {@link createRoutingSubsystem}. */
export interface RoutingSubsystemOptions {
  /** Admin's database (migrations 0050-0055 applied). */
  db: Database;
  /** The execution repository's placement part. */
  executions: ExecutionPlacementRepository;
  /** Blob store for offloaded closures. */
  blobStore: BlobStore;
  /** The `clusters`, `routing` and `dataPlane` config sections. */
  config: RoutingSectionInput;
  /** Prometheus registry the `flotilla_admin_*` routing metrics are registered in. */
  registry: Registry;
  logger: AdminLogger;
  /** Overrides the isolation lookup (default: the projects' isolation labels). */
  isolation?: IsolationResolver;
  /** Overrides the data plane (tests). */
  dataPlane?: DataPlane;
}

/** What {@link createRoutingSubsystem} returns. */
export interface RoutingSubsystem {
  /** The placer the execution manager calls. */
  placer: ExecutionPlacer;
  /** AdminService RPCs for clusters, heartbeats, routing rules and ExplainExecution. */
  handlers: ClusterHandlers & RoutingHandlers;
  /** The managers behind the handlers. */
  managers: {
    registry: ClusterRegistry;
    rules: RoutingRulesManager;
    placer: Placer;
    maintenance: DataPlaneMaintenance;
  };
  /** The pending-placement repository (tests inspect retry bookkeeping). */
  pending: PendingPlacementRepository;
  /** Applies configured clusters and starts the re-evaluation, quota-sync and CRD loops. */
  start(): Promise<void>;
  /** Stops the loops and waits for in-flight placements. */
  stop(): Promise<void>;
}

/**
 * Builds the routing subsystem. Validates the config sections (throws RoutingConfigError);
 * no I/O until `start()` or a call.
 */
export function createRoutingSubsystem(options: RoutingSubsystemOptions): RoutingSubsystem {
  const { clusters: configClusters, settings } = validateRoutingSection(options.config);
  const { db, executions, logger } = options;
  const lookup = new ProjectLookup({
    projects: createPostgresRegistryRepository(db),
    attributes: createPostgresAttributesRepository(db),
  });
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
  const metrics = createRoutingMetrics(options.registry);
  const clusterRepo = createPostgresClusterRepository(db);
  const ruleRepo = createPostgresRoutingRuleRepository(db);
  const decisions = createPostgresRoutingDecisionRepository(db);
  const pending = createPostgresPendingPlacementRepository(db);
  const terminations = createPostgresPendingTerminationRepository(db);

  // The registry and the rules report changes to the placer, which is built after them.
  const changes: RoutingChanges = {
    invalidate: () => placer.invalidate(),
    reevaluateAll: () => placer.reevaluateAll(),
  };
  const registry = new ClusterRegistry({
    clusters: clusterRepo,
    executions,
    terminations,
    dataPlane,
    settings,
    configClusters,
    metrics,
    logger,
    changes,
  });
  const rules = new RoutingRulesManager({ rules: ruleRepo, changes });
  const maintenance = new DataPlaneMaintenance({
    registry,
    terminations,
    pending,
    decisions,
    dataPlane,
    projects: lookup,
    settings,
    configClusters,
    metrics,
    logger,
  });
  const placer: Placer = new Placer({
    pending,
    decisions,
    rules: ruleRepo,
    executions,
    registry,
    maintenance,
    dataPlane,
    isolation: options.isolation ?? lookup,
    settings,
    metrics,
    logger,
  });
  return {
    placer,
    handlers: {
      ...createClusterHandlers({ registry }, logger),
      ...createRoutingHandlers({ rules, placer }, logger),
    },
    managers: { registry, rules, placer, maintenance },
    pending,
    async start() {
      await registry.applyConfig();
      placer.start();
      maintenance.start();
    },
    async stop() {
      maintenance.stop();
      await placer.stop();
    },
  };
}
