/**
 * Workflows of a project, for its users: how many executions ran and how they ended, how long
 * they took, how long they waited for a cluster and for warehouse (or other pool) tokens, and
 * how often task attempts were retried. The `project`, `domain` and `cluster` variables filter.
 */
import type { DashboardBuilder } from "@grafana/grafana-foundation-sdk/dashboard";
import {
  clusterVariable,
  domainVariable,
  flotillaDashboard,
  projectVariable,
  row,
  singleValue,
  statPanel,
  timeSeries,
} from "../panels.js";

const RATE = "$__rate_interval";
const PD = 'project=~"$project", domain=~"$domain"';

/** Builds the per-project workflow dashboard. */
export function projectDashboard(): DashboardBuilder {
  const total = (title: string, description: string, expr: string, color: string) =>
    singleValue(title, description, expr, "short", color);
  return flotillaDashboard(
    "flotilla-project",
    "Flotilla / Project workflows",
    "Executions of the selected projects and domains: outcomes, durations, waits and retries.",
  )
    .withVariable(projectVariable())
    .withVariable(domainVariable())
    .withVariable(clusterVariable())
    .withRow(row("In the selected time range"))
    .withPanel(
      total(
        "Executions created",
        "Executions created in the selected time range.",
        `sum(increase(flotilla_admin_executions_created_total{${PD}}[$__range]))`,
        "blue",
      ),
    )
    .withPanel(
      total(
        "Succeeded",
        "Executions that ended SUCCEEDED in the selected time range.",
        `sum(increase(flotilla_admin_executions_finished_total{${PD}, phase="SUCCEEDED"}[$__range]))`,
        "green",
      ),
    )
    .withPanel(
      total(
        "Failed or timed out",
        "Executions that ended FAILED or TIMED_OUT in the selected time range.",
        `sum(increase(flotilla_admin_executions_finished_total{${PD}, phase=~"FAILED|TIMED_OUT"}[$__range]))`,
        "red",
      ),
    )
    .withPanel(
      statPanel({
        title: "Success ratio",
        description: "Share of executions finished in the time range that SUCCEEDED.",
        unit: "percentunit",
        series: [
          {
            expr:
              `sum(increase(flotilla_admin_executions_finished_total{${PD}, phase="SUCCEEDED"}[$__range]))` +
              ` / sum(increase(flotilla_admin_executions_finished_total{${PD}}[$__range]))`,
            legend: "success ratio",
          },
        ],
        thresholds: [
          { value: null, color: "red" },
          { value: 0.9, color: "orange" },
          { value: 0.99, color: "green" },
        ],
      }),
    )
    .withRow(row("Outcomes and durations"))
    .withPanel(
      timeSeries({
        title: "Executions by phase now",
        description:
          "Stored executions of the selected projects and domains by current phase (QUEUED, RUNNING, ...).",
        unit: "short",
        series: [
          {
            expr: `sum by (phase) (max by (project, domain, phase) (flotilla_admin_executions{${PD}}))`,
            legend: "{{phase}}",
          },
        ],
      }),
    )
    .withPanel(
      timeSeries({
        title: "Finished executions by phase",
        description: "Executions reaching a terminal phase per second, by project and phase.",
        unit: "ops",
        series: [
          {
            expr: `sum by (project, phase) (rate(flotilla_admin_executions_finished_total{${PD}}[${RATE}]))`,
            legend: "{{project}} {{phase}}",
          },
        ],
      }),
    )
    .withPanel(
      timeSeries({
        title: "Execution duration",
        description: "Median and 95th percentile from creation to the terminal phase, by phase.",
        unit: "s",
        series: [0.5, 0.95].map((q) => ({
          expr: `histogram_quantile(${q}, sum by (phase, le) (rate(flotilla_admin_execution_duration_seconds_bucket{${PD}}[${RATE}])))`,
          legend: `{{phase}} p${q * 100}`,
        })),
      }),
    )
    .withPanel(
      timeSeries({
        title: "Task attempts by outcome",
        description: "Task attempts ending per second; RETRYABLE_FAILED attempts were retried.",
        unit: "ops",
        series: [
          {
            expr: `sum by (phase) (rate(flotilla_admin_task_attempts_finished_total{${PD}}[${RATE}]))`,
            legend: "{{phase}}",
          },
        ],
      }),
    )
    .withPanel(
      timeSeries({
        title: "Executions created per second",
        description: "Executions created per second, by project and domain.",
        unit: "ops",
        series: [
          {
            expr: `sum by (project, domain) (rate(flotilla_admin_executions_created_total{${PD}}[${RATE}]))`,
            legend: "{{project}}/{{domain}}",
          },
        ],
      }),
    )
    .withRow(row("Waiting"))
    .withPanel(
      timeSeries({
        title: "Wait for a cluster",
        description:
          "Median and 95th percentile from an execution's placement request to its WorkflowExecution on a cluster, by cluster.",
        unit: "s",
        series: [0.5, 0.95].map((q) => ({
          expr: `histogram_quantile(${q}, sum by (cluster, le) (rate(flotilla_admin_placement_duration_seconds_bucket{${PD}, cluster=~"$cluster"}[${RATE}])))`,
          legend: `{{cluster}} p${q * 100}`,
        })),
      }),
    )
    .withPanel(
      timeSeries({
        title: "Wait for pool tokens",
        description:
          "Median and 95th percentile from a token request (for example a warehouse slot) to its grant, by resource.",
        unit: "s",
        series: [0.5, 0.95].map((q) => ({
          expr: `histogram_quantile(${q}, sum by (resource, le) (rate(flotilla_resource_manager_queue_wait_seconds_bucket{${PD}}[${RATE}])))`,
          legend: `{{resource}} p${q * 100}`,
        })),
      }),
    )
    .withPanel(
      timeSeries({
        title: "Pool tokens in use and waiting",
        description:
          "Tokens the selected tenants hold, and their requests waiting in the queue, by resource.",
        unit: "short",
        series: [
          {
            expr: `sum by (resource) (flotilla_resource_manager_in_use_tokens{${PD}})`,
            legend: "{{resource}} in use",
          },
          {
            expr: `sum by (resource) (flotilla_resource_manager_queue_length{${PD}})`,
            legend: "{{resource}} waiting",
          },
        ],
      }),
    )
    .withPanel(
      timeSeries({
        title: "Placements by cluster",
        description: "Where the selected executions ran: placements per second by cluster.",
        unit: "ops",
        series: [
          {
            expr: `sum by (cluster) (rate(flotilla_admin_placement_duration_seconds_count{${PD}, cluster=~"$cluster"}[${RATE}]))`,
            legend: "{{cluster}}",
          },
        ],
      }),
    );
}
