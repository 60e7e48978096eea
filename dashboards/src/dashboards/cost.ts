/**
 * Cost and waste: what the task attempts of the selected projects, domains and clusters cost
 * (requested resources × wall time × the cluster's price), how much of it produced nothing
 * (failed, retried, aborted attempts and requested-but-unused resources), and the spend against
 * each project's budget. The counters are incremented with exactly the amounts `GetCosts` sums,
 * so these panels and `flotctl get costs` agree for the same window.
 */
import type { DashboardBuilder } from "@grafana/grafana-foundation-sdk/dashboard";
import {
  domainVariable,
  flotillaDashboard,
  labelVariable,
  projectVariable,
  row,
  singleValue,
  statPanel,
  timeSeries,
} from "../panels.js";

const RATE = "$__rate_interval";
const SEL = 'project=~"$project", domain=~"$domain", cluster=~"$cluster"';
const COST = "flotilla_admin_task_cost_dollars_total";
const WASTE = "flotilla_admin_task_waste_dollars_total";

/** Builds the cost dashboard. */
export function costDashboard(): DashboardBuilder {
  const money = (title: string, description: string, expr: string, color: string) =>
    singleValue(title, description, expr, "currencyUSD", color);
  return (
    flotillaDashboard(
      "flotilla-cost",
      "Flotilla / Cost and waste",
      "Cost and waste of task attempts by project, domain, cluster and over time, and spend against budgets.",
    )
      .withVariable(projectVariable())
      .withVariable(domainVariable())
      // Clusters that have priced an attempt (a cluster without prices costs nothing).
      .withVariable(labelVariable("cluster", "cluster", COST))
      .withRow(row("In the selected time range"))
      .withPanel(
        money(
          "Cost",
          "Cost of the task attempts that ended in the range.",
          `sum(increase(${COST}{${SEL}}[$__range]))`,
          "blue",
        ),
      )
      .withPanel(
        money(
          "Waste",
          "Cost of attempts that produced nothing (failed, retried, aborted) plus requested-but-unused resources of successful ones.",
          `sum(increase(${WASTE}{${SEL}}[$__range]))`,
          "orange",
        ),
      )
      .withPanel(
        statPanel({
          title: "Waste share",
          description: "Waste as a share of cost in the range.",
          unit: "percentunit",
          series: [
            {
              expr: `sum(increase(${WASTE}{${SEL}}[$__range])) / sum(increase(${COST}{${SEL}}[$__range]))`,
              legend: "waste share",
            },
          ],
          thresholds: [
            { value: null, color: "green" },
            { value: 0.2, color: "orange" },
            { value: 0.5, color: "red" },
          ],
        }),
      )
      .withRow(row("Over time"))
      .withPanel(
        timeSeries({
          title: "Spend rate by project",
          description:
            "Dollars per hour spent by the task attempts of each project (cost counters' rate × 3600).",
          unit: "currencyUSD",
          series: [
            { expr: `sum by (project) (rate(${COST}{${SEL}}[${RATE}])) * 3600`, legend: "{{project}}" },
          ],
        }),
      )
      .withPanel(
        timeSeries({
          title: "Waste rate by project",
          description: "Dollars per hour of waste, by project.",
          unit: "currencyUSD",
          series: [
            { expr: `sum by (project) (rate(${WASTE}{${SEL}}[${RATE}])) * 3600`, legend: "{{project}}" },
          ],
        }),
      )
      .withPanel(
        timeSeries({
          title: "Spend rate by cluster",
          description:
            "Dollars per hour by the cluster the attempts ran on (each cluster has its own prices).",
          unit: "currencyUSD",
          series: [
            { expr: `sum by (cluster) (rate(${COST}{${SEL}}[${RATE}])) * 3600`, legend: "{{cluster}}" },
          ],
        }),
      )
      .withPanel(
        timeSeries({
          title: "Spend rate by domain",
          description: "Dollars per hour by project and domain.",
          unit: "currencyUSD",
          series: [
            {
              expr: `sum by (project, domain) (rate(${COST}{${SEL}}[${RATE}])) * 3600`,
              legend: "{{project}}/{{domain}}",
            },
          ],
        }),
      )
      .withRow(row("Budgets"))
      .withPanel(
        timeSeries({
          title: "Last hour's spend against budget",
          description:
            "Each project's spend over the last hour beside its budget (flotilla:cost_budget_dollars_per_hour, dashboards/alerts/budgets.rules.yaml); FlotillaCostBurnAboveBudget fires when spend stays above it for 15 minutes.",
          unit: "currencyUSD",
          width: 24,
          series: [
            {
              expr: `sum by (project) (increase(${COST}{project=~"$project"}[1h]))`,
              legend: "{{project}} spent",
            },
            {
              expr: `max by (project) (flotilla:cost_budget_dollars_per_hour{project=~"$project"})`,
              legend: "{{project}} budget",
            },
          ],
        }),
      )
  );
}
