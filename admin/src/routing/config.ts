/**
 * The configuration sections the routing subsystem reads: `clusters`, `routing` and
 * `dataPlane`. The admin config loader embeds these types and calls
 * {@link validateRoutingSection} to check and default them.
 */
import { DURATION_SYNTAX, isDnsLabel, tryParseDuration } from "@flotilla/common";
import { priceTableProblem } from "../cost/prices.js";
import type { ResourceQuotaConfig } from "../dataplane/quota.js";
import { InvalidArgumentError } from "../errors.js";
import { ClusterState } from "./router.js";

/** One data-plane cluster declared in the configuration file. */
export interface ClusterConfig {
  /** Unique DNS-1123 name. */
  name: string;
  /** Path of a kubeconfig file (exclusive with `kubeconfigInline`). */
  kubeconfig?: string | undefined;
  /** A kubeconfig document inline (exclusive with `kubeconfig`). */
  kubeconfigInline?: string | undefined;
  /** Context of the kubeconfig to use; its current context when unset. */
  context?: string | undefined;
  /** API server URL; with neither kubeconfig given, an unauthenticated endpoint (sandboxes). */
  apiEndpoint?: string | undefined;
  /** Cluster labels (`flotilla.io/cluster-label`, `flotilla.io/isolation`, region, ...). */
  labels?: Record<string, string> | undefined;
  /** Rollout ordering priority, 0-1000 (default 0). */
  priority?: number | undefined;
  /** Placement state applied at start; unset keeps the stored state (default active for new clusters). */
  state?: ClusterState | undefined;
  /**
   * Price table in dollars per unit-hour (default all 0: the cluster costs nothing). A change
   * applied at start appends a price version effective from then; past costs keep theirs.
   */
  prices?: ClusterPricesConfig | undefined;
}

/** `clusters[].prices`: dollars per CPU core-hour, GiB-hour of memory and GPU-hour. */
export interface ClusterPricesConfig {
  /** Only "USD" (the default). */
  currency?: string | undefined;
  cpuCoreHour?: number | undefined;
  memoryGibHour?: number | undefined;
  gpuHour?: number | undefined;
}

/** The `routing` section. */
export interface RoutingConfig {
  /** Cluster label used when no rule gives one and the execution requests none. */
  defaultLabel?: string | undefined;
  /** A cluster whose last heartbeat is older than this is lost (default 60 s). */
  heartbeatTimeout?: string | undefined;
  /** Heartbeat interval propellers are told to use (default 10 s). */
  heartbeatInterval?: string | undefined;
  /** Queued executions are re-evaluated at least this often (default 5 s). */
  reevaluateInterval?: string | undefined;
  /** First retry delay after a data-plane failure (default 1 s), doubled per attempt. */
  retryInitialBackoff?: string | undefined;
  /** Upper bound of the retry delay (default 60 s). */
  retryMaxBackoff?: string | undefined;
}

/** The `dataPlane` section. */
export interface DataPlaneConfig {
  /** ResourceQuota template for execution namespaces; none when unset. */
  resourceQuota?: ResourceQuotaConfig | undefined;
  /** How often quotas are re-applied to every active cluster (default 60 s). */
  quotaSyncInterval?: string | undefined;
  /** Install the WorkflowExecution CRD into a cluster when it is missing (default true). */
  installCrd?: boolean | undefined;
  /** Size budget of a CR; larger compiled closures are offloaded (default 512 KiB). */
  crBudgetBytes?: number | undefined;
  /** Per-request timeout towards cluster API servers (default 10 s). */
  requestTimeout?: string | undefined;
}

/** The three sections together, as the routing subsystem receives them. */
export interface RoutingSectionConfig {
  clusters?: ClusterConfig[] | undefined;
  routing?: RoutingConfig | undefined;
  dataPlane?: DataPlaneConfig | undefined;
}

/** Fully defaulted routing settings. */
export interface ResolvedRoutingSettings {
  defaultLabel: string;
  heartbeatTimeoutMs: number;
  heartbeatIntervalMs: number;
  reevaluateIntervalMs: number;
  retryInitialBackoffMs: number;
  retryMaxBackoffMs: number;
  quotaSyncIntervalMs: number;
  installCrd: boolean;
  crBudgetBytes: number;
  requestTimeoutMs: number;
  resourceQuota?: ResourceQuotaConfig | undefined;
}

/** A routing/cluster configuration value is invalid; `path` names it (e.g. `clusters[1].name`). */
export class RoutingConfigError extends InvalidArgumentError {
  constructor(
    readonly path: string,
    problem: string,
  ) {
    super(`config ${path}`, problem);
  }
}

