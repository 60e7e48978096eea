// Observability proven on a live Prometheus: `flotctl demo start --prometheus` brings up the
// federation (sandbox clusters east, west and secure, admin, resource manager, a propeller per
// cluster) with Prometheus scraping every component each second and evaluating the alert rules.
// A mix of executions runs in both projects (successes, a task retried, failures, queries waiting
// for warehouse tokens); then every service's /metrics passes `promtool check metrics`, and every
// dashboard panel query, template variable and alert expression goes through Prometheus's HTTP
// API: each parses, each metric it names is scraped, and each panel returns data unless it is in
// NO_DATA_EXPECTED below with the reason. Last, a propeller killed and restarted on a new port is
// scraped there (the supervisor rewrites Prometheus's file-discovered targets).
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { promisify } from "node:util";
import {
  ALERTS_DIR,
  DASHBOARDS,
  alertRules,
  metricNames,
  panelQueries,
  readGeneratedDashboards,
  variableQueries,
} from "@flotilla/dashboards";
import { eventually, spawnBin, tempDir } from "@flotilla/testing";

const dir = tempDir({ prefix: "flotilla-prometheus-e2e-" });
const demoDir = join(dir.path, "demo");

/**
 * Panels that may return no data after this run, by `dashboard / panel`, with the reason. Each
 * shows a failure or a rare event that a healthy demo run does not produce; their queries are
 * still parsed and their metric names still checked.
 */
const NO_DATA_EXPECTED: Record<string, string> = {
  "Flotilla / Routing and clusters / CR create and delete failures":
    "the demo's clusters accept every create and delete, and these counters are labelled by failure reason, so they have no series until one fails",
};

interface DemoStateView {
  phase: string;
  adminUrl: string;
  prometheusUrl?: string;
  components: Array<{ name: string; phase: string; url?: string; pid?: number; restarts: number }>;
}

let state: DemoStateView;
/** When the executions started: panel queries cover the time from here to now. */
let runStartedAt = 0;

async function flotctl(...args: string[]) {
  const child = await spawnBin("flotctl", args, {
    env: { HOME: dir.path, FLOTILLA_DEMO_DIR: demoDir, FLOTILLA_ADMIN: state?.adminUrl ?? "" },
  });
  const status = await child.exited;
  return { code: status.code, stdout: child.stdout.join("\n"), stderr: child.stderr.join("\n") };
}

/** `GET {prometheus}{path}` with query parameters, returning Prometheus's JSON envelope. */
async function prom<T>(
  path: string,
  params: Record<string, string | string[]>,
): Promise<{ status: string; data: T; errorType?: string; error?: string }> {
  const search = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) for (const x of [v].flat()) search.append(k, x);
  const res = await fetch(`${state.prometheusUrl}${path}?${search}`);
  return (await res.json()) as { status: string; data: T; errorType?: string; error?: string };
}

/** Range-query result: one matrix of series. */
type Matrix = {
  resultType: string;
  result: Array<{ metric: Record<string, string>; values: [number, string][] }>;
};

/** Replaces Grafana's variables the way a user looking at project ml in development sees them. */
function expand(expr: string, rangeSeconds: number): string {
  return expr
    .replaceAll("$__rate_interval", "5s")
    .replaceAll("$__range", `${rangeSeconds}s`)
    .replaceAll("$__interval", "2s")
    .replaceAll('"$project"', '"ml"')
    .replaceAll('"$domain"', '"development"')
    .replaceAll('"$cluster"', '".*"');
}

/**
 * Every metric name a component exports: the names with samples, plus the names that only
 * carry metadata so far (`# HELP`/`# TYPE` of a labelled counter that has not counted yet, like
 * failures by reason), with a histogram's `_bucket`, `_count` and `_sum` series.
 */
