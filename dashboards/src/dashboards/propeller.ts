/**
 * Propeller per cluster: rounds (rate, outcome, latency), the workqueue, CR writes and their
 * size, event delivery to the admin, informers, pods, tokens and leadership — everything a
 * propeller exports, filtered by the `cluster` variable.
 */
import type { DashboardBuilder } from "@grafana/grafana-foundation-sdk/dashboard";
import { clusterVariable, flotillaDashboard, row, timeSeries, type Series } from "../panels.js";

const RATE = "$__rate_interval";
const C = 'cluster=~"$cluster"';

/** `rate(metric{cluster filter}[…])` summed by `by`. */
const rateBy = (metric: string, by: string, legend: string): Series => ({
  expr: `sum by (${by}) (rate(${metric}{${C}}[${RATE}]))`,
  legend,
});

/** Quantile `q` of a histogram, per cluster. */
const quantile = (q: number, metric: string, by = "cluster"): Series => ({
  expr: `histogram_quantile(${q}, sum by (${by}, le) (rate(${metric}_bucket{${C}}[${RATE}])))`,
  legend: `${by
    .split(", ")
    .map((l) => `{{${l}}}`)
    .join(" ")} p${q * 100}`,
});

/** A gauge, per cluster. */
const gauge = (metric: string, by = "cluster"): Series => ({
  expr: `sum by (${by}) (${metric}{${C}})`,
  legend: by
    .split(", ")
    .map((l) => `{{${l}}}`)
    .join(" "),
});