function positive(path: string, v: number | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== "number" || !Number.isFinite(v) || v <= 0)
    throw new RoutingConfigError(path, `must be a positive number (got ${String(v)})`);
  return v;
}

/** The sections as read from a configuration file, not yet checked. */
export interface RoutingSectionInput {
  clusters?: unknown;
  routing?: unknown;
  dataPlane?: unknown;
}

type Obj = Record<string, unknown>;

function obj(path: string, v: unknown): Obj {
  if (v === undefined || v === null) return {};
  if (typeof v !== "object" || Array.isArray(v)) throw new RoutingConfigError(path, "must be a mapping");
  return v as Obj;
}

function onlyKeys(path: string, o: Obj, keys: readonly string[]): void {
  for (const k of Object.keys(o)) {
    if (!keys.includes(k))
      throw new RoutingConfigError(`${path}.${k}`, `unknown key (expected one of ${keys.join(", ")})`);
  }
}

function optString(path: string, v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") throw new RoutingConfigError(path, "must be a string");
  return v;
}

function optNumber(path: string, v: unknown): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "number" || !Number.isFinite(v)) throw new RoutingConfigError(path, "must be a number");
  return v;
}

function stringMap(path: string, v: unknown): Record<string, string> {
  const o = obj(path, v);
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(o)) {
    if (typeof val === "number" || typeof val === "boolean") out[k] = String(val);
    else if (typeof val === "string") out[k] = val;
    else throw new RoutingConfigError(`${path}.${k}`, "must be a string");
  }
  return out;
}

function parseCluster(at: string, raw: unknown): ClusterConfig {
  const o = obj(at, raw);
  onlyKeys(at, o, [
    "name",
    "kubeconfig",
    "kubeconfigInline",
    "context",
    "apiEndpoint",
    "labels",
    "priority",
    "state",
    "prices",
  ]);
  const c: ClusterConfig = {
    name: optString(`${at}.name`, o.name) ?? "",
    kubeconfig: optString(`${at}.kubeconfig`, o.kubeconfig),
    kubeconfigInline: optString(`${at}.kubeconfigInline`, o.kubeconfigInline),
    context: optString(`${at}.context`, o.context),
    apiEndpoint: optString(`${at}.apiEndpoint`, o.apiEndpoint),
    labels: stringMap(`${at}.labels`, o.labels),
    priority: optNumber(`${at}.priority`, o.priority),
    state: optString(`${at}.state`, o.state) as ClusterState | undefined,
    prices: parsePrices(`${at}.prices`, o.prices),
  };
  if (!isDnsLabel(c.name)) {
    throw new RoutingConfigError(`${at}.name`, `must be a DNS-1123 label (got ${JSON.stringify(c.name)})`);
  }
  if (c.kubeconfig !== undefined && c.kubeconfigInline !== undefined) {
    throw new RoutingConfigError(at, "set at most one of kubeconfig and kubeconfigInline");
  }
  if (
    c.kubeconfig === undefined &&
    c.kubeconfigInline === undefined &&
    !/^https?:\/\//.test(c.apiEndpoint ?? "")
  ) {
    throw new RoutingConfigError(at, "needs kubeconfig, kubeconfigInline or an http(s) apiEndpoint");
  }
  if (c.priority !== undefined && (!Number.isInteger(c.priority) || c.priority < 0 || c.priority > 1000)) {
    throw new RoutingConfigError(`${at}.priority`, "must be an integer 0-1000");
  }
  if (c.state !== undefined && !Object.values(ClusterState).includes(c.state)) {
    throw new RoutingConfigError(`${at}.state`, `must be one of ${Object.values(ClusterState).join(", ")}`);
  }
  return c;
}

function parsePrices(path: string, raw: unknown): ClusterPricesConfig | undefined {
  if (raw === undefined || raw === null) return undefined;
  const o = obj(path, raw);
  onlyKeys(path, o, ["currency", "cpuCoreHour", "memoryGibHour", "gpuHour"]);
  const p: ClusterPricesConfig = {
    currency: optString(`${path}.currency`, o.currency),
    cpuCoreHour: optNumber(`${path}.cpuCoreHour`, o.cpuCoreHour),
    memoryGibHour: optNumber(`${path}.memoryGibHour`, o.memoryGibHour),
    gpuHour: optNumber(`${path}.gpuHour`, o.gpuHour),
  };
  const bad = priceTableProblem(
    {
      currency: p.currency ?? "",
      cpuHour: p.cpuCoreHour ?? 0,
      memoryGibHour: p.memoryGibHour ?? 0,
      gpuHour: p.gpuHour ?? 0,
    },
    {
      currency: `${path}.currency`,
      cpuHour: `${path}.cpuCoreHour`,
      memoryGibHour: `${path}.memoryGibHour`,
      gpuHour: `${path}.gpuHour`,
    },
  );
  if (bad) throw new RoutingConfigError(bad.field, bad.problem);
  return p;
}