async function exportedNames(): Promise<Set<string>> {
  const scraped = await prom<string[]>("/api/v1/label/__name__/values", {});
  assert.equal(scraped.status, "success");
  const names = new Set(scraped.data);
  const metadata = await prom<Record<string, Array<{ type: string }>>>("/api/v1/metadata", {});
  assert.equal(metadata.status, "success");
  for (const [name, entries] of Object.entries(metadata.data)) {
    names.add(name);
    if (entries.some((e) => e.type === "histogram"))
      for (const suffix of ["_bucket", "_count", "_sum"]) names.add(name + suffix);
  }
  return names;
}

before(async () => {
  const start = await spawnBin(
    "flotctl",
    [
      "demo",
      "start",
      "--detach",
      "--prometheus",
      "--prometheus-port",
      "0",
      "--admin-port",
      "0",
      "--rm-port",
      "0",
      "--timeout",
      "120s",
      "-o",
      "json",
    ],
    { env: { HOME: dir.path, FLOTILLA_DEMO_DIR: demoDir } },
  );
  const status = await start.exited;
  assert.equal(status.code, 0, start.output());
  state = JSON.parse(start.stdout.join("\n")) as DemoStateView;
  assert.equal(state.phase, "ready");
  assert.match(state.prometheusUrl ?? "", /^http:\/\/127\.0\.0\.1:\d+$/);

  // A task that always fails, with no retries: its executions end FAILED.
  const failing = join(dir.path, "fails.yaml");
  await writeFile(
    failing,
    [
      "kind: Task",
      "name: fails.step",
      "container:",
      "  image: busybox:1.36",
      "  command: [sh, -c]",
      "  args: ['echo broken >&2; exit 3']",
      "---",
      "kind: Workflow",
      "name: fails",
      "nodes:",
      "  - {id: step, task: fails.step}",
      "",
    ].join("\n"),
  );
  for (const project of ["ml", "payments"]) {
    const reg = await flotctl(
      "register",
      "files",
      failing,
      "--version",
      "e2e",
      "-p",
      project,
      "-d",
      "development",
    );
    assert.equal(reg.code, 0, reg.stderr);
  }

  runStartedAt = Date.now();
  const runs: Array<{ project: string; name: string; target: string[]; ok: boolean }> = [
    ...[0, 1, 2].map((i) => ({
      project: "ml",
      name: `hello-${i}`,
      target: ["--launch-plan", "hello-world-lp"],
      ok: true,
    })),
    { project: "ml", name: "flaky-0", target: ["--launch-plan", "flaky-lp"], ok: true },
    ...[0, 1].map((i) => ({
      project: "ml",
      name: `warehouse-${i}`,
      target: ["--launch-plan", "warehouse-report-lp", "--inputs", `day=2026-12-0${i + 1}`],
      ok: true,
    })),
    { project: "ml", name: "fails-0", target: ["--workflow", "fails"], ok: false },
    { project: "payments", name: "pay-hello-0", target: ["--launch-plan", "hello-world-lp"], ok: true },
    { project: "payments", name: "pay-flaky-0", target: ["--launch-plan", "flaky-lp"], ok: true },
    { project: "payments", name: "pay-fails-0", target: ["--workflow", "fails"], ok: false },
  ];
  for (const r of runs) {
    const c = await flotctl(
      "create",
      "execution",
      "-p",
      r.project,
      "-d",
      "development",
      ...r.target,
      "--name",
      r.name,
    );
    assert.equal(c.code, 0, c.stderr);
  }
  await Promise.all(
    runs.map(async (r) => {
      const w = await flotctl(
        "watch",
        "execution",
        r.name,
        "-p",
        r.project,
        "-d",
        "development",
        "--timeout",
        "120s",
      );
      if (r.ok) assert.equal(w.code, 0, `${r.name}: ${w.stdout}\n${w.stderr}`);
      else
        assert.match(
          w.stdout,
          new RegExp(`execution ${r.name} FAILED`),
          `${r.name}: ${w.stdout}\n${w.stderr}`,
        );
    }),
  );
  // Prometheus has scraped the outcomes of both projects.
  await eventually(
    async () => {
      const r = await prom<{ result: Array<{ metric: Record<string, string> }> }>("/api/v1/query", {
        query: 'sum by (project, phase) (flotilla_admin_executions_finished_total{domain="development"})',
      });
      const seen = r.data.result.map((s) => `${s.metric.project}:${s.metric.phase}`).sort();
      assert.deepEqual(seen, ["ml:FAILED", "ml:SUCCEEDED", "payments:FAILED", "payments:SUCCEEDED"]);
    },
    { timeout: 30_000, interval: 500, message: "Prometheus scraped the executions' outcomes" },
  );
});

