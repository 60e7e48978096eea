/**
 * Prometheus metrics of routing and the data plane (`flotilla_admin_*`). Labels are bounded:
 * cluster names, PascalCase reasons and states, never execution ids.
 */
import { Counter, Gauge, Histogram, type Registry } from "prom-client";

/** The metric objects the routing subsystem updates. */
export interface RoutingMetrics {
  /** Routing decisions by chosen cluster ("" when queued) and reason. */
  decisions: Counter<"cluster" | "reason">;
  /** Executions whose CR was created (or found existing) on a cluster. */
  placements: Counter<"cluster">;
  /** Placement request to CR created, by project, domain and cluster (queue wait included). */
  placementDuration: Histogram<"project" | "domain" | "cluster">;
  /** Failed WorkflowExecution CR creates by cluster and reason. */
  crCreateFailures: Counter<"cluster" | "reason">;
  /** Failed WorkflowExecution CR deletes by cluster and reason. */
  crDeleteFailures: Counter<"cluster" | "reason">;
  /** Executions waiting for a cluster. */
  pendingPlacements: Gauge;
  /** 1 for the cluster's current placement state. */
  clusterState: Gauge<"cluster" | "state">;
  /** 1 when the cluster missed its heartbeat deadline. */
  clusterLost: Gauge<"cluster">;
  /** Seconds since the cluster's last heartbeat (absent until the first one). */
  heartbeatAge: Gauge<"cluster">;
  /** Failed namespace / quota syncs by cluster. */
  quotaSyncFailures: Counter<"cluster">;
}

function counter<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: L[],
): Counter<L> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Counter<L>;
  return new Counter({ name, help, labelNames, registers: [registry] });
}

function gauge<L extends string>(registry: Registry, name: string, help: string, labelNames: L[]): Gauge<L> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Gauge<L>;
  return new Gauge({ name, help, labelNames, registers: [registry] });
}

function histogram<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  buckets: number[],
  labelNames: L[],
): Histogram<L> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Histogram<L>;
  return new Histogram({ name, help, buckets, labelNames, registers: [registry] });
}

/** Registers (or reuses, when already registered) the routing metrics in `registry`. */
export function createRoutingMetrics(registry: Registry): RoutingMetrics {
  return {
    decisions: counter(
      registry,
      "flotilla_admin_routing_decisions_total",
      "Routing decisions by chosen cluster and reason.",
      ["cluster", "reason"],
    ),
    placements: counter(
      registry,
      "flotilla_admin_placements_total",
      "Executions whose WorkflowExecution CR was created on a cluster.",
      ["cluster"],
    ),
    placementDuration: histogram(
      registry,
      "flotilla_admin_placement_duration_seconds",
      "Time from an execution's placement request to its WorkflowExecution CR on a cluster.",
      [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600],
      ["project", "domain", "cluster"],
    ),
    crCreateFailures: counter(
      registry,
      "flotilla_admin_cr_create_failures_total",
      "Failed WorkflowExecution CR creates by cluster and reason.",
      ["cluster", "reason"],
    ),
    crDeleteFailures: counter(
      registry,
      "flotilla_admin_cr_delete_failures_total",
      "Failed WorkflowExecution CR deletes by cluster and reason.",
      ["cluster", "reason"],
    ),
    pendingPlacements: gauge(
      registry,
      "flotilla_admin_pending_placements",
      "Executions waiting for a cluster.",
      [],
    ),
    clusterState: gauge(
      registry,
      "flotilla_admin_cluster_state",
      "1 for the current placement state of each cluster.",
      ["cluster", "state"],
    ),
    clusterLost: gauge(
      registry,
      "flotilla_admin_cluster_lost",
      "1 when the cluster missed its heartbeat deadline.",
      ["cluster"],
    ),
    heartbeatAge: gauge(
      registry,
      "flotilla_admin_cluster_heartbeat_age_seconds",
      "Seconds since the cluster's last heartbeat.",
      ["cluster"],
    ),
    quotaSyncFailures: counter(
      registry,
      "flotilla_admin_quota_sync_failures_total",
      "Failed namespace and ResourceQuota syncs by cluster.",
      ["cluster"],
    ),
  };
}
