import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { openDatabase, type Database } from "@flotilla/db";
import type { PoolConfig } from "./allocator/types.js";
import { LEADER_LOCK_KEY, PostgresLeaderElection } from "./leader/leader-election.js";
import { silentLogger, type Logger } from "@flotilla/runtime";
import { ResourceManager } from "./manager/resource-manager.js";
import { createResourceManagerMetrics, type ResourceManagerMetrics } from "./metrics.js";
import { PostgresStateRepository, migrateResourceManager } from "./repository/state-repository.js";
import { startResourceManagerServer } from "./server.js";

/** Options of {@link startResourceManager}. */
export interface StartResourceManagerOptions {
  /** Bind address (default 127.0.0.1). */
  readonly host?: string;
  /** Port (default 0: a free port). */
  readonly port?: number;
  /** PostgreSQL URL. Enables leader election (several instances may share it). */
  readonly databaseUrl?: string;
  /** Embedded PGlite data directory when no URL is given (in memory when absent too). */
  readonly dataDir?: string;
  /**
   * An already open database to use instead of `databaseUrl`/`dataDir` (the caller keeps
   * ownership; `stop()` does not close it). Leader election runs when it is PostgreSQL.
   */
  readonly database?: Database;
  /** Pools to apply (and persist) on every activation, as from the config file. */
  readonly pools?: readonly PoolConfig[];
  /** URL standbys report as the leader's; default http://<host or hostname>:<port>. */
  readonly advertiseUrl?: string;
  /** Expiry sweep interval in ms (default 200). */
  readonly sweepIntervalMs?: number;
  /** Leader election retry/check interval in ms (default 1000). */
  readonly electionIntervalMs?: number;
  /** Export Node.js process metrics too (default false here; the bin turns them on). */
  readonly defaultMetrics?: boolean;
  readonly log?: Logger;
  /** How long in-flight requests may take to finish on `stop()` (default 10 s). */
  readonly shutdownGraceMs?: number;
  /** Wall clock override for tests (epoch ms). */
  readonly clock?: () => number;
}

/** A running resource manager. */
export interface RunningResourceManager {
  /** Base URL, e.g. http://127.0.0.1:40123 (Connect, gRPC, /metrics, /healthz). */
  readonly url: string;
  readonly port: number;
  readonly manager: ResourceManager;
  readonly metrics: ResourceManagerMetrics;
  /** "leader" while active, else "standby". */
  role(): "leader" | "standby";
  /** Stops serving, gives up leadership, closes what it opened. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts a resource manager in this process: opens (or uses) the database, applies migrations,
 * listens, and either campaigns for leadership (PostgreSQL) or activates directly (embedded
 * PGlite: one instance only). Resolves once listening — on PostgreSQL possibly still as standby.
 * Side effects: a listening socket, database connections, timers; all released by `stop()`.
 */
export async function startResourceManager(
  options: StartResourceManagerOptions = {},
): Promise<RunningResourceManager> {
  const log: Logger = options.log ?? silentLogger;
  const ownsDatabase = options.database === undefined;
  const db =
    options.database ??
    (await openDatabase({
      ...(options.databaseUrl !== undefined ? { url: options.databaseUrl } : {}),
      ...(options.databaseUrl === undefined && options.dataDir !== undefined
        ? { dataDir: options.dataDir }
        : {}),
      log,
    }));
  const cleanups: (() => Promise<void>)[] = [];
  if (ownsDatabase) cleanups.push(() => db.close());
  try {
    const applied = await migrateResourceManager(db);
    if (applied.length > 0) log.info("migrations applied", { applied });
    const metrics = createResourceManagerMetrics({ defaultMetrics: options.defaultMetrics ?? false });
    const repository = new PostgresStateRepository(db);
    const host = options.host ?? "127.0.0.1";
    let election: PostgresLeaderElection | undefined;
    let reactivateTimer: NodeJS.Timeout | undefined;
    let stopping = false;
    const electionIntervalMs = options.electionIntervalMs ?? 1000;

    let advertiseUrl = options.advertiseUrl ?? "";
    const manager = new ResourceManager({
      repository,
      configPools: options.pools ?? [],
      instance: `${hostname()}/${process.pid}/${randomUUID().slice(0, 8)}`,
      advertiseUrl: () => advertiseUrl,
      metrics,
      log,
      ...(options.clock ? { clock: options.clock } : {}),
      ...(options.sweepIntervalMs !== undefined ? { sweepIntervalMs: options.sweepIntervalMs } : {}),
      onTermEnded: () => {
        if (stopping) return;
        if (election) election.resign();
        else scheduleReactivate();
      },
    });
    cleanups.push(async () => manager.stop());

    const server = await startResourceManagerServer({ host, port: options.port ?? 0, manager, metrics, log });
    cleanups.push(() => server.close(options.shutdownGraceMs ?? 10_000));
    const { port, url } = server;
    const wildcard = host === "0.0.0.0" || host === "::";
    if (advertiseUrl === "") advertiseUrl = `http://${wildcard ? hostname() : host}:${port}`;

    const scheduleReactivate = (): void => {
      if (stopping || reactivateTimer) return;
      reactivateTimer = setTimeout(() => {
        reactivateTimer = undefined;
        manager.activate().catch((err: unknown) => {
          log.error("re-activation failed; retrying", {
            error: err instanceof Error ? err.message : String(err),
          });
          scheduleReactivate();
        });
      }, electionIntervalMs);
    };

    if (db.kind === "postgres") {
      election = new PostgresLeaderElection({
        url: options.databaseUrl ?? db.url,
        lockKey: LEADER_LOCK_KEY,
        intervalMs: electionIntervalMs,
        log,
        onElected: async () => {
          await manager.activate();
        },
        onDeposed: (reason) => manager.deactivate(reason),
        onStandby: async () => {
          const leader = await repository.currentLeader();
          manager.setLeaderHint(leader?.url);
        },
      });
      election.start();
      cleanups.push(async () => {
        await election?.stop();
      });
    } else {
      await manager.activate();
    }

    let stopped: Promise<void> | undefined;
    return {
      url,
      port,
      manager,
      metrics,
      role: () => (manager.state === "active" ? "leader" : "standby"),
      stop() {
        stopped ??= (async () => {
          stopping = true;
          if (reactivateTimer) clearTimeout(reactivateTimer);
          for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
        })();
        return stopped;
      },
    };
  } catch (err) {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
    throw err;
  }
}