after(async () => {
  if (state) {
    const stop = await flotctl("demo", "stop");
    assert.equal(stop.code, 0, stop.stderr);
    for (const c of state.components)
      if (c.pid) assert.throws(() => process.kill(c.pid!, 0), `${c.name} (pid ${c.pid}) still runs`);
  }
  await dir.cleanup();
});

test("Prometheus scrapes every component, and every service's /metrics passes promtool check metrics", async () => {
  const targets = await prom<{
    activeTargets: Array<{ labels: Record<string, string>; health: string; scrapeUrl: string }>;
  }>("/api/v1/targets", {});
  const seen = targets.data.activeTargets.map(
    (t) => `${t.labels.job}${t.labels.cluster ? `/${t.labels.cluster}` : ""}:${t.health}`,
  );
  assert.deepEqual(seen.sort(), [
    "flotilla-admin:up",
    "flotilla-propeller/east:up",
    "flotilla-propeller/secure:up",
    "flotilla-propeller/west:up",
    "flotilla-resource-manager:up",
  ]);
  for (const t of targets.data.activeTargets) {
    const text = await (await fetch(t.scrapeUrl)).text();
    const check = promisify(execFile)("promtool", ["check", "metrics"]);
    check.child.stdin!.end(text);
    const { stdout, stderr } = await check.catch((err: { stdout: string; stderr: string }) => ({
      stdout: `promtool failed: ${err.stdout}`,
      stderr: err.stderr,
    }));
    assert.equal(`${stdout}${stderr}`.trim(), "", `promtool check metrics on ${t.scrapeUrl}`);
  }
});

test("every dashboard panel query parses, names only scraped metrics, and returns data", async () => {
  const names = await exportedNames();
  const dashboards = await readGeneratedDashboards();
  assert.equal(dashboards.size, DASHBOARDS.length, "every dashboard of the catalog is generated");
  const end = Date.now() / 1000;
  const start = runStartedAt / 1000 - 5;
  const unparsed: string[] = [];
  const unknown: string[] = [];
  /** Whether any query of each panel (`dashboard / panel`) returned a sample. */
  const panelHasData = new Map<string, boolean>();
  for (const json of dashboards.values()) {
    for (const q of panelQueries(json)) {
      const panel = `${q.dashboard} / ${q.panel}`;
      const expr = expand(q.expr, Math.ceil(end - start));
      const r = await prom<Matrix>("/api/v1/query_range", {
        query: expr,
        start: String(start),
        end: String(end),
        step: "2",
      });
      panelHasData.set(panel, panelHasData.get(panel) ?? false);
      if (r.status !== "success") {
        unparsed.push(`${panel} [${q.refId}]: ${r.errorType}: ${r.error} — ${expr}`);
        continue;
      }
      for (const m of metricNames(q.expr)) if (!names.has(m)) unknown.push(`${panel}: ${m}`);
      if (r.data.result.some((s) => s.values.some(([, v]) => v !== "NaN"))) panelHasData.set(panel, true);
    }
  }
  assert.deepEqual(unparsed, [], "queries Prometheus refuses");
  assert.deepEqual(unknown, [], "metrics no component exports");
  const noData = [...panelHasData].filter(([, has]) => !has).map(([p]) => p);
  assert.deepEqual(
    noData.filter((p) => !(p in NO_DATA_EXPECTED)),
    [],
    "panels without data that NO_DATA_EXPECTED does not explain",
  );
  for (const p of Object.keys(NO_DATA_EXPECTED))
    assert.ok(panelHasData.has(p), `NO_DATA_EXPECTED names a panel that exists: ${p}`);
  console.log(`${panelHasData.size} panels checked; without data: ${noData.join("; ") || "none"}`);
});

