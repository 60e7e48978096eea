/**
 * Reads what the checks need out of built dashboards and alert rule files: every panel query
 * (with its dashboard and panel title), every template-variable query, every alert expression,
 * and the metric names a PromQL expression reads.
 */
import { parse } from "yaml";

/** One PromQL expression of a dashboard panel. */
export interface PanelQuery {
  dashboard: string;
  panel: string;
  refId: string;
  expr: string;
}

/** The parts of a dashboard JSON the checks read. */
interface DashboardJson {
  title: string;
  panels?: Array<{ type: string; title: string; targets?: Array<{ refId?: string; expr?: string }> }>;
  templating?: { list?: Array<{ name: string; type: string; query?: unknown }> };
}

/** Every panel query of a built dashboard (rows have none). */
export function panelQueries(json: unknown): PanelQuery[] {
  const d = json as DashboardJson;
  return (d.panels ?? []).flatMap((p) =>
    (p.targets ?? [])
      .filter((t) => typeof t.expr === "string")
      .map((t) => ({ dashboard: d.title, panel: p.title, refId: t.refId ?? "", expr: t.expr! })),
  );
}

/** The `label_values(metric{...}, label)` queries of a dashboard's query variables. */
export function variableQueries(
  json: unknown,
): Array<{ dashboard: string; variable: string; query: string }> {
  const d = json as DashboardJson;
  return (d.templating?.list ?? [])
    .filter((v) => v.type === "query")
    .map((v) => ({
      dashboard: d.title,
      variable: v.name,
      query: typeof v.query === "string" ? v.query : String((v.query as { query?: string }).query ?? ""),
    }));
}

/** One alerting rule of a rule file. */
export interface AlertRule {
  group: string;
  alert: string;
  expr: string;
}

/** The alerting rules of a Prometheus rule file (YAML text). */
export function alertRules(yamlText: string): AlertRule[] {
  const doc = parse(yamlText) as {
    groups: Array<{ name: string; rules: Array<{ alert?: string; expr: string }> }>;
  };
  return doc.groups.flatMap((g) =>
    g.rules.filter((r) => r.alert).map((r) => ({ group: g.name, alert: r.alert!, expr: r.expr })),
  );
}

/** PromQL words that are not metric names: functions, aggregations, keywords. */
const NOT_METRICS = new Set([
  "abs",
  "absent",
  "absent_over_time",
  "and",
  "avg",
  "avg_over_time",
  "bool",
  "bottomk",
  "by",
  "ceil",
  "changes",
  "clamp",
  "clamp_max",
  "clamp_min",
  "count",
  "count_over_time",
  "count_values",
  "delta",
  "deriv",
  "exp",
  "floor",
  "group",
  "group_left",
  "group_right",
  "histogram_quantile",
  "holt_winters",
  "idelta",
  "ignoring",
  "increase",
  "irate",
  "label_join",
  "label_replace",
  "label_values",
  "last_over_time",
  "ln",
  "log2",
  "log10",
  "max",
  "max_over_time",
  "min",
  "min_over_time",
  "offset",
  "on",
  "or",
  "predict_linear",
  "quantile",
  "quantile_over_time",
  "rate",
  "resets",
  "round",
  "scalar",
  "sort",
  "sort_desc",
  "sqrt",
  "stddev",
  "stdvar",
  "sum",
  "sum_over_time",
  "time",
  "timestamp",
  "topk",
  "unless",
  "vector",
  "without",
  "inf",
  "nan",
]);

/**
 * The metric names an expression reads: identifiers that are not inside `{...}` label matchers,
 * quotes or `by (...)` / `without (...)` / `on (...)` / `ignoring (...)` / `group_*(...)` lists,
 * not durations, and not PromQL functions or keywords. Grafana's `$variables` are ignored.
 */
export function metricNames(expr: string): string[] {
  const names = new Set<string>();
  // Drop strings, label matchers, range/offset brackets, and label lists of grouping clauses.
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, "{}")
    .replace(/\[[^\]]*\]/g, "[]")
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, "$1()")
    .replace(/\$\w+/g, "");
  // Not preceded by a digit or a dot: "5m" (offset) and "1e3" are numbers, not names.
  for (const m of stripped.matchAll(/(?<![\w.])[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const word = m[0];
    const next = stripped.slice(m.index + word.length).trimStart();
    if (NOT_METRICS.has(word.toLowerCase())) continue;
    // A function call that is not in the list above would be a mistake to report as a metric.
    if (next.startsWith("(")) continue;
    names.add(word);
  }
  return [...names].sort();
}
