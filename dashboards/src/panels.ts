/**
 * The building blocks every Flotilla dashboard shares, on top of the Grafana Foundation SDK's
 * typed builders: the Prometheus datasource variable, the cluster / project / domain template
 * variables, and time-series and stat panels that take one PromQL expression per series. Keeping
 * them here makes every dashboard one readable list of panels, and gives the checks
 * (`queries.ts`) one shape to read.
 */
import * as common from "@grafana/grafana-foundation-sdk/common";
import * as dashboard from "@grafana/grafana-foundation-sdk/dashboard";
import * as prometheus from "@grafana/grafana-foundation-sdk/prometheus";
import * as stat from "@grafana/grafana-foundation-sdk/stat";
import * as timeseries from "@grafana/grafana-foundation-sdk/timeseries";

/** UID of the Prometheus datasource the provisioning file creates. */
export const DATASOURCE_UID = "flotilla-prometheus";

/** Every panel queries the datasource chosen in the `datasource` variable. */
export const DATASOURCE: dashboard.DataSourceRef = { type: "prometheus", uid: "${datasource}" };

/** Tag on every Flotilla dashboard (the dashboards link to each other by it). */
export const FLOTILLA_TAG = "flotilla";

/** Scrape job names the queries and alert rules expect (see README: scrape configuration). */
export const JOBS = {
  admin: "flotilla-admin",
  propeller: "flotilla-propeller",
  resourceManager: "flotilla-resource-manager",
} as const;

/** One series of a panel: a PromQL expression and its legend. */
export interface Series {
  expr: string;
  legend: string;
}

/** What a panel shows, whatever its kind. */
export interface PanelSpec {
  title: string;
  description: string;
  /** Grafana unit id (`s`, `bytes`, `short`, `percentunit`, `reqps`, ...). */
  unit: string;
  series: Series[];
  /** Width in grid columns (24 = full width). Default 12. */
  width?: number;
  /** Height in grid rows. Default 8. */
  height?: number;
}

function targets(series: Series[]): prometheus.DataqueryBuilder[] {
  return series.map((s, i) =>
    new prometheus.DataqueryBuilder()
      .expr(s.expr)
      .legendFormat(s.legend)
      .refId(String.fromCharCode(65 + i)),
  );
}

/** A time-series panel (lines) over the series of `spec`. */
export function timeSeries(spec: PanelSpec): timeseries.PanelBuilder {
  let panel = new timeseries.PanelBuilder()
    .title(spec.title)
    .description(spec.description)
    .datasource(DATASOURCE)
    .unit(spec.unit)
    .span(spec.width ?? 12)
    .height(spec.height ?? 8)
    .lineWidth(1)
    .fillOpacity(10);
  for (const t of targets(spec.series)) panel = panel.withTarget(t);
  return panel;
}

/** A single-value panel (the last value of each series), with optional thresholds. */
export function statPanel(
  spec: PanelSpec & { thresholds?: Array<{ value: number | null; color: string }> },
): stat.PanelBuilder {
  let panel = new stat.PanelBuilder()
    .title(spec.title)
    .description(spec.description)
    .datasource(DATASOURCE)
    .unit(spec.unit)
    .span(spec.width ?? 6)
    .height(spec.height ?? 4)
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(["lastNotNull"]));
  if (spec.thresholds)
    panel = panel.thresholds(
      new dashboard.ThresholdsConfigBuilder()
        .mode(dashboard.ThresholdsMode.Absolute)
        .steps(spec.thresholds.map((t) => ({ value: t.value, color: t.color }))),
    );
  for (const t of targets(spec.series)) panel = panel.withTarget(t);
  return panel;
}

/** A stat panel of one expression in one colour, titled and legended alike (a total, an amount). */
export function singleValue(
  title: string,
  description: string,
  expr: string,
  unit: string,
  color: string,
): stat.PanelBuilder {
  return statPanel({
    title,
    description,
    unit,
    series: [{ expr, legend: title }],
    thresholds: [{ value: null, color }],
  });
}

/** The `datasource` variable: any Prometheus datasource, the provisioned one by default. */
export function datasourceVariable(): dashboard.DatasourceVariableBuilder {
  return new dashboard.DatasourceVariableBuilder("datasource")
    .label("Prometheus")
    .type("prometheus")
    .current({ text: "Flotilla Prometheus", value: DATASOURCE_UID });
}

/**
 * A multi-value template variable over the values of `label` on `metric` (optionally filtered by
 * `selector`), with an "All" option that matches any value (`.*`). Panels use it as
 * `label=~"$name"`.
 */
export function labelVariable(
  name: string,
  label: string,
  metric: string,
  selector = "",
): dashboard.QueryVariableBuilder {
  const query = `label_values(${metric}${selector ? `{${selector}}` : ""}, ${label})`;
  return new dashboard.QueryVariableBuilder(name)
    .label(name[0].toUpperCase() + name.slice(1))
    .datasource(DATASOURCE)
    .query({ query, refId: `${name}-values` })
    .definition(query)
    .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
    .sort(dashboard.VariableSort.AlphabeticalAsc)
    .multi(true)
    .includeAll(true)
    .allValue(".*")
    .current({ text: "All", value: "$__all" });
}

/** The cluster variable (clusters whose propeller exports rounds). */
export const clusterVariable = (): dashboard.QueryVariableBuilder =>
  labelVariable("cluster", "cluster", "flotilla_propeller_rounds_total");

/** The project variable (projects that created executions). */
export const projectVariable = (): dashboard.QueryVariableBuilder =>
  labelVariable("project", "project", "flotilla_admin_executions_created_total");

/** The domain variable (domains of the selected projects). */
export const domainVariable = (): dashboard.QueryVariableBuilder =>
  labelVariable("domain", "domain", "flotilla_admin_executions_created_total", 'project=~"$project"');

/** What every Flotilla dashboard has: uid, title, tags, time range, refresh, links to the others. */
export function flotillaDashboard(
  uid: string,
  title: string,
  description: string,
): dashboard.DashboardBuilder {
  return new dashboard.DashboardBuilder(title)
    .uid(uid)
    .description(description)
    .tags([FLOTILLA_TAG])
    .editable()
    .timezone("browser")
    .time({ from: "now-1h", to: "now" })
    .refresh("30s")
    .link(
      new dashboard.DashboardLinkBuilder("Flotilla dashboards")
        .type(dashboard.DashboardLinkType.Dashboards)
        .tags([FLOTILLA_TAG])
        .asDropdown(true)
        .includeVars(true)
        .keepTime(true),
    )
    .withVariable(datasourceVariable());
}

/** A row header that groups the panels after it. */
export const row = (title: string): dashboard.RowBuilder => new dashboard.RowBuilder(title);
