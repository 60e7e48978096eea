import { readFile } from "node:fs/promises";
import { isAbsolute, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { Code } from "@connectrpc/connect";
import { parse } from "yaml";
import { AdminError } from "./errors.js";

/** The `server` section. */
export interface ServerConfig {
  /** TCP port (default 8088; 0 picks a free one). */
  port: number;
  /** Listen address (default 0.0.0.0). */
  host: string;
  /** Seconds to wait for in-flight requests on shutdown (default 10). */
  shutdownGraceSeconds: number;
}

/** The `database` section: a PostgreSQL URL, or an embedded PGlite data directory. */
export interface DatabaseConfig {
  url?: string | undefined;
  /** Embedded PGlite data directory, used when `url` is absent (default ./flotilla-admin-data). */
  dataDir: string;
}

/** The `executions` section. */
export interface ExecutionsConfig {
  /** Max parallelism when nothing more specific sets one (default 0 = unbounded). */
  defaultMaxParallelism: number;
}

/** Full admin configuration (the routing sections are passed through to the routing subsystem). */
export interface AdminConfig {
  server: ServerConfig;
  database: DatabaseConfig;
  blobStore: { url: string };
  executions: ExecutionsConfig;
  /** `clusters`, `routing` and `dataPlane` sections, validated by the routing subsystem. */
  clusters?: unknown[] | undefined;
  routing?: Record<string, unknown> | undefined;
  dataPlane?: Record<string, unknown> | undefined;
}

/** The configuration file or an override is invalid. `path` is the offending key. */
export class AdminConfigError extends AdminError {
  readonly code = Code.InvalidArgument;
  constructor(
    readonly path: string,
    readonly problem: string,
  ) {
    super(`admin config ${path}: ${problem}`);
  }
}

type Obj = Record<string, unknown>;

function section(root: Obj, key: string): Obj {
  const v = root[key];
  if (v === undefined || v === null) return {};
  if (typeof v !== "object" || Array.isArray(v)) throw new AdminConfigError(key, "must be a mapping");
  return v as Obj;
}

function str(o: Obj, path: string, key: string): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string" || v === "")
    throw new AdminConfigError(`${path}.${key}`, "must be a non-empty string");
  return v;
}

function int(o: Obj, path: string, key: string, min: number, max: number): number | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  const n = typeof v === "string" ? Number(v) : v;
  if (typeof n !== "number" || !Number.isInteger(n) || n < min || n > max) {
    throw new AdminConfigError(
      `${path}.${key}`,
      `must be an integer in [${min}, ${max}], got ${JSON.stringify(v)}`,
    );
  }
  return n;
}

/**
 * Builds the admin configuration from a parsed YAML document plus environment overrides
 * (`FLOTILLA_ADMIN_PORT`, `FLOTILLA_ADMIN_HOST`, `FLOTILLA_ADMIN_DATABASE_URL`,
 * `FLOTILLA_ADMIN_DATA_DIR`, `FLOTILLA_ADMIN_BLOB_STORE_URL`). Relative paths resolve against
 * `baseDir`. Returns the defaulted config; throws {@link AdminConfigError}.
 */
export function resolveAdminConfig(
  doc: unknown,
  env: NodeJS.ProcessEnv = process.env,
  baseDir = process.cwd(),
): AdminConfig {
  if (doc !== undefined && doc !== null && (typeof doc !== "object" || Array.isArray(doc))) {
    throw new AdminConfigError("<root>", "must be a mapping");
  }
  const root = (doc ?? {}) as Obj;
  const known = new Set([
    "server",
    "database",
    "blobStore",
    "executions",
    "clusters",
    "routing",
    "dataPlane",
  ]);
  for (const key of Object.keys(root))
    if (!known.has(key)) throw new AdminConfigError(key, "unknown section");
  const server = section(root, "server");
  const database = section(root, "database");
  const blob = section(root, "blobStore");
  const executions = section(root, "executions");
  const overrides: Obj = {};
  if (env.FLOTILLA_ADMIN_PORT !== undefined) overrides.port = env.FLOTILLA_ADMIN_PORT;
  const port = int({ ...server, ...overrides }, "server", "port", 0, 65535) ?? 8088;
  const host = env.FLOTILLA_ADMIN_HOST ?? str(server, "server", "host") ?? "0.0.0.0";
  const url = env.FLOTILLA_ADMIN_DATABASE_URL ?? str(database, "database", "url");
  const dataDir = resolve(
    baseDir,
    env.FLOTILLA_ADMIN_DATA_DIR ?? str(database, "database", "dataDir") ?? "flotilla-admin-data",
  );
  let blobUrl = env.FLOTILLA_ADMIN_BLOB_STORE_URL ?? str(blob, "blobStore", "url") ?? "flotilla-blobs";
  if (!blobUrl.includes("://"))
    blobUrl = pathToFileURL(isAbsolute(blobUrl) ? blobUrl : resolve(baseDir, blobUrl)).href;
  if (!blobUrl.startsWith("file://"))
    throw new AdminConfigError(
      "blobStore.url",
      `unsupported scheme in ${blobUrl} (only file:// is built in)`,
    );
  const clusters = root.clusters;
  if (clusters !== undefined && clusters !== null && !Array.isArray(clusters)) {
    throw new AdminConfigError("clusters", "must be a list");
  }
  return {
    server: {
      port,
      host,
      shutdownGraceSeconds: int(server, "server", "shutdownGraceSeconds", 0, 3600) ?? 10,
    },
    database: { url, dataDir },
    blobStore: { url: blobUrl.replace(/\/+$/, "") },
    executions: {
      defaultMaxParallelism: int(executions, "executions", "defaultMaxParallelism", 0, 10000) ?? 0,
    },
    // Kubeconfig paths are relative to the configuration file, like every other path.
    clusters: (clusters as unknown[] | undefined)?.map((c) =>
      c !== null && typeof c === "object" && typeof (c as Obj).kubeconfig === "string"
        ? { ...(c as Obj), kubeconfig: resolve(baseDir, (c as Obj).kubeconfig as string) }
        : c,
    ),
    routing: root.routing === undefined ? undefined : section(root, "routing"),
    dataPlane: root.dataPlane === undefined ? undefined : section(root, "dataPlane"),
  };
}

/** Reads and resolves a YAML config file (see {@link resolveAdminConfig}); relative paths resolve against its folder. */
export async function loadAdminConfig(
  path: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): Promise<AdminConfig> {
  if (path === undefined) return resolveAdminConfig(undefined, env);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new AdminConfigError("<file>", `cannot read ${path}: ${(err as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new AdminConfigError("<file>", `${path} is not valid YAML: ${(err as Error).message}`);
  }
  return resolveAdminConfig(doc, env, resolve(path, ".."));
}
