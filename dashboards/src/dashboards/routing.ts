/**
 * Routing and clusters: each cluster's state and heartbeat, the router's decisions and their
 * reasons, placements and how long they take, and the data-plane writes that fail. The
 * `cluster` variable selects clusters.
 */
import type { DashboardBuilder } from "@grafana/grafana-foundation-sdk/dashboard";
import { clusterVariable, flotillaDashboard, row, timeSeries } from "../panels.js";

const RATE = "$__rate_interval";
const C = 'cluster=~"$cluster"';

/** Builds the routing-and-clusters dashboard. */
export function routingDashboard(): DashboardBuilder {
  return flotillaDashboard(
    "flotilla-routing",
    "Flotilla / Routing and clusters",
    "Cluster states and heartbeats, routing decisions, placements and data-plane write failures.",
  )
    .withVariable(clusterVariable())
    .withRow(row("Clusters"))
    .withPanel(
      timeSeries({
        title: "Cluster state",
        description:
          "The placement state of each cluster (1 on its current state: active, cordoned, draining).",
        unit: "short",
        series: [
          {
            expr: `max by (cluster, state) (flotilla_admin_cluster_state{${C}}) == 1`,
            legend: "{{cluster}} {{state}}",
          },
        ],
      }),
    )
    .withPanel(
      timeSeries({
        title: "Heartbeat age",
        description: "Seconds since each cluster's last heartbeat, and whether the admin marked it lost.",
        unit: "s",
        series: [
          {
            expr: `max by (cluster) (flotilla_admin_cluster_heartbeat_age_seconds{${C}})`,
            legend: "{{cluster}} age",
          },
          { expr: `max by (cluster) (flotilla_admin_cluster_lost{${C}})`, legend: "{{cluster}} lost" },
        ],
      }),
    )
    .withRow(row("Routing"))
    .withPanel(
      timeSeries({
        title: "Routing decisions by reason",
        description: 'Routing decisions per second by chosen cluster ("" when queued) and reason.',
        unit: "ops",
        series: [
          {
            expr: `sum by (cluster, reason) (rate(flotilla_admin_routing_decisions_total[${RATE}]))`,
            legend: "{{cluster}} {{reason}}",
          },
        ],
      }),
    )
    .withPanel(
      timeSeries({
        title: "Placements by cluster",
        description: "Executions whose WorkflowExecution CR was created on a cluster, per second.",
        unit: "ops",
        series: [
          {
            expr: `sum by (cluster) (rate(flotilla_admin_placements_total{${C}}[${RATE}]))`,
            legend: "{{cluster}}",
          },
        ],
      }),
    )
    .withPanel(
      timeSeries({
        title: "Placement latency",
        description:
          "Median and 95th percentile of the time from an execution's placement request to its CR on a cluster (queue wait included).",
        unit: "s",
        series: [0.5, 0.95].map((q) => ({
          expr: `histogram_quantile(${q}, sum by (cluster, le) (rate(flotilla_admin_placement_duration_seconds_bucket{${C}}[${RATE}])))`,
          legend: `{{cluster}} p${q * 100}`,
        })),
      }),
    )
    .withPanel(
      timeSeries({
        title: "Executions waiting for a cluster",
        description: "Pending placements.",
        unit: "short",
        series: [{ expr: "max(flotilla_admin_pending_placements)", legend: "pending" }],
      }),
    )
    .withRow(row("Data-plane writes"))
    .withPanel(
      timeSeries({
        title: "CR create and delete failures",
        description: "Failed WorkflowExecution creates and deletes per second, by cluster and reason.",
        unit: "ops",
        series: [
          {
            expr: `sum by (cluster, reason) (rate(flotilla_admin_cr_create_failures_total{${C}}[${RATE}]))`,
            legend: "create {{cluster}} {{reason}}",
          },
          {
            expr: `sum by (cluster, reason) (rate(flotilla_admin_cr_delete_failures_total{${C}}[${RATE}]))`,
            legend: "delete {{cluster}} {{reason}}",
          },
        ],
      }),
    )
    .withPanel(
      timeSeries({
        title: "Namespace and quota sync failures",
        description: "Failed namespace and ResourceQuota syncs per second, by cluster.",
        unit: "ops",
        series: [
          {
            expr: `sum by (cluster) (rate(flotilla_admin_quota_sync_failures_total{${C}}[${RATE}]))`,
            legend: "{{cluster}}",
          },
        ],
      }),
    );
}
