import { mkdir } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { startServer, type Readiness, type RunningServer, type ServerOptions } from "@flotilla/runtime";
import { openBlobStore, type BlobStore } from "@flotilla/common";
import { PostgresLeaderElection, migrate, openDatabase, type Database } from "@flotilla/db";
import { AdminService, WorkflowExecution_Phase } from "@flotilla/proto";
import { Registry } from "prom-client";
import type { AdminConfig } from "./config.js";
import { createJsonLogger, type AdminLogger } from "./logger.js";
import { AttributesManager } from "./manager/attributes-manager.js";
import { CostManager } from "./manager/cost-manager.js";
import { createCostMetrics } from "./manager/cost-metrics.js";
import { EventManager } from "./manager/event-manager.js";
import { ExecutionManager } from "./manager/execution-manager.js";
import { LaunchPlanManager } from "./manager/launch-plan-manager.js";
import { NotificationDispatcher } from "./manager/notification-dispatcher.js";
import { NotificationManager } from "./manager/notification-manager.js";
import type { ExecutionPlacer } from "./manager/placement.js";
import { ProjectManager } from "./manager/project-manager.js";
import { ScheduleManager } from "./manager/schedule-manager.js";
import { Scheduler, type SchedulerLeadership } from "./manager/scheduler.js";
import { TaskManager } from "./manager/task-manager.js";
import { WorkflowManager } from "./manager/workflow-manager.js";
import { createAdminMetrics, type AdminMetrics } from "./metrics.js";
import { channelPolicy } from "./notifications/rules.js";
import { createNotificationSender } from "./notifications/senders.js";
import { PostgresAttributesRepository } from "./repository/attributes-repository.js";
import { PostgresCostRepository } from "./repository/cost-repository.js";
import { PostgresEventRepository, type EventRepository } from "./repository/event-repository.js";
import { PostgresExecutionRepository, type ExecutionRepository } from "./repository/execution-repository.js";
import {
  PostgresNotificationRepository,
  type NotificationRepository,
} from "./repository/notification-repository.js";
import { PostgresRegistryRepository } from "./repository/registry-repository.js";
import { PostgresScheduleRepository } from "./repository/schedule-repository.js";
import { createRoutingSubsystem } from "./routing-subsystem.js";
import { createAdminServiceHandlers } from "./rpc/admin-service.js";
import type { ClusterHandlers } from "./rpc/cluster-handlers.js";
import { createCostHandlers } from "./rpc/cost-handlers.js";
import type { RoutingHandlers } from "./rpc/routing-handlers.js";
import { rpcInterceptor } from "./rpc/errors.js";
import { createNotificationHandlers } from "./rpc/notification-handlers.js";
import { createRolloutHandlers } from "./rpc/rollout-handlers.js";

/** Directory of admin's SQL migrations (shipped next to dist/). */
export const ADMIN_MIGRATIONS_DIR: string = fileURLToPath(new URL("../migrations/", import.meta.url));

/**
 * Key of the session advisory lock the firing admin replica holds (one bigint key space, apart
 * from the migration locks and the resource manager's leader lock).
 */
export const SCHEDULER_LOCK_KEY = "5069006230016589142";

/** Version reported by GetVersion. */
export const ADMIN_VERSION = "0.1.0";

