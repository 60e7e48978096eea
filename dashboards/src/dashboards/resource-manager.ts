/**
 * Resource manager: tokens in use against each pool's limit, queues and how long requests wait,
 * grants, rejections and expiries by tenant, the group-commit write path and leadership. The
 * `project` and `domain` variables select tenants.
 */
import type { DashboardBuilder } from "@grafana/grafana-foundation-sdk/dashboard";
import { domainVariable, flotillaDashboard, projectVariable, row, statPanel, timeSeries } from "../panels.js";

const RATE = "$__rate_interval";
const T = 'project=~"$project", domain=~"$domain"';

/** Builds the resource-manager dashboard. */
export function resourceManagerDashboard(): DashboardBuilder {
  return flotillaDashboard(
    "flotilla-resource-manager",
    "Flotilla / Resource manager",
    "Token pools: usage against limits, queues and waits, grants and rejections by tenant, the commit path.",
  )
    .withVariable(projectVariable())
    .withVariable(domainVariable())
    .withRow(row("Leadership"))
    .withPanel(
      statPanel({
        title: "Leaders",
        description: "Instances that hold the leadership (should be exactly 1).",
        unit: "short",
        series: [{ expr: "sum(flotilla_resource_manager_is_leader)", legend: "leaders" }],
        thresholds: [
          { value: null, color: "red" },
          { value: 1, color: "green" },
          { value: 2, color: "red" },
        ],
      }),
    )
    .withPanel(
      statPanel({
        title: "Leader epoch",
        description: "Fencing epoch of the current term; a rising epoch means leadership changed hands.",
        unit: "short",
        series: [{ expr: "max(flotilla_resource_manager_leader_epoch)", legend: "epoch" }],
      }),
    )
    .withRow(row("Pools"))
    .withPanel(
      timeSeries({
        title: "Tokens in use and limit",
        description: "Tokens held by live leases of the selected tenants, and each pool's global limit.",
        unit: "short",
        series: [
          {
            expr: `sum by (resource) (flotilla_resource_manager_in_use_tokens{${T}})`,
            legend: "{{resource}} in use",
          },
          {
            expr: "max by (resource) (flotilla_resource_manager_limit_tokens)",
            legend: "{{resource}} limit",
          },
        ],
      }),
    )
    .withPanel(
      timeSeries({
        title: "Tokens in use by tenant",
        description: "Tokens held, by resource, project and domain, with the tenant's effective cap.",
        unit: "short",
        series: [
          {
            expr: `sum by (resource, project, domain) (flotilla_resource_manager_in_use_tokens{${T}})`,
            legend: "{{resource}} {{project}}/{{domain}}",
          },
          {
            expr: `max by (resource, project, domain) (flotilla_resource_manager_cap_tokens{${T}})`,
            legend: "{{resource}} {{project}}/{{domain}} cap",
          },
        ],
      }),
    )
    .withRow(row("Queues"))
    .withPanel(
      timeSeries({
        title: "Requests waiting",
        description: "Requests waiting for a token, by resource and tenant.",
        unit: "short",
        series: [
          {
            expr: `sum by (resource, project, domain) (flotilla_resource_manager_queue_length{${T}})`,
            legend: "{{resource}} {{project}}/{{domain}}",
          },
        ],
      }),
    )
    .withPanel(
      timeSeries({
        title: "Queue wait",
        description: "Median and 95th percentile of the time from a request's arrival to its grant.",
        unit: "s",
        series: [0.5, 0.95].map((q) => ({
          expr: `histogram_quantile(${q}, sum by (resource, le) (rate(flotilla_resource_manager_queue_wait_seconds_bucket{${T}}[${RATE}])))`,
          legend: `{{resource}} p${q * 100}`,
        })),
      }),
    )
    .withPanel(
      timeSeries({
        title: "Grants and queued requests",
        description: "Leases granted, and requests that had to wait, per second by resource.",
        unit: "ops",
        series: [
          {
            expr: `sum by (resource) (rate(flotilla_resource_manager_grants_total{${T}}[${RATE}]))`,
            legend: "{{resource}} granted",
          },
          {
            expr: `sum by (resource) (rate(flotilla_resource_manager_queued_total{${T}}[${RATE}]))`,
            legend: "{{resource}} queued",
          },
        ],
      }),
    )
    .withPanel(
      timeSeries({
        title: "Releases, expiries and rejections",
        description:
          "Leases released by their holder, reclaimed after their TTL or dropped unpolled (by kind), and requests rejected (by reason), per second.",
        unit: "ops",
        series: [
          {
            expr: `sum by (resource) (rate(flotilla_resource_manager_releases_total{${T}}[${RATE}]))`,
            legend: "{{resource}} released",
          },
          {
            expr: `sum by (resource, kind) (rate(flotilla_resource_manager_expiries_total{${T}}[${RATE}]))`,
            legend: "{{resource}} expired ({{kind}})",
          },
          {
            expr: `sum by (resource, reason) (rate(flotilla_resource_manager_rejections_total[${RATE}]))`,
            legend: "{{resource}} rejected ({{reason}})",
          },
        ],
      }),
    )
    .withRow(row("Write path"))
    .withPanel(
      timeSeries({
        title: "Decision latency p99",
        description: "99th percentile of the time from a request to its durable decision, by method.",
        unit: "s",
        series: [
          {
            expr: `histogram_quantile(0.99, sum by (method, le) (rate(flotilla_resource_manager_decision_duration_seconds_bucket[${RATE}])))`,
            legend: "{{method}}",
          },
        ],
      }),
    )
    .withPanel(
      timeSeries({
        title: "Group commits",
        description: "99th percentile of one group-commit write, and of the holder changes it carries.",
        unit: "s",
        series: [
          {
            expr: `histogram_quantile(0.99, sum by (le) (rate(flotilla_resource_manager_commit_duration_seconds_bucket[${RATE}])))`,
            legend: "duration p99",
          },
        ],
      }),
    )
    .withPanel(
      timeSeries({
        title: "Changes per commit",
        description: "Median and 99th percentile of holder changes written per group-commit batch.",
        unit: "short",
        series: [0.5, 0.99].map((q) => ({
          expr: `histogram_quantile(${q}, sum by (le) (rate(flotilla_resource_manager_commit_batch_changes_bucket[${RATE}])))`,
          legend: `p${q * 100}`,
        })),
      }),
    );
}
