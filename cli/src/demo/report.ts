/** Human-readable views of a demo's state: the ready banner and the status table. */
import { renderTable } from "../output/table.js";
import type { DemoState } from "./state.js";
import { ISOLATION_LABEL_KEY, WAREHOUSE_POOL } from "./topology.js";

/** The banner printed once the demo is ready: endpoints, projects, examples and what to try next. */
export function readyBanner(state: DemoState): string {
  const seconds = ((state.readyAfterMs ?? 0) / 1000).toFixed(1);
  const rows: Array<[string, string, string]> = [
    ["admin", state.adminUrl, "Connect, gRPC and gRPC-Web; /metrics"],
    [
      "resource manager",
      state.resourceManagerUrl,
      `pool ${WAREHOUSE_POOL.resource}: limit ${WAREHOUSE_POOL.limit}`,
    ],
    ...(state.prometheusUrl
      ? [
          [
            "prometheus",
            state.prometheusUrl,
            "scrapes every component each second; Flotilla's alert rules at /alerts",
          ] as [string, string, string],
        ]
      : []),
    ...state.clusters.map((c): [string, string, string] => [
      `cluster ${c.name}`,
      c.url,
      Object.entries(c.labels)
        .filter(([k]) => k !== ISOLATION_LABEL_KEY)
        .map(([k, v]) => `${k}=${v}`)
        .join(" ") +
        (c.labels[ISOLATION_LABEL_KEY] ? `, dedicated to ${c.labels[ISOLATION_LABEL_KEY]} projects` : ""),
    ]),
  ];
  const width = Math.max(...rows.map(([name]) => name.length));
  const urlWidth = Math.max(...rows.map(([, url]) => url.length));
  const adminFlag = state.adminUrl === "http://127.0.0.1:8088" ? "" : ` --admin ${state.adminUrl}`;
  const lp = state.launchPlans.includes("hello-world-lp")
    ? "hello-world-lp"
    : (state.launchPlans[0] ?? "LAUNCH_PLAN");
  const projects = state.projects
    .map((p) =>
      p.isolation
        ? `${p.id} (isolation ${p.isolation}: only on dedicated clusters)`
        : `${p.id} (shared clusters)`,
    )
    .join(", ");
  return [
    `Flotilla demo is ready in ${seconds}s — data and logs in ${state.dir}`,
    "",
    ...rows.map(([name, url, about]) => `  ${name.padEnd(width)}  ${url.padEnd(urlWidth)}  ${about}`),
    `  ${"kubeconfig".padEnd(width)}  ${state.kubeconfig}  (contexts ${state.clusters.map((c) => c.name).join(", ")})`,
    "",
    `Projects: ${projects}; domains development, staging, production.`,
    `Examples registered as ${state.examplesVersion}: launch plans ${state.launchPlans.join(", ")};`,
    `  workflows ${state.workflows.join(", ")}.`,
    "",
    "Try, from another shell:",
    `  npx flotctl create execution -p ml -d development --launch-plan ${lp} --name hello-1${adminFlag}`,
    `  npx flotctl watch execution hello-1 -p ml -d development${adminFlag}`,
    `  npx flotctl get executions -p ml -d development${adminFlag}`,
    "",
    "`npx flotctl demo status` shows the components; `npx flotctl demo stop` (or Ctrl-C here) stops them.",
  ].join("\n");
}

/** The `demo status` table: one row per component. */
export function statusTable(state: DemoState, running: boolean, color: boolean): string {
  const head = running
    ? `demo ${state.phase} in ${state.dir} (supervisor pid ${state.pid}, admin ${state.adminUrl})`
    : `demo not running in ${state.dir} (last phase ${state.phase}${state.error ? `: ${state.error}` : ""})`;
  const table = renderTable(
    [
      { header: "COMPONENT", get: (c: DemoState["components"][number]) => c.name },
      { header: "PHASE", get: (c) => (running ? c.phase : "stopped") },
      { header: "PID", get: (c) => (running && c.pid ? String(c.pid) : "-") },
      { header: "RESTARTS", get: (c) => String(c.restarts) },
      { header: "URL", get: (c) => c.url ?? "" },
      { header: "LOG", get: (c) => c.log },
    ],
    state.components,
    { color },
  );
  return `${head}\n${table}`;
}