function parseQuota(path: string, raw: unknown): ResourceQuotaConfig | undefined {
  if (raw === undefined || raw === null) return undefined;
  const o = obj(path, raw);
  onlyKeys(path, o, ["hard", "values", "overrides"]);
  const overridesRaw = o.overrides ?? [];
  if (!Array.isArray(overridesRaw)) throw new RoutingConfigError(`${path}.overrides`, "must be a list");
  return {
    hard: stringMap(`${path}.hard`, o.hard),
    values: stringMap(`${path}.values`, o.values),
    overrides: overridesRaw.map((r, i) => {
      const at = `${path}.overrides[${i}]`;
      const ov = obj(at, r);
      onlyKeys(at, ov, ["project", "domain", "values", "hard"]);
      const project = optString(`${at}.project`, ov.project);
      if (!project) throw new RoutingConfigError(`${at}.project`, "is required");
      return {
        project,
        domain: optString(`${at}.domain`, ov.domain),
        values: stringMap(`${at}.values`, ov.values),
        hard: stringMap(`${at}.hard`, ov.hard),
      };
    }),
  };
}

/**
 * Checks the sections (as parsed from YAML/JSON) and fills defaults. Returns the clusters and
 * the resolved settings; throws {@link RoutingConfigError} naming the first bad value.
 */
export function validateRoutingSection(config: RoutingSectionInput): {
  clusters: ClusterConfig[];
  settings: ResolvedRoutingSettings;
} {
  const rawClusters = config.clusters ?? [];
  if (!Array.isArray(rawClusters)) throw new RoutingConfigError("clusters", "must be a list");
  const clusters = rawClusters.map((c, i) => parseCluster(`clusters[${i}]`, c));
  const seen = new Set<string>();
  clusters.forEach((c, i) => {
    if (seen.has(c.name)) throw new RoutingConfigError(`clusters[${i}].name`, `duplicate cluster ${c.name}`);
    seen.add(c.name);
  });
  const r = obj("routing", config.routing);
  onlyKeys("routing", r, [
    "defaultLabel",
    "heartbeatTimeout",
    "heartbeatInterval",
    "reevaluateInterval",
    "retryInitialBackoff",
    "retryMaxBackoff",
  ]);
  const d = obj("dataPlane", config.dataPlane);
  onlyKeys("dataPlane", d, [
    "resourceQuota",
    "quotaSyncInterval",
    "installCrd",
    "crBudgetBytes",
    "requestTimeout",
  ]);
  const defaultLabel = optString("routing.defaultLabel", r.defaultLabel) ?? "";
  if (defaultLabel !== "" && !isDnsLabel(defaultLabel)) {
    throw new RoutingConfigError("routing.defaultLabel", "must be a DNS-1123 label");
  }
  if (d.installCrd !== undefined && typeof d.installCrd !== "boolean") {
    throw new RoutingConfigError("dataPlane.installCrd", "must be true or false");
  }
  const sec = (path: string, v: unknown, fallback: number) => positive(path, optNumber(path, v), fallback);
  const dur = (path: string, v: unknown, fallbackMs: number): number => {
    if (v === undefined || v === null) return fallbackMs;
    const ms = typeof v === "string" ? tryParseDuration(v) : undefined;
    if (ms === undefined || ms <= 0) {
      throw new RoutingConfigError(path, `expected ${DURATION_SYNTAX}, greater than 0`);
    }
    return ms;
  };
  const settings: ResolvedRoutingSettings = {
    defaultLabel,
    heartbeatTimeoutMs: dur("routing.heartbeatTimeout", r.heartbeatTimeout, 60_000),
    heartbeatIntervalMs: dur("routing.heartbeatInterval", r.heartbeatInterval, 10_000),
    reevaluateIntervalMs: dur("routing.reevaluateInterval", r.reevaluateInterval, 5_000),
    retryInitialBackoffMs: dur("routing.retryInitialBackoff", r.retryInitialBackoff, 1_000),
    retryMaxBackoffMs: dur("routing.retryMaxBackoff", r.retryMaxBackoff, 60_000),
    quotaSyncIntervalMs: dur("dataPlane.quotaSyncInterval", d.quotaSyncInterval, 60_000),
    installCrd: d.installCrd ?? true,
    crBudgetBytes: sec("dataPlane.crBudgetBytes", d.crBudgetBytes, 512 * 1024),
    requestTimeoutMs: dur("dataPlane.requestTimeout", d.requestTimeout, 10_000),
    resourceQuota: parseQuota("dataPlane.resourceQuota", d.resourceQuota),
  };
  return { clusters, settings };
}
