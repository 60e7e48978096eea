/**
 * Prometheus counters of cost and waste (`flotilla_admin_task_cost_dollars_total`,
 * `flotilla_admin_task_waste_dollars_total`). They are incremented with exactly the amounts
 * stored in `attempt_costs`, after the transaction that stored them commits, so a report over a
 * window and the counters' increase over that window agree to the micro-dollar (hence to the
 * cent). Labels are bounded: project, domain and cluster, never execution ids.
 */
import { Counter, type Registry } from "prom-client";

/** The cost counters. */
export interface CostMetrics {
  /** Cost of finished task attempts in dollars, by project, domain and cluster. */
  cost: Counter<"project" | "domain" | "cluster">;
  /** Waste among that cost in dollars, by project, domain and cluster. */
  waste: Counter<"project" | "domain" | "cluster">;
}

function counter(registry: Registry, name: string, help: string): Counter<"project" | "domain" | "cluster"> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Counter<"project" | "domain" | "cluster">;
  return new Counter({ name, help, labelNames: ["project", "domain", "cluster"], registers: [registry] });
}

/** Creates (or finds, when already registered) the cost counters on `registry`. */
export function createCostMetrics(registry: Registry): CostMetrics {
  return {
    cost: counter(
      registry,
      "flotilla_admin_task_cost_dollars_total",
      "Cost of finished task attempts in dollars (requested resources x wall time x the cluster's price), by project, domain and cluster.",
    ),
    waste: counter(
      registry,
      "flotilla_admin_task_waste_dollars_total",
      "Waste among the cost of finished task attempts in dollars (attempts that produced nothing, and requested minus used), by project, domain and cluster.",
    ),
  };
}
