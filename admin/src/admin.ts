import { mkdir } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import type { ServiceImpl } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { openBlobStore, type BlobStore } from "@flotilla/common";
import { migrate, openDatabase, type Database } from "@flotilla/db";
import { AdminService, WorkflowExecution_Phase } from "@flotilla/proto";
import { Registry } from "prom-client";
import type { AdminConfig } from "./config.js";
import { createJsonLogger, type AdminLogger } from "./logger.js";
import { AttributesManager } from "./manager/attributes-manager.js";
import { EventManager } from "./manager/event-manager.js";
import { ExecutionManager } from "./manager/execution-manager.js";
import { LaunchPlanManager } from "./manager/launch-plan-manager.js";
import type { ExecutionPlacer } from "./manager/placement.js";
import { ProjectManager } from "./manager/project-manager.js";
import { TaskManager } from "./manager/task-manager.js";
import { WorkflowManager } from "./manager/workflow-manager.js";
import { createAdminMetrics, type AdminMetrics } from "./metrics.js";
import { createPostgresAttributesRepository } from "./repository/attributes-repository.js";
import { createPostgresEventRepository, type EventRepository } from "./repository/event-repository.js";
import {
  createPostgresExecutionRepository,
  type ExecutionRepository,
} from "./repository/execution-repository.js";
import { createPostgresRegistryRepository } from "./repository/registry-repository.js";
import { createRoutingSubsystem } from "./routing-subsystem.js";
import { createAdminServiceHandlers } from "./rpc/admin-service.js";
import { rpcInterceptor } from "./rpc/errors.js";
import { listenDualProtocol, type DualProtocolServer } from "./server.js";

/** Directory of admin's SQL migrations (shipped next to dist/). */
export const ADMIN_MIGRATIONS_DIR: string = fileURLToPath(new URL("../migrations/", import.meta.url));

/** Version reported by GetVersion. */
export const ADMIN_VERSION = "0.1.0";

/** What a routing subsystem provides to the admin (see `routing-subsystem.ts`). */
export interface RoutingParts {
  placer: ExecutionPlacer;
  handlers: Partial<ServiceImpl<typeof AdminService>>;
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

/** Options of {@link createAdmin} / {@link startAdmin}. */
export interface AdminOptions {
  /** Logger (JSON lines on stderr by default). */
  logger?: AdminLogger;
  /** Metrics registry (a new one by default). */
  registry?: Registry;
  /**
   * Builds the routing subsystem. Default: `createRoutingSubsystem` (`routing-subsystem.ts`) over the
   * `clusters`, `routing` and `dataPlane` config sections. Tests inject a scripted placer here;
   * `createUnroutedPlacer()` keeps every execution QUEUED.
   */
  routing?: (deps: RoutingFactoryDeps) => RoutingParts;
  /** An already-open, already-migrated database to use instead of `config.database`. */
  database?: Database;
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
  /** The AdminService implementation (core handlers merged with routing's). */
  readonly service: Partial<ServiceImpl<typeof AdminService>>;
  /** Node request handler: Connect/gRPC/gRPC-Web plus /healthz, /readyz, /metrics. */
  readonly handler: ReturnType<typeof connectNodeAdapter>;
  /** Starts background work (routing loops). */
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

  const late: { executions?: ExecutionRepository } = {};
  const metrics = createAdminMetrics(async () => {
    const counts = (await late.executions?.countByPhase()) ?? new Map<number, number>();
    return new Map([...counts].map(([p, n]) => [WorkflowExecution_Phase[p] ?? String(p), n]));
  }, registry);
  const observe = (op: string, s: number) => metrics.dbQueryDuration.observe({ operation: op }, s);
  const registryRepo = createPostgresRegistryRepository(database, observe);
  const executionRepo = createPostgresExecutionRepository(database, observe);
  late.executions = executionRepo;
  const eventRepository = createPostgresEventRepository(database, observe);
  const attributesRepo = createPostgresAttributesRepository(database, observe);

  const projects = new ProjectManager(registryRepo);
  const tasks = new TaskManager(registryRepo, projects);
  const workflows = new WorkflowManager(registryRepo, projects);
  const launchPlans = new LaunchPlanManager(registryRepo, projects, workflows);
  const attributes = new AttributesManager(attributesRepo, projects);
  const events = new EventManager({
    db: database,
    executions: executionRepo,
    events: eventRepository,
    metrics,
  });
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
    { blobRoot: blobs.root, defaultMaxParallelism: config.executions.defaultMaxParallelism },
  );
  const core = createAdminServiceHandlers({
    projects,
    tasks,
    workflows,
    launchPlans,
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
  const service = { ...core, ...routing.handlers };
  let ready = false;
  const handler = connectNodeAdapter({
    routes: (router) => {
      router.service(AdminService, service);
    },
    interceptors: [rpcInterceptor(metrics, logger)],
    fallback: (req, res) => {
      const path = (req.url ?? "/").split("?")[0];
      const send = (status: number, body: string, type = "text/plain; charset=utf-8") => {
        res.writeHead(status, { "content-type": type });
        res.end(body);
      };
      if (path === "/healthz") return send(200, "ok\n");
      if (path === "/readyz") {
        if (!ready) return send(503, "starting\n");
        database.query("SELECT 1").then(
          () => send(200, "ok\n"),
          (err: unknown) => send(503, `database unavailable: ${(err as Error).message}\n`),
        );
        return;
      }
      if (path === "/metrics") {
        registry.metrics().then(
          (text) => send(200, text, registry.contentType),
          (err: unknown) => {
            logger.error("metrics collection failed", { error: err });
            send(500, "metrics collection failed\n");
          },
        );
        return;
      }
      send(404, "not found\n");
    },
  });
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
    service,
    handler,
    async start() {
      await routing.start();
      ready = true;
    },
    stop() {
      stopped ??= (async () => {
        ready = false;
        await routing.stop();
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
  let server: DualProtocolServer;
  try {
    await admin.start();
    server = await listenDualProtocol(admin.handler, config.server.host, config.server.port);
  } catch (err) {
    await admin.stop();
    throw err;
  }
  const host = server.host.includes(":") ? `[${server.host}]` : server.host;
  let stopping: Promise<void> | undefined;
  return {
    url: `http://${host === "0.0.0.0" ? "127.0.0.1" : host}:${server.port}`,
    port: server.port,
    admin,
    stop() {
      stopping ??= (async () => {
        await server.close(config.server.shutdownGraceSeconds * 1000);
        await admin.stop();
      })();
      return stopping;
    },
  };
}
