export { buildFiles, DASHBOARDS, GRAFANA_FOLDER, type DashboardDefinition } from "./catalog.js";
export {
  alertRules,
  metricNames,
  panelQueries,
  variableQueries,
  type AlertRule,
  type PanelQuery,
} from "./queries.js";
export { DATASOURCE_UID, JOBS } from "./panels.js";
export { PACKAGE_DIR, ALERTS_DIR, ALERT_TESTS_DIR, GENERATED_DIR, readGeneratedDashboards } from "./paths.js";
