import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { Allocator } from "./allocator/allocator.js";
import type { AllocatorObserver, EndReason, Lease, QueuedRequest } from "./allocator/types.js";

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
  if (options.defaultMetrics ?? true)
    collectDefaultMetrics({ register: registry, prefix: "flotilla_resource_manager_" });
  let current: Allocator | undefined;
  let epoch = 0;
  const tenant = ["resource", "project", "domain"] as const;

  const grants = new Counter({
    name: "flotilla_resource_manager_grants_total",
    help: "Leases granted, by tenant.",
    labelNames: tenant,
    registers: [registry],
  });
  const queued = new Counter({
    name: "flotilla_resource_manager_queued_total",
    help: "Requests that had to wait in a tenant queue.",
    labelNames: tenant,
    registers: [registry],
  });
  const rejections = new Counter({
    name: "flotilla_resource_manager_rejections_total",
    help: "Requests rejected, by reason.",
    labelNames: ["resource", "reason"] as const,
    registers: [registry],
  });
  const expiries = new Counter({
    name: "flotilla_resource_manager_expiries_total",
    help: "Leases reclaimed after their TTL (kind=lease) and queued requests dropped unpolled (kind=queued).",
    labelNames: [...tenant, "kind"] as const,
    registers: [registry],
  });
  const releases = new Counter({
    name: "flotilla_resource_manager_releases_total",
    help: "Leases released explicitly by their holder.",
    labelNames: tenant,
    registers: [registry],
  });
  const wait = new Histogram({
    name: "flotilla_resource_manager_queue_wait_seconds",
    help: "Time from a request's arrival to its grant.",
    labelNames: tenant,
    buckets: [0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900],
    registers: [registry],
  });
  const batchSize = new Histogram({
    name: "flotilla_resource_manager_commit_batch_changes",
    help: "Holder changes written per group-commit batch.",
    buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000],
    registers: [registry],
  });
  const batchDuration = new Histogram({
    name: "flotilla_resource_manager_commit_duration_seconds",
    help: "Duration of one group-commit write to the database.",
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [registry],
  });
  const decisions = new Histogram({
    name: "flotilla_resource_manager_decision_duration_seconds",
    help: "Time from receiving a request to its durable decision, by method.",
    labelNames: ["method"] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [registry],
  });

  new Gauge({
    name: "flotilla_resource_manager_in_use_tokens",
    help: "Tokens held by live leases, by project/domain.",
    labelNames: tenant,
    registers: [registry],
    collect() {
      this.reset();
      for (const pool of current?.listPools() ?? []) {
        for (const t of pool.tenants) {
          if (t.scope === "domain")
            this.set({ resource: pool.config.resource, project: t.project, domain: t.domain }, t.inUse);
        }
      }
    },
  });
  new Gauge({
    name: "flotilla_resource_manager_limit_tokens",
    help: "Global token limit of each resource pool.",
    labelNames: ["resource"] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const pool of current?.listPools() ?? []) this.set({ resource: pool.config.resource }, pool.limit);
    },
  });
  new Gauge({
    name: "flotilla_resource_manager_cap_tokens",
    help: "Effective tenant cap in tokens (domain empty: the project's cap).",
    labelNames: tenant,
    registers: [registry],
    collect() {
      this.reset();
      for (const pool of current?.listPools() ?? []) {
        for (const t of pool.tenants) {
          this.set({ resource: pool.config.resource, project: t.project, domain: t.domain }, t.cap);
        }
      }
    },
  });
  new Gauge({
    name: "flotilla_resource_manager_queue_length",
    help: "Requests waiting, by project/domain queue.",
    labelNames: tenant,
    registers: [registry],
    collect() {
      this.reset();
      for (const pool of current?.listPools() ?? []) {
        for (const t of pool.tenants) {
          if (t.scope === "domain")
            this.set(
              { resource: pool.config.resource, project: t.project, domain: t.domain },
              t.queuedRequests,
            );
        }
      }
    },
  });
  new Gauge({
    name: "flotilla_resource_manager_is_leader",
    help: "1 when this instance is the active leader, else 0.",
    registers: [registry],
    collect() {
      this.set(current ? 1 : 0);
    },
  });
  new Gauge({
    name: "flotilla_resource_manager_leader_epoch",
    help: "Fencing epoch of this instance's current (or last) term.",
    registers: [registry],
    collect() {
      this.set(epoch);
    },
  });

  const labels = (x: Lease | QueuedRequest) => ({
    resource: x.resource,
    project: x.project,
    domain: x.domain,
  });
  const observer: AllocatorObserver = {
    onGrant(lease, waitedMs) {
      grants.inc(labels(lease));
      wait.observe(labels(lease), waitedMs / 1000);
    },
    onQueued(request) {
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
