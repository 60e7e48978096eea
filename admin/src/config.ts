import { isAbsolute, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import {
  ConfigError,
  defineConfig,
  durationMs,
  loadConfig,
  parseConfigDocument,
  port,
  secret,
  type LoadConfigInput,
} from "@flotilla/runtime";
import { z } from "zod";
import { notificationsSection } from "./notifications/config.js";
import { RoutingConfigError, validateRoutingSection } from "./routing/config.js";

/**
 * The admin's configuration: the `--config admin.yaml` file, `FLOTILLA_ADMIN_<KEY_PATH>`
 * variables (plus the older `FLOTILLA_ADMIN_PORT`, `_HOST`, `_DATA_DIR`) and flags, through
 * the one loader of `@flotilla/runtime`. Paths are as written; {@link loadAdminConfig} and
 * {@link resolveAdminConfig} resolve them against the configuration file's folder.
 */
export const adminConfig = defineConfig(
  "admin",
  z.strictObject({
    server: z
      .strictObject({
        /** Connect, gRPC, gRPC-Web, /metrics, /healthz and /readyz; 0 picks a free port. */
        port: port().default(8088),
        /** Bind address. */
        host: z.string().min(1).default("0.0.0.0"),
        /** How long in-flight requests may take to finish on shutdown. */
        shutdownGrace: durationMs("10s"),
      })
      .prefault({}),
    database: z
      .strictObject({
        /** PostgreSQL URL; absent: embedded PGlite in `dataDir`. */
        url: secret(z.string().min(1)).optional(),
        /** Embedded PGlite data directory. */
        dataDir: z.string().min(1).default("flotilla-admin-data"),
      })
      .prefault({}),
    blobStore: z
      .strictObject({
        /** A `file://` URL or a path (only the file store is built in). */
        url: z
          .string()
          .min(1)
          .default("flotilla-blobs")
          .refine((u) => !u.includes("://") || u.startsWith("file://"), "only file:// is built in"),
      })
      .prefault({}),
    registry: z
      .strictObject({
        /**
         * Most nodes one workflow template may have. The propeller's status compression keeps
         * large workflows' CRs small; the default keeps registrations of an untuned install modest.
         */
        maxWorkflowNodes: z.number().int().min(1).max(100_000).default(1000),
      })
      .prefault({}),
    executions: z
      .strictObject({
        /** Max parallelism when nothing more specific sets one (0 = unbounded). */
        defaultMaxParallelism: z.number().int().min(0).max(10000).default(0),
      })
      .prefault({}),
    scheduler: z
      .strictObject({
        /** Run the scheduler loop (every replica campaigns; only the lock holder fires). */
        enabled: z.boolean().default(true),
        /** How often the lock holder looks for due firings, and a standby retries the lock. */
        tick: durationMs("1s"),
        /** Shortest allowed time between two firings of a schedule (checked at registration). */
        minInterval: durationMs("1m"),
        /** A firing older than this when the scheduler reaches it was missed (catch-up policy). */
        lateAfter: durationMs("1m"),
        /** Most firings one schedule starts per tick; the rest follow on the next ticks. */
        maxFiresPerTick: z.number().int().min(1).max(10000).default(100),
      })
      .prefault({}),
    /** Execution notifications: the outbox dispatcher and its webhook, Slack and email channels. */
    notifications: notificationsSection,
    /** Data-plane clusters, validated by the routing subsystem. */
    clusters: z.array(z.unknown()).optional(),
    /** Routing settings, validated by the routing subsystem. */
    routing: z.record(z.string(), z.unknown()).optional(),
    /** Data-plane settings, validated by the routing subsystem. */
    dataPlane: z.record(z.string(), z.unknown()).optional(),
  }),
  {
    bin: "flotilla-admin",
    flags: {
      port: { path: "server.port", description: "Port to listen on" },
      host: { path: "server.host", description: "Bind address" },
      "database-url": { path: "database.url", description: "PostgreSQL URL (default: embedded PGlite)" },
      "data-dir": { path: "database.dataDir", description: "Embedded PGlite data directory" },
    },
    // The variables admin read before the shared loader, kept working.
    envAliases: {
      FLOTILLA_ADMIN_PORT: "server.port",
      FLOTILLA_ADMIN_HOST: "server.host",
      FLOTILLA_ADMIN_DATA_DIR: "database.dataDir",
    },
  },
);

type ParsedAdminConfig = z.output<typeof adminConfig.schema>;

/** The admin's configuration with defaults applied and paths resolved. */
export interface AdminConfig {
  server: ParsedAdminConfig["server"];
  database: { url?: string | undefined; dataDir: string };
  /** `url` is an absolute `file://` URL without a trailing slash. */
  blobStore: { url: string };
  registry: ParsedAdminConfig["registry"];
  executions: ParsedAdminConfig["executions"];
  scheduler: ParsedAdminConfig["scheduler"];
  notifications: ParsedAdminConfig["notifications"];
  /** `clusters`, `routing` and `dataPlane` sections, validated by the routing subsystem. */
  clusters?: unknown[] | undefined;
  routing?: Record<string, unknown> | undefined;
  dataPlane?: Record<string, unknown> | undefined;
}

type Obj = Record<string, unknown>;

/** Resolves the relative paths of a parsed configuration against `baseDir`. */
function withPaths(parsed: ParsedAdminConfig, baseDir: string): AdminConfig {
  const blob = parsed.blobStore.url;
  const blobUrl = blob.includes("://")
    ? blob
    : pathToFileURL(isAbsolute(blob) ? blob : resolve(baseDir, blob)).href;
  return {
    ...parsed,
    database: { url: parsed.database.url, dataDir: resolve(baseDir, parsed.database.dataDir) },
    blobStore: { url: blobUrl.replace(/\/+$/, "") },
    // Kubeconfig paths are relative to the configuration file, like every other path.
    clusters: parsed.clusters?.map((c) =>
      c !== null && typeof c === "object" && typeof (c as Obj).kubeconfig === "string"
        ? { ...(c as Obj), kubeconfig: resolve(baseDir, (c as Obj).kubeconfig as string) }
        : c,
    ),
  };
}

/**
 * Loads the admin's configuration from the command line (`--config FILE`, `--set`, `--port`,
 * ...), the environment and the file, and resolves its paths. Returns the configuration, or
 * `done` after `--help` / `--print-config` were answered. Throws the runtime's ConfigError
 * (naming the key path and its source) or UsageError.
 */
export async function loadAdminConfig(
  input: LoadConfigInput,
): Promise<{ config: AdminConfig; done: boolean }> {
  const loaded = await loadConfig(adminConfig, input);
  if (loaded.done) return { config: undefined as unknown as AdminConfig, done: true };
  const config = withPaths(loaded.config, loaded.baseDir);
  const source = loaded.file === undefined ? "defaults, environment or flags" : `file ${loaded.file}`;
  checkRoutingSections(config, source);
  checkSchedulerSection(config, source);
  return { config, done: false };
}

/**
 * Checks the bounds of the `scheduler` section the schema cannot express. Throws the runtime's
 * ConfigError naming the key path.
 */
function checkSchedulerSection(config: AdminConfig, source: string): void {
  const problems: { keyPath: string; source: string; problem: string }[] = [];
  if (config.scheduler.tick < 10) {
    problems.push({ keyPath: "scheduler.tick", source, problem: "must be at least 10ms" });
  }
  if (config.scheduler.minInterval < 1000) {
    problems.push({ keyPath: "scheduler.minInterval", source, problem: "must be at least 1s" });
  }
  if (problems.length > 0) throw new ConfigError("admin", problems);
}

/**
 * Validates the `clusters`, `routing` and `dataPlane` sections now, with the rest of the
 * configuration, so a bad value there is a configuration error (exit 2, naming the key path and
 * the file) rather than a failure when routing starts. Throws the runtime's ConfigError.
 */
function checkRoutingSections(config: AdminConfig, source: string): void {
  try {
    validateRoutingSection(config);
  } catch (err) {
    if (!(err instanceof RoutingConfigError)) throw err;
    throw new ConfigError("admin", [
      { keyPath: err.path.replace(/\[(\d+)\]/g, ".$1"), source, problem: err.problem },
    ]);
  }
}

/**
 * Builds the admin's configuration from an in-memory document (tests, embedding): the same
 * schema, defaults and path resolution as the file, without environment or flags. Throws the
 * runtime's ConfigError naming the key path.
 */
export function resolveAdminConfig(doc: unknown, baseDir = process.cwd()): AdminConfig {
  const config = withPaths(parseConfigDocument(adminConfig, doc), baseDir);
  checkSchedulerSection(config, "document");
  return config;
}
