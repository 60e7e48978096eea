import { readFile } from "node:fs/promises";
import { parse } from "yaml";
import { MAX_TTL_MS, validatePoolConfig } from "./allocator/allocator.js";
import type { CapSpec, PoolConfig, TenantConfig } from "./allocator/types.js";

/** The service's configuration (the `--config rm.yaml` file, after defaults). */
export interface ResourceManagerConfig {
  /** Bind address (default 0.0.0.0). */
  readonly host: string;
  /** Port for Connect, gRPC, gRPC-Web, /metrics and /healthz (default 8089; 0 picks a free one). */
  readonly port: number;
  /** URL other instances report as the leader's; default http://<hostname>:<port>. */
  readonly advertiseUrl?: string;
  /** PostgreSQL URL; absent: embedded PGlite in `dataDir` (or in memory when that is absent too). */
  readonly databaseUrl?: string;
  readonly dataDir?: string;
  /** Expiry sweep interval in ms (default 200). */
  readonly sweepIntervalMs: number;
  /** How often a standby tries the leader lock and a leader checks its lock session (default 1000 ms). */
  readonly electionIntervalMs: number;
  readonly pools: readonly PoolConfig[];
}

/** The configuration file is unreadable or invalid; `path` is the file, `field` the bad setting. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  constructor(
    readonly path: string,
    readonly field: string,
    readonly problem: string,
  ) {
    super(`${path}: ${field}: ${problem}`);
  }
}

/** Default port of the service. */
export const DEFAULT_PORT = 8089;

/**
 * Parses a duration: a number of milliseconds, or a string like "250ms", "30s", "5m", "1h".
 * Returns milliseconds; throws a plain Error describing the expected format.
 */
export function parseDuration(value: unknown): number {
  if (typeof value === "number" && Number.isFinite(value) && value >= 0) return Math.round(value);
  if (typeof value === "string") {
    const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(value.trim());
    if (m) {
      const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as "ms" | "s" | "m" | "h"];
      return Math.round(Number(m[1]) * unit);
    }
  }
  throw new Error(
    `expected a duration like "500ms", "30s", "5m" or a number of milliseconds, got ${JSON.stringify(value)}`,
  );
}

/**
 * Parses a cap: a whole number of tokens, a percentage string ("40%") or `{proportion: 0.4}` /
 * `{tokens: 8}`. Returns the cap; throws a plain Error on anything else.
 */
