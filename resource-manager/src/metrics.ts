import { FAST_SECONDS_BUCKETS, createMetricFactory } from "@flotilla/runtime";
import { Registry } from "prom-client";
import type { Allocator } from "./allocator/allocator.js";
import type { AllocatorObserver, EndReason, Lease, QueuedRequest, TenantUsage } from "./allocator/types.js";

/** Options of {@link createResourceManagerMetrics}. */
export interface ResourceManagerMetricsOptions {
  /** Also export the process/Node.js default metrics (default true; off in tests). */
  readonly defaultMetrics?: boolean;
}

/**
 * The resource manager's Prometheus metrics (`flotilla_resource_manager_*`) in their own
 * registry. Labels are bounded: resource, project, domain (empty for project-level rows), never
 * holder ids. Gauges are computed at scrape time from the live allocator.
 */
export interface ResourceManagerMetrics {
  readonly registry: Registry;
  /** Allocator observer that counts grants, queueing, releases and expiries. */
  readonly observer: AllocatorObserver;
  /** Points the scrape-time gauges at the allocator of the current term (undefined on standby). */
  setAllocator(allocator: Allocator | undefined, epoch: number): void;
  /** Counts a rejected request by reason (e.g. `RequestExceedsLimit`). */
  rejected(resource: string, reason: string): void;
  /** Records one durable write batch. */
  committed(size: number, seconds: number): void;
  /** Records how long an RPC took to decide and become durable. */
  decided(method: string, seconds: number): void;
}

/**
 * Creates the metrics and registers them in a fresh registry. Returns the metrics handle; no
 * side effects outside the registry (besides default process metrics when enabled).
 */
export function createResourceManagerMetrics(
  options: ResourceManagerMetricsOptions = {},
): ResourceManagerMetrics {
  const registry = new Registry();
  const m = createMetricFactory(registry, {
    prefix: "flotilla_resource_manager_",
    defaultMetrics: options.defaultMetrics ?? true,
  });
  let current: Allocator | undefined;
  let epoch = 0;
  const tenant = ["resource", "project", "domain"] as const;

  const grants = m.counter("grants_total", "Leases granted, by tenant.", tenant);
  const queued = m.counter("queued_total", "Requests that had to wait in a tenant queue.", tenant);
  const rejections = m.counter("rejections_total", "Requests rejected, by reason.", ["resource", "reason"]);
  const expiries = m.counter(
    "expiries_total",
    "Leases reclaimed after their TTL (kind=lease) and queued requests dropped unpolled (kind=queued).",
    [...tenant, "kind"],
  );
  const releases = m.counter("releases_total", "Leases released explicitly by their holder.", tenant);
  const wait = m.histogram(
    "queue_wait_seconds",
    "Time from a request's arrival to its grant.",
    [0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900],
    tenant,
  );
  const batchSize = m.histogram(
    "commit_batch_changes",
    "Holder changes written per group-commit batch.",
    [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000],
  );
  const batchDuration = m.histogram(
    "commit_duration_seconds",
    "Duration of one group-commit write to the database.",
    FAST_SECONDS_BUCKETS,
  );
  const decisions = m.histogram(
    "decision_duration_seconds",
    "Time from receiving a request to its durable decision, by method.",
    FAST_SECONDS_BUCKETS,
    ["method"],
  );

  // Scrape-time gauges: one row per project/domain tenant of every pool of the live allocator.
  const perTenant = (
    name: string,
    help: string,
    value: (t: TenantUsage) => number,
    scopes: readonly TenantUsage["scope"][],
  ) =>
    m.gauge(name, help, tenant, (g) => {
      g.reset();
      for (const pool of current?.listPools() ?? []) {
        for (const t of pool.tenants) {
          if (scopes.includes(t.scope))
            g.set({ resource: pool.config.resource, project: t.project, domain: t.domain }, value(t));
        }
      }
    });
  perTenant("in_use_tokens", "Tokens held by live leases, by project/domain.", (t) => t.inUse, ["domain"]);
  m.gauge("limit_tokens", "Global token limit of each resource pool.", ["resource"], (g) => {
    g.reset();
    for (const pool of current?.listPools() ?? []) g.set({ resource: pool.config.resource }, pool.limit);
  });
  perTenant("cap_tokens", "Effective tenant cap in tokens (domain empty: the project's cap).", (t) => t.cap, [
    "domain",
    "project",
  ]);
  perTenant("queue_length", "Requests waiting, by project/domain queue.", (t) => t.queuedRequests, [
    "domain",
  ]);
  m.gauge("is_leader", "1 when this instance is the active leader, else 0.", [], (g) =>
    g.set(current ? 1 : 0),
  );
  m.gauge("leader_epoch", "Fencing epoch of this instance's current (or last) term.", [], (g) =>
    g.set(epoch),
  );

  const labels = (x: Lease | QueuedRequest) => ({
    resource: x.resource,
    project: x.project,
    domain: x.domain,
  });
  // A tenant's release and expiry counters are exported at 0 from its first request on, so a
  // rate over them has a series to read before the first release or expiry.
  const seen = new Set<string>();
  const knownTenant = (x: Lease | QueuedRequest) => {
    const key = `${x.resource}\u0000${x.project}\u0000${x.domain}`;
    if (seen.has(key)) return;
    seen.add(key);
    releases.inc(labels(x), 0);
    for (const kind of ["lease", "queued"]) expiries.inc({ ...labels(x), kind }, 0);
  };
  const observer: AllocatorObserver = {
    onGrant(lease, waitedMs) {
      knownTenant(lease);
      grants.inc(labels(lease));
      wait.observe(labels(lease), waitedMs / 1000);
    },
    onQueued(request) {
      knownTenant(request);
      queued.inc(labels(request));
    },
    onLeaseEnded(lease, reason: EndReason) {
      if (reason === "expired") expiries.inc({ ...labels(lease), kind: "lease" });
      else if (reason === "released") releases.inc(labels(lease));
    },
    onQueuedEnded(request, reason: EndReason) {
      if (reason === "dropped") expiries.inc({ ...labels(request), kind: "queued" });
      else if (reason === "rejected")
        rejections.inc({ resource: request.resource, reason: "PoolReconfigured" });
    },
  };

  return {
    registry,
    observer,
    setAllocator(allocator, e) {
      current = allocator;
      epoch = e;
    },
    rejected(resource, reason) {
      rejections.inc({ resource, reason });
    },
    committed(size, seconds) {
      batchSize.observe(size);
      batchDuration.observe(seconds);
    },
    decided(method, seconds) {
      decisions.observe({ method }, seconds);
    },
  };
}
