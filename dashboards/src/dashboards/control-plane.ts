/**
 * Control-plane overview: is every service up, are clusters alive, how many executions flow
 * through the admin and how its API, database and event ingestion behave, and what each process
 * costs in memory and CPU.
 */
import type { DashboardBuilder } from "@grafana/grafana-foundation-sdk/dashboard";
import { flotillaDashboard, JOBS, row, statPanel, timeSeries } from "../panels.js";

const RATE = "$__rate_interval";

/** Builds the control-plane overview dashboard. */
export function controlPlaneOverview(): DashboardBuilder {
  const up = (title: string, job: string) =>
    statPanel({
      title,
      description: `Targets of scrape job ${job} that answered the last scrape.`,
      unit: "short",
      series: [{ expr: `sum(up{job="${job}"})`, legend: "up" }],
      thresholds: [
        { value: null, color: "red" },
        { value: 1, color: "green" },
      ],
    });
  return flotillaDashboard(
    "flotilla-control-plane",
    "Flotilla / Control plane overview",
    "Health of the admin, the propellers and the resource manager; execution flow through the admin.",
  )
    .withRow(row("Health"))
    .withPanel(up("Admins up", JOBS.admin))
    .withPanel(up("Propellers up", JOBS.propeller))
    .withPanel(up("Resource managers up", JOBS.resourceManager))
    .withPanel(
      statPanel({
        title: "Clusters lost",
        description: "Clusters whose propeller missed the heartbeat deadline (the admin's view).",
        unit: "short",
        series: [{ expr: "sum(max by (cluster) (flotilla_admin_cluster_lost))", legend: "lost" }],
        thresholds: [
          { value: null, color: "green" },
          { value: 1, color: "red" },
        ],
      }),
    )
    .withRow(row("Executions"))
    .withPanel(
      timeSeries({
        title: "Executions created by project",
        description: "Executions created per second, by project.",
        unit: "ops",
        series: [
          {
            expr: `sum by (project) (rate(flotilla_admin_executions_created_total[${RATE}]))`,
            legend: "{{project}}",
          },
        ],
      }),
    )
    .withPanel(
      timeSeries({
        title: "Executions finished by phase",
        description:
          "Executions reaching a terminal phase per second (SUCCEEDED, FAILED, ABORTED, TIMED_OUT).",
        unit: "ops",
        series: [
          {
            expr: `sum by (phase) (rate(flotilla_admin_executions_finished_total[${RATE}]))`,
            legend: "{{phase}}",
          },
        ],
      }),
    )
    .withPanel(
      timeSeries({
        title: "Stored executions by phase",
        description: "Executions the admin stores, by current workflow phase.",
        unit: "short",
        series: [
          {
            // max over admin replicas (each counts the same table), then summed over projects.
            expr: "sum by (phase) (max by (project, domain, phase) (flotilla_admin_executions))",
            legend: "{{phase}}",
          },
        ],
      }),
    )
    .withPanel(
      timeSeries({
        title: "Executions waiting for a cluster",
        description: "Pending placements: executions the router has not placed on a cluster yet.",
        unit: "short",
        series: [{ expr: "max(flotilla_admin_pending_placements)", legend: "pending" }],
      }),
    )
    .withRow(row("Admin API and ingestion"))
    .withPanel(
      timeSeries({
        title: "RPCs by code",
        description: "Admin RPCs per second by Connect code.",
        unit: "reqps",
        series: [
          { expr: `sum by (code) (rate(flotilla_admin_rpc_requests_total[${RATE}]))`, legend: "{{code}}" },
        ],
      }),
    )
    .withPanel(
      timeSeries({
        title: "RPC latency p99 by method",
        description: "99th percentile of admin RPC latency, by method.",
        unit: "s",
        series: [
          {
            expr: `histogram_quantile(0.99, sum by (method, le) (rate(flotilla_admin_rpc_duration_seconds_bucket[${RATE}])))`,
            legend: "{{method}}",
          },
        ],
      }),
    )
    .withPanel(
      timeSeries({
        title: "Database query latency p99",
        description: "99th percentile of the admin's repository queries, by operation.",
        unit: "s",
        series: [
          {
            expr: `histogram_quantile(0.99, sum by (operation, le) (rate(flotilla_admin_db_query_duration_seconds_bucket[${RATE}])))`,
            legend: "{{operation}}",
          },
        ],
      }),
    )
    .withPanel(
      timeSeries({
        title: "Events ingested by outcome",
        description: "Execution events received from propellers per second, by kind and outcome.",
        unit: "ops",
        series: [
          {
            expr: `sum by (kind, outcome) (rate(flotilla_admin_events_ingested_total[${RATE}]))`,
            legend: "{{kind}} {{outcome}}",
          },
        ],
      }),
    )
    .withPanel(
      timeSeries({
        title: "Events per ingestion batch",
        description: "Median and 99th percentile of events per IngestEvents call.",
        unit: "short",
        series: [0.5, 0.99].map((q) => ({
          expr: `histogram_quantile(${q}, sum by (le) (rate(flotilla_admin_event_batch_events_bucket[${RATE}])))`,
          legend: `p${q * 100}`,
        })),
      }),
    )
    .withPanel(
      timeSeries({
        title: "Event buffers on the propellers",
        description: "Events buffered for the admin and not yet acknowledged, by cluster.",
        unit: "short",
        series: [{ expr: "sum by (cluster) (flotilla_propeller_event_buffer_depth)", legend: "{{cluster}}" }],
      }),
    )
    .withRow(row("Processes"))
    .withPanel(
      timeSeries({
        title: "Resident memory",
        description: "Resident set size of each Flotilla process.",
        unit: "bytes",
        series: [
          {
            expr: "sum by (instance) (flotilla_admin_process_resident_memory_bytes)",
            legend: "admin {{instance}}",
          },
          {
            expr: "sum by (instance) (flotilla_resource_manager_process_resident_memory_bytes)",
            legend: "resource manager {{instance}}",
          },
          {
            expr: "sum by (cluster) (flotilla_propeller_process_resident_memory_bytes)",
            legend: "propeller {{cluster}}",
          },
        ],
      }),
    )
    .withPanel(
      timeSeries({
        title: "CPU",
        description: "CPU seconds used per second by each Flotilla process.",
        unit: "percentunit",
        series: [
          {
            expr: `sum by (instance) (rate(flotilla_admin_process_cpu_seconds_total[${RATE}]))`,
            legend: "admin {{instance}}",
          },
          {
            expr: `sum by (instance) (rate(flotilla_resource_manager_process_cpu_seconds_total[${RATE}]))`,
            legend: "resource manager {{instance}}",
          },
          {
            expr: `sum by (cluster) (rate(flotilla_propeller_process_cpu_seconds_total[${RATE}]))`,
            legend: "propeller {{cluster}}",
          },
        ],
      }),
    );
}