export function parseCap(value: unknown): CapSpec {
  if (typeof value === "number") return { tokens: value };
  if (typeof value === "string") {
    const m = /^(\d+(?:\.\d+)?)%$/.exec(value.trim());
    if (m) return { proportion: Number(m[1]) / 100 };
  }
  if (isRecord(value)) {
    if (typeof value.tokens === "number") return { tokens: value.tokens };
    if (typeof value.proportion === "number") return { proportion: value.proportion };
  }
  throw new Error(
    `expected a token count, a percentage like "40%", or {proportion: 0.4}, got ${JSON.stringify(value)}`,
  );
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Validates a parsed YAML/JSON document into a {@link ResourceManagerConfig}. `path` is used in
 * error messages only. Throws {@link ConfigError} naming the first bad field.
 */
export function parseConfig(doc: unknown, path = "<config>"): ResourceManagerConfig {
  const root = doc ?? {};
  if (!isRecord(root)) throw new ConfigError(path, "(root)", "must be a mapping");
  const known = new Set([
    "host",
    "port",
    "advertiseUrl",
    "database",
    "sweepInterval",
    "electionInterval",
    "pools",
  ]);
  for (const key of Object.keys(root)) {
    if (!known.has(key))
      throw new ConfigError(path, key, `unknown setting (known: ${[...known].join(", ")})`);
  }
  const field = <T>(name: string, fn: () => T): T => {
    try {
      return fn();
    } catch (err) {
      if (err instanceof ConfigError) throw err;
      throw new ConfigError(path, name, err instanceof Error ? err.message : String(err));
    }
  };
  const port = root.port ?? DEFAULT_PORT;
  if (typeof port !== "number" || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ConfigError(path, "port", "must be an integer in [0, 65535]");
  }
  const host = root.host ?? "0.0.0.0";
  if (typeof host !== "string" || host === "")
    throw new ConfigError(path, "host", "must be a non-empty string");
  if (root.advertiseUrl !== undefined && typeof root.advertiseUrl !== "string") {
    throw new ConfigError(path, "advertiseUrl", "must be a URL string");
  }
  const database = root.database ?? {};
  if (!isRecord(database)) throw new ConfigError(path, "database", "must be a mapping with url or dataDir");
  if (database.url !== undefined && typeof database.url !== "string") {
    throw new ConfigError(path, "database.url", "must be a postgres:// URL string");
  }
  if (database.dataDir !== undefined && typeof database.dataDir !== "string") {
    throw new ConfigError(path, "database.dataDir", "must be a directory path");
  }
  if (database.url !== undefined && database.dataDir !== undefined) {
    throw new ConfigError(path, "database", "set either url (PostgreSQL) or dataDir (embedded), not both");
  }
  const sweepIntervalMs = field("sweepInterval", () => parseDuration(root.sweepInterval ?? 200));
  const electionIntervalMs = field("electionInterval", () => parseDuration(root.electionInterval ?? 1000));
  if (sweepIntervalMs < 10) throw new ConfigError(path, "sweepInterval", "must be at least 10ms");
  if (electionIntervalMs < 50) throw new ConfigError(path, "electionInterval", "must be at least 50ms");
  const rawPools = root.pools ?? [];
  if (!Array.isArray(rawPools)) throw new ConfigError(path, "pools", "must be a list");
  const seen = new Set<string>();
  const pools = rawPools.map((raw: unknown, i) => {
    const pool = field(`pools[${i}]`, () => parsePool(raw));
    if (seen.has(pool.resource))
      throw new ConfigError(path, `pools[${i}].resource`, `"${pool.resource}" is listed twice`);
    seen.add(pool.resource);
    return pool;
  });
  return {
    host,
    port,
    ...(root.advertiseUrl !== undefined ? { advertiseUrl: root.advertiseUrl } : {}),
    ...(database.url !== undefined ? { databaseUrl: database.url } : {}),
    ...(database.dataDir !== undefined ? { dataDir: database.dataDir } : {}),
    sweepIntervalMs,
    electionIntervalMs,
    pools,
  };
}

function parsePool(raw: unknown): PoolConfig {
  if (!isRecord(raw)) throw new Error("must be a mapping with resource and limit");
  const known = new Set([
    "resource",
    "limit",
    "defaultTtl",
    "allowBorrowing",
    "defaultCap",
    "defaultWeight",
    "tenants",
  ]);
  for (const key of Object.keys(raw)) {
    if (!known.has(key)) throw new Error(`unknown setting ${key} (known: ${[...known].join(", ")})`);
  }
  if (typeof raw.resource !== "string") throw new Error("resource: must be a string");
  if (typeof raw.limit !== "number") throw new Error("limit: must be a number");
  if (raw.allowBorrowing !== undefined && typeof raw.allowBorrowing !== "boolean") {
    throw new Error("allowBorrowing: must be true or false");
  }
  if (raw.defaultWeight !== undefined && typeof raw.defaultWeight !== "number") {
    throw new Error("defaultWeight: must be a number");
  }
  const defaultTtlMs = raw.defaultTtl === undefined ? undefined : parseDuration(raw.defaultTtl);
  if (defaultTtlMs !== undefined && (defaultTtlMs < 1000 || defaultTtlMs > MAX_TTL_MS)) {
    throw new Error("defaultTtl: must be between 1s and 24h");
  }
  const tenantsRaw = raw.tenants ?? [];
  if (!Array.isArray(tenantsRaw)) throw new Error("tenants: must be a list");
  const tenants = tenantsRaw.map((t: unknown, i): TenantConfig => {
    if (!isRecord(t) || typeof t.project !== "string") throw new Error(`tenants[${i}]: must have a project`);
    if (t.domain !== undefined && typeof t.domain !== "string")
      throw new Error(`tenants[${i}].domain: must be a string`);
    if (t.weight !== undefined && typeof t.weight !== "number")
      throw new Error(`tenants[${i}].weight: must be a number`);
    return {
      project: t.project,
      ...(t.domain ? { domain: t.domain } : {}),
      ...(t.cap !== undefined ? { cap: parseCap(t.cap) } : {}),
      ...(t.weight !== undefined ? { weight: t.weight } : {}),
    };
  });
  const config: PoolConfig = {
    resource: raw.resource,
    limit: raw.limit,
    tenants,
    allowBorrowing: raw.allowBorrowing ?? true,
    ...(defaultTtlMs !== undefined ? { defaultTtlMs } : {}),
    ...(raw.defaultCap !== undefined ? { defaultCap: parseCap(raw.defaultCap) } : {}),
    ...(raw.defaultWeight !== undefined ? { defaultWeight: raw.defaultWeight } : {}),
  };
  validatePoolConfig(config);
  return config;
}

/** Reads and validates a YAML configuration file. Throws {@link ConfigError}. */
export async function loadConfigFile(path: string): Promise<ResourceManagerConfig> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new ConfigError(path, "(file)", err instanceof Error ? err.message : String(err));
  }
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new ConfigError(path, "(yaml)", err instanceof Error ? err.message : String(err));
  }
  return parseConfig(doc, path);
}