/** Builds the propeller-per-cluster dashboard. */
export function propellerDashboard(): DashboardBuilder {
  return flotillaDashboard(
    "flotilla-propeller",
    "Flotilla / Propeller",
    "One propeller per cluster: rounds, workqueue, CR writes, event delivery, informers and pods.",
  )
    .withVariable(clusterVariable())
    .withRow(row("Rounds"))
    .withPanel(
      timeSeries({
        title: "Rounds by outcome",
        description: "Workflow rounds per second by outcome (success, error, short-circuit, not-found).",
        unit: "ops",
        series: [rateBy("flotilla_propeller_rounds_total", "cluster, outcome", "{{cluster}} {{outcome}}")],
      }),
    )
    .withPanel(
      timeSeries({
        title: "Round latency",
        description: "Median and 99th percentile of one workflow round (load, evaluate, write status).",
        unit: "s",
        series: [0.5, 0.99].map((q) => quantile(q, "flotilla_propeller_round_duration_seconds")),
      }),
    )
    .withPanel(
      timeSeries({
        title: "Workflows by phase",
        description: "WorkflowExecutions in the informer cache, by phase.",
        unit: "short",
        series: [gauge("flotilla_propeller_workflows", "cluster, phase")],
      }),
    )
    .withPanel(
      timeSeries({
        title: "Free round workers",
        description: "Round slots not running a round; zero for long means the propeller is saturated.",
        unit: "short",
        series: [gauge("flotilla_propeller_free_workers")],
      }),
    )
    .withRow(row("Workqueue"))
    .withPanel(
      timeSeries({
        title: "Queue depth",
        description: "Workflow keys waiting in the workqueue, and keys waiting for a delayed re-queue.",
        unit: "short",
        series: [
          { ...gauge("flotilla_propeller_queue_depth"), legend: "{{cluster}} ready" },
          { ...gauge("flotilla_propeller_queue_delayed"), legend: "{{cluster}} delayed" },
        ],
      }),
    )
    .withPanel(
      timeSeries({
        title: "Queue adds and retries",
        description: "Adds to the workqueue and rate-limited re-queues after failed rounds, per second.",
        unit: "ops",
        series: [
          rateBy("flotilla_propeller_queue_adds_total", "cluster", "{{cluster}} adds"),
          rateBy("flotilla_propeller_queue_retries_total", "cluster", "{{cluster}} retries"),
        ],
      }),
    )
    .withPanel(
      timeSeries({
        title: "Oldest round in progress",
        description: "Age of the oldest round still running.",
        unit: "s",
        series: [gauge("flotilla_propeller_queue_unfinished_work_seconds")],
      }),
    )
    .withPanel(
      timeSeries({
        title: "Pods created and deleted",
        description: "Task pods created, and deleted (aborts, timeouts, cleanup), per second.",
        unit: "ops",
        series: [
          rateBy("flotilla_propeller_pods_created_total", "cluster", "{{cluster}} created"),
          rateBy("flotilla_propeller_pods_deleted_total", "cluster", "{{cluster}} deleted"),
        ],
      }),
    )
    .withRow(row("WorkflowExecution writes"))
    .withPanel(
      timeSeries({
        title: "CR write latency p99",
        description: "99th percentile of WorkflowExecution status/metadata writes.",
        unit: "s",
        series: [quantile(0.99, "flotilla_propeller_cr_update_duration_seconds")],
      }),
    )
    .withPanel(
      timeSeries({
        title: "CR write conflicts and refusals",
        description:
          "Writes rejected with 409 Conflict (re-read and retried) and writes refused as too large.",
        unit: "ops",
        series: [
          rateBy("flotilla_propeller_cr_update_conflicts_total", "cluster", "{{cluster}} conflicts"),
          rateBy("flotilla_propeller_cr_too_large_total", "cluster", "{{cluster}} too large"),
        ],
      }),
    )
    .withPanel(
      timeSeries({
        title: "CR size p99 by encoding",
        description:
          "99th percentile of written WorkflowExecution objects by node-status encoding; the object budget is 1 MiB.",
        unit: "bytes",
        series: [quantile(0.99, "flotilla_propeller_cr_status_bytes", "cluster, encoding")],
      }),
    )
    .withPanel(
      timeSeries({
        title: "Terminated CRs deleted",
        description: "Terminated WorkflowExecution CRs deleted after their TTL, per second.",
        unit: "ops",
        series: [rateBy("flotilla_propeller_gc_deleted_total", "cluster", "{{cluster}}")],
      }),
    )
    .withRow(row("Events to the admin"))
    .withPanel(
      timeSeries({
        title: "Events acknowledged by outcome",
        description: "Events the admin acknowledged per second (accepted, duplicate, rejected).",
        unit: "ops",
        series: [rateBy("flotilla_propeller_events_total", "cluster, outcome", "{{cluster}} {{outcome}}")],
      }),
    )
    .withPanel(
      timeSeries({
        title: "Event buffer and send failures",
        description: "Events waiting for the admin, and failed IngestEvents calls per second.",
        unit: "short",
        series: [
          { ...gauge("flotilla_propeller_event_buffer_depth"), legend: "{{cluster}} buffered" },
          rateBy("flotilla_propeller_event_send_failures_total", "cluster", "{{cluster}} failures/s"),
        ],
      }),
    )
    .withPanel(
      timeSeries({
        title: "Event send latency p99",
        description: "99th percentile of one IngestEvents batch call.",
        unit: "s",
        series: [quantile(0.99, "flotilla_propeller_event_send_duration_seconds")],
      }),
    )
    .withPanel(
      timeSeries({
        title: "Heartbeat failures",
        description: "ClusterHeartbeat calls to the admin that failed, per second.",
        unit: "ops",
        series: [rateBy("flotilla_propeller_heartbeat_failures_total", "cluster", "{{cluster}}")],
      }),
    )
    .withRow(row("Informers, tokens, leadership"))
    .withPanel(
      timeSeries({
        title: "Informer lag p99",
        description: "99th percentile of the time from a propeller write to its informer cache showing it.",
        unit: "s",
        series: [quantile(0.99, "flotilla_propeller_informer_lag_seconds", "cluster, informer")],
      }),
    )
    .withPanel(
      timeSeries({
        title: "Informer restarts",
        description: "Watch restarts after errors (a 410 Gone relists), per second.",
        unit: "ops",
        series: [
          rateBy(
            "flotilla_propeller_informer_restarts_total",
            "cluster, informer",
            "{{cluster}} {{informer}}",
          ),
        ],
      }),
    )
    .withPanel(
      timeSeries({
        title: "Token requests by outcome",
        description:
          "Resource-manager allocations per second by resource and outcome (granted, queued, rejected, error).",
        unit: "ops",
        series: [
          rateBy(
            "flotilla_propeller_token_requests_total",
            "cluster, resource, outcome",
            "{{cluster}} {{resource}} {{outcome}}",
          ),
        ],
      }),
    )
    .withPanel(
      timeSeries({
        title: "Leader",
        description: "1 while a replica holds the cluster's leader lease (sum over replicas: should be 1).",
        unit: "short",
        series: [gauge("flotilla_propeller_leader")],
      }),
    );
}