/** What a routing subsystem provides to the admin (see `routing-subsystem.ts`). */
export interface RoutingParts {
  placer: ExecutionPlacer;
  /** Cluster, routing rule and explanation RPCs; a missing one answers Unimplemented. */
  handlers: Partial<ClusterHandlers & RoutingHandlers>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** Everything a routing subsystem factory receives. */
export interface RoutingFactoryDeps {
  db: Database;
  executions: ExecutionRepository;
  blobStore: BlobStore;
  config: AdminConfig;
  registry: Registry;
  logger: AdminLogger;
}

/** The runtime server's options an admin provides (everything but where to listen). */
export type AdminServerOptions = Omit<ServerOptions, "host" | "port">;

/** Options of {@link createAdmin} / {@link startAdmin}. */
export interface AdminOptions {
  /** Logger (JSON lines on stderr by default). */
  logger?: AdminLogger;
  /** Metrics registry (a new one by default). */
  registry?: Registry;
  /** Also export Node.js process metrics (`flotilla_admin_process_*`; the bin turns it on). */
  processMetrics?: boolean;
  /**
   * Builds the routing subsystem. Default: `createRoutingSubsystem` (`routing-subsystem.ts`) over the
   * `clusters`, `routing` and `dataPlane` config sections. Tests inject a scripted placer here;
   * `createUnroutedPlacer()` keeps every execution QUEUED.
   */
  routing?: (deps: RoutingFactoryDeps) => RoutingParts;
  /** An already-open, already-migrated database to use instead of `config.database`. */
  database?: Database;
  /** The clock of schedules (activation times, due firings); tests pass a fake one. */
  now?: () => Date;
}

/** A constructed (not yet listening) admin. */
export interface Admin {
  readonly db: Database;
  readonly blobs: BlobStore;
  readonly metrics: AdminMetrics;
  readonly executions: ExecutionRepository;
  readonly eventRepository: EventRepository;
  readonly projects: ProjectManager;
  readonly tasks: TaskManager;
  readonly workflows: WorkflowManager;
  readonly launchPlans: LaunchPlanManager;
  readonly executionManager: ExecutionManager;
  readonly attributes: AttributesManager;
  readonly events: EventManager;
  readonly schedules: ScheduleManager;
  /**
   * Fires schedules; its loop runs from `start()` when `scheduler.enabled`, and fires only while
   * this replica holds the scheduler lock. Tests call `tick()` on a fake clock.
   */
  readonly scheduler: Scheduler;
  /** Reads the notification outbox (ListNotifications). */
  readonly notifications: NotificationManager;
  /** Delivers the outbox; undefined when `notifications.enabled` is false. */
  readonly notificationDispatcher: NotificationDispatcher | undefined;
  /** Cost and waste of task attempts (priced on ingestion, reported by GetCosts). */
  readonly costs: CostManager;
  /** The AdminService implementation: core, routing and (not built yet) rollout handlers. */
  readonly service: ServiceImpl<typeof AdminService>;
  /** What the runtime server needs to serve this admin: routes, interceptors, metrics, readiness. */
  readonly server: AdminServerOptions;
  /**
   * Ready once started and while the database answers; otherwise not ready with the reason
   * (served as `/readyz`).
   */
  readiness(): Promise<Readiness>;
  /** Starts background work (routing loops, the scheduler, the notification dispatcher). */
  start(): Promise<void>;
  /** Stops background work and closes the database (if admin opened it). */
  stop(): Promise<void>;
}

/**
 * Builds the admin: opens the database (PostgreSQL URL or embedded PGlite in
 * `database.dataDir`) and applies migrations under the migration lock (concurrent admins wait
 * for each other), opens the blob store, wires repositories, managers, routing and RPC
 * handlers. Returns the admin; side effects: database connections, data directory creation.
 */
export async function createAdmin(config: AdminConfig, options: AdminOptions = {}): Promise<Admin> {
  const logger = options.logger ?? createJsonLogger();
  const registry = options.registry ?? new Registry();
  let db = options.database;
  const ownsDb = db === undefined;
  if (!db) {
    if (config.database.url) {
      db = await openDatabase({
        url: config.database.url,
        log: logger,
      });
    } else {
      await mkdir(config.database.dataDir, { recursive: true });
      db = await openDatabase({
        dataDir: config.database.dataDir,
        log: logger,
      });
    }
    try {
      const result = await migrate(db, { dir: ADMIN_MIGRATIONS_DIR });
      if (result.applied.length > 0) logger.info("migrations applied", { applied: result.applied });
    } catch (err) {
      await db.close();
      throw err;
    }
  }
  const database = db;
  const blobs = openBlobStore(config.blobStore.url);

  const late: { executions?: ExecutionRepository; outbox?: NotificationRepository } = {};
  const metrics = createAdminMetrics(
    async () => {
      const counts = (await late.executions?.countByPhase()) ?? [];
      return counts.map((c) => ({ ...c, phase: WorkflowExecution_Phase[c.phase] ?? String(c.phase) }));
    },
    registry,
    {
      processMetrics: options.processMetrics ?? false,
      countNotifications: async () => (await late.outbox?.countByState()) ?? new Map<string, number>(),
    },
  );
  const observe = (op: string, s: number) => metrics.dbQueryDuration.observe({ operation: op }, s);
  const registryRepo = new PostgresRegistryRepository(database, observe);
  const executionRepo = new PostgresExecutionRepository(database, observe);
  late.executions = executionRepo;
  const eventRepository = new PostgresEventRepository(database, observe);
  const attributesRepo = new PostgresAttributesRepository(database, observe);
  const outbox = new PostgresNotificationRepository(database, observe);
  late.outbox = outbox;
  const notificationPolicy = channelPolicy(config.notifications);

  const projects = new ProjectManager(registryRepo);
  const tasks = new TaskManager(registryRepo, projects);
  const workflows = new WorkflowManager(registryRepo, projects, {
    maxWorkflowNodes: config.registry.maxWorkflowNodes,
  });
  const now = options.now ?? (() => new Date());
  const scheduleRepo = new PostgresScheduleRepository(database, observe);
  const schedules = new ScheduleManager(scheduleRepo, { minIntervalMs: config.scheduler.minInterval, now });
  const launchPlans = new LaunchPlanManager(registryRepo, projects, workflows, schedules, notificationPolicy);
  const attributes = new AttributesManager(attributesRepo, projects);
  const costs = new CostManager(new PostgresCostRepository(database, observe), createCostMetrics(registry));
  const events = new EventManager({
    db: database,
    executions: executionRepo,
    events: eventRepository,
    outbox,
    metrics,
    costs,
  });
  const notifications = new NotificationManager(outbox);
  const n = config.notifications;
  const notificationDispatcher = n.enabled
    ? new NotificationDispatcher(
        { outbox, sender: createNotificationSender(n), logger, metrics },
        {
          pollIntervalMs: n.pollInterval,
          batchSize: n.batchSize,
          maxAttempts: n.maxAttempts,
          backoff: { initialMs: n.backoff.initial, maxMs: n.backoff.max },
          leaseMs: n.lease,
          retentionMs: n.retention,
        },
      )
    : undefined;
  const routingDeps: RoutingFactoryDeps = {
    db: database,
    executions: executionRepo,
    blobStore: blobs,
    config,
    registry,
    logger,
  };
  let routing: RoutingParts;
  try {
    const filled = await events.backfillLogNodeIds();
    if (filled > 0) logger.info("event log node ids backfilled", { events: filled });
    routing = (options.routing ?? defaultRouting)(routingDeps);
  } catch (err) {
    if (ownsDb) await database.close();
    throw err;
  }
  const executionManager = new ExecutionManager(
    {
      executions: executionRepo,
      projects,
      workflows,
      launchPlans,
      attributes,
      events,
      blobs,
      placer: () => routing.placer,
      metrics,
    },
    {
      blobRoot: blobs.root,
      defaultMaxParallelism: config.executions.defaultMaxParallelism,
      notificationPolicy,
    },
  );
  // PostgreSQL: replicas campaign for the scheduler lock. Embedded PGlite belongs to one process.
  const election =
    config.scheduler.enabled && database.kind === "postgres"
      ? new PostgresLeaderElection({
          url: database.url,
          lockKey: SCHEDULER_LOCK_KEY,
          intervalMs: config.scheduler.tick,
          log: logger,
          onElected: async () => {
            metrics.schedulerLeader.set(1);
            logger.info("scheduler lock acquired: this replica fires schedules");
          },
          onDeposed: (reason) => {
            metrics.schedulerLeader.set(0);
            logger.info("scheduler lock released", { reason });
          },
        })
      : undefined;
  const leadership: SchedulerLeadership = election ?? { leading: true };
  const scheduler = new Scheduler(
    { repo: scheduleRepo, schedules, executions: executionManager, leadership, logger, metrics },
    {
      tickMs: config.scheduler.tick,
      lateAfterMs: config.scheduler.lateAfter,
      maxFirePerTick: config.scheduler.maxFiresPerTick,
      now,
    },
  );
  const core = createAdminServiceHandlers({
    projects,
    tasks,
    workflows,
    launchPlans,
    schedules,
    executions: executionManager,
    attributes,
    events,
    eventRepository,
    blobs,
    version: {
      version: ADMIN_VERSION,
      commit: process.env.FLOTILLA_GIT_COMMIT ?? "unknown",
      buildTime: new Date(),
    },
  });
  const service: ServiceImpl<typeof AdminService> = {
    ...core,
    ...createCostHandlers(costs),
    ...createRolloutHandlers(),
    ...createNotificationHandlers(notifications),
    ...withoutRouting(),
    ...routing.handlers,
  };
  let state: "starting" | "started" | "stopping" = "starting";
  const readiness = async (): Promise<Readiness> => {
    if (state !== "started") return { ready: false, reason: `admin is ${state}` };
    try {
      await database.query("SELECT 1");
      return { ready: true };
    } catch (err) {
      return { ready: false, reason: `database unavailable: ${(err as Error).message}` };
    }
  };
  const server: AdminServerOptions = {
    logger,
    registry,
    interceptors: [rpcInterceptor(metrics, logger)],
    routes: (router) => {
      router.service(AdminService, service);
    },
    readiness,
  };
  let stopped: Promise<void> | undefined;
  return {
    db: database,
    blobs,
    metrics,
    executions: executionRepo,
    eventRepository,
    projects,
    tasks,
    workflows,
    launchPlans,
    executionManager,
    attributes,
    events,
    schedules,
    scheduler,
    notifications,
    notificationDispatcher,
    costs,
    service,
    server,
    readiness,
    async start() {
      await costs.touchActiveSeries();
      await routing.start();
      if (config.scheduler.enabled) {
        if (database.kind === "pglite") metrics.schedulerLeader.set(1);
        election?.start();
        scheduler.start();
      }
      notificationDispatcher?.start();
      state = "started";
    },
    stop() {
      stopped ??= (async () => {
        state = "stopping";
        await scheduler.stop();
        await election?.stop();
        await routing.stop();
        await notificationDispatcher?.stop();
        if (ownsDb) await database.close();
      })();
      return stopped;
    },
  };
}

/** The routing subsystem (`routing-subsystem.ts`), configured from the `clusters`, `routing` and `dataPlane` sections. */
function defaultRouting(deps: RoutingFactoryDeps): RoutingParts {
  return createRoutingSubsystem({
    db: deps.db,
    executions: deps.executions,
    blobStore: deps.blobStore,
    config: {
      clusters: deps.config.clusters,
      routing: deps.config.routing,
      dataPlane: deps.config.dataPlane,
    },
    registry: deps.registry,
    logger: deps.logger,
  });
}

/**
 * Cluster handlers of an admin built with a routing subsystem that serves none (tests, benches
 * with a scripted placer): each answers Unimplemented saying so.
 */
function withoutRouting(): ClusterHandlers & RoutingHandlers {
  const absent = (method: string) => () => {
    throw new ConnectError(
      `${method} is not served: this admin runs without cluster routing`,
      Code.Unimplemented,
    );
  };
  return {
    registerCluster: absent("RegisterCluster"),
    updateCluster: absent("UpdateCluster"),
    getCluster: absent("GetCluster"),
    listClusters: absent("ListClusters"),
    cordonCluster: absent("CordonCluster"),
    uncordonCluster: absent("UncordonCluster"),
    drainCluster: absent("DrainCluster"),
    clusterHeartbeat: absent("ClusterHeartbeat"),
    createRoutingRule: absent("CreateRoutingRule"),
    updateRoutingRule: absent("UpdateRoutingRule"),
    deleteRoutingRule: absent("DeleteRoutingRule"),
    listRoutingRules: absent("ListRoutingRules"),
    explainExecution: absent("ExplainExecution"),
  };
}

/** A running admin: its URL and how to stop it. */
export interface RunningAdmin {
  /** Base URL, e.g. `http://127.0.0.1:8088`. */
  readonly url: string;
  readonly port: number;
  readonly admin: Admin;
  /** Graceful shutdown: stop accepting, finish in-flight requests, stop routing, close the database. */
  stop(): Promise<void>;
}

/**
 * Creates, starts and serves an admin on `config.server.host:port` (Connect, gRPC and gRPC-Web
 * on one port, plus health and metrics). Returns once listening.
 */
export async function startAdmin(config: AdminConfig, options: AdminOptions = {}): Promise<RunningAdmin> {
  const admin = await createAdmin(config, options);
  let server: RunningServer;
  try {
    await admin.start();
    server = await startServer({ ...admin.server, host: config.server.host, port: config.server.port });
  } catch (err) {
    await admin.stop();
    throw err;
  }
  let stopping: Promise<void> | undefined;
  return {
    url: server.url,
    port: server.port,
    admin,
    stop() {
      stopping ??= (async () => {
        await server.close(config.server.shutdownGrace);
        await admin.stop();
      })();
      return stopping;
    },
  };
}