test("every template variable lists values from scraped metrics", async () => {
  const names = await exportedNames();
  for (const json of (await readGeneratedDashboards()).values()) {
    for (const v of variableQueries(json)) {
      const m = /^label_values\((\w+)(\{.*\})?,\s*(\w+)\)$/.exec(v.query);
      assert.ok(m, `${v.dashboard} $${v.variable}: ${v.query} is label_values(metric, label)`);
      const [, metric, selector = "", label] = m;
      assert.ok(names.has(metric), `${v.dashboard} $${v.variable}: ${metric} is scraped`);
      const r = await prom<string[]>(`/api/v1/label/${label}/values`, {
        "match[]": `${metric}${expand(selector, 60)}`,
      });
      assert.equal(r.status, "success", `${v.dashboard} $${v.variable}: ${r.error}`);
      assert.ok(r.data.length > 0, `${v.dashboard} $${v.variable} has values`);
    }
  }
});

test("every alert expression parses, names only scraped metrics, and Prometheus evaluates every rule", async () => {
  const names = await exportedNames();
  names.add("up");
  const files = (await readdir(ALERTS_DIR)).filter((f) => f.endsWith(".yaml"));
  const rules = (
    await Promise.all(files.map(async (f) => alertRules(await readFile(join(ALERTS_DIR, f), "utf8"))))
  ).flat();
  assert.ok(rules.length >= 10);
  for (const rule of rules) {
    const r = await prom<unknown>("/api/v1/query", { query: rule.expr });
    assert.equal(r.status, "success", `${rule.alert}: ${r.errorType}: ${r.error}`);
    for (const m of metricNames(rule.expr))
      assert.ok(names.has(m), `${rule.alert} reads ${m}, which is not scraped`);
  }
  // The demo's Prometheus loaded the same rules and evaluated each without an error; none fires.
  await eventually(
    async () => {
      const loaded = await prom<{
        groups: Array<{ rules: Array<{ name: string; health: string; state: string }> }>;
      }>("/api/v1/rules", { type: "alert" });
      const all = loaded.data.groups.flatMap((g) => g.rules);
      assert.deepEqual(all.map((r) => r.name).sort(), rules.map((r) => r.alert).sort());
      assert.deepEqual(
        all.filter((r) => r.health !== "ok"),
        [],
      );
      assert.deepEqual(
        all.filter((r) => r.state === "firing").map((r) => r.name),
        [],
      );
    },
    { timeout: 10_000, interval: 500, message: "rules evaluated" },
  );
});

test("a propeller restarted on a new port is scraped there: the supervisor rewrites the discovered targets", async () => {
  const status = async () => {
    const r = await flotctl("demo", "status", "-o", "json");
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as DemoStateView;
  };
  const before = (await status()).components.find((c) => c.name === "propeller-west")!;
  process.kill(before.pid!, "SIGKILL");
  const restarted = await eventually(
    async () => {
      const now = (await status()).components.find((c) => c.name === "propeller-west")!;
      assert.equal(now.restarts, before.restarts + 1);
      assert.equal(now.phase, "running");
      assert.notEqual(now.url, before.url);
      return now;
    },
    { timeout: 60_000, interval: 500, message: "propeller-west restarted" },
  );
  await eventually(
    async () => {
      const targets = await prom<{
        activeTargets: Array<{ labels: Record<string, string>; health: string; scrapeUrl: string }>;
      }>("/api/v1/targets", {});
      const west = targets.data.activeTargets.filter((t) => t.labels.cluster === "west");
      assert.deepEqual(
        west.map((t) => `${t.scrapeUrl}:${t.health}`),
        [`${restarted.url}/metrics:up`],
      );
    },
    { timeout: 30_000, interval: 500, message: "Prometheus scrapes the restarted propeller" },
  );
});
