import assert from "node:assert/strict";
import { test } from "node:test";
import { alertRules, metricNames, panelQueries, variableQueries } from "./queries.js";

test("metricNames: the metrics an expression reads, not functions, labels, durations or variables", () => {
  const table: Array<[string, string[]]> = [
    ["up", ["up"]],
    ['sum(up{job="flotilla-admin"})', ["up"]],
    ['absent(up{job="flotilla-admin"} == 1)', ["up"]],
    [
      'histogram_quantile(0.99, sum by (cluster, le) (rate(flotilla_propeller_round_duration_seconds_bucket{cluster=~"$cluster"}[$__rate_interval]))) > 5',
      ["flotilla_propeller_round_duration_seconds_bucket"],
    ],
    [
      "max(flotilla_admin_pending_placements) > 0 and (sum(increase(flotilla_admin_placements_total[15m])) or vector(0)) == 0",
      ["flotilla_admin_pending_placements", "flotilla_admin_placements_total"],
    ],
    [
      'sum(increase(a_total{phase="SUCCEEDED", project=~"$project"}[$__range])) / sum(increase(a_total[$__range]))',
      ["a_total"],
    ],
    ["sum without (instance) (x) / on (cluster) group_left (state) y offset 5m", ["x", "y"]],
  ];
  for (const [expr, names] of table) assert.deepEqual(metricNames(expr), names, expr);
});

test("panel, variable and alert queries are read from their documents", () => {
  const dashboard = {
    title: "D",
    panels: [
      { type: "row", title: "R" },
      { type: "timeseries", title: "P", targets: [{ refId: "A", expr: "up" }, { refId: "B" }] },
    ],
    templating: {
      list: [
        { name: "datasource", type: "datasource", query: "prometheus" },
        { name: "cluster", type: "query", query: { query: "label_values(m, cluster)" } },
      ],
    },
  };
  assert.deepEqual(panelQueries(dashboard), [{ dashboard: "D", panel: "P", refId: "A", expr: "up" }]);
  assert.deepEqual(variableQueries(dashboard), [
    { dashboard: "D", variable: "cluster", query: "label_values(m, cluster)" },
  ]);
  const rules = alertRules(
    "groups:\n  - name: g\n    rules:\n      - record: r\n        expr: up\n      - alert: A\n        expr: up == 0\n",
  );
  assert.deepEqual(rules, [{ group: "g", alert: "A", expr: "up == 0" }]);
});
