// The demo's Prometheus pieces without a federation: the configuration it writes is one that
// `promtool check config` accepts (rule files included), the scrape targets follow the
// components' endpoints, and `demo start --prometheus` without the binary refuses before starting
// anything. The whole demo with Prometheus runs in test/e2e/prometheus.test.ts.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { access, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";
import { tempDir } from "@flotilla/testing";
import { runCli } from "../testing/harness.js";
import { demoLayout } from "./layout.js";
import {
  alertRuleFiles,
  findPrometheus,
  prometheusConfigYaml,
  scrapeTargets,
  writeScrapeTargets,
} from "./prometheus.js";
import { ComponentPhase, type ComponentState } from "./state.js";

const dir = tempDir({ prefix: "flotilla-demo-prometheus-" });

const running = (name: string, url?: string): ComponentState => ({
  name,
  phase: ComponentPhase.running,
  restarts: 0,
  log: `/logs/${name}.log`,
  ...(url ? { url } : {}),
});

test("scrape targets: one job per component kind, propellers labelled with their cluster, no target without an endpoint", () => {
  const targets = scrapeTargets([
    running("sandbox", "http://127.0.0.1:1 http://127.0.0.1:2"),
    running("admin", "http://127.0.0.1:8088"),
    running("resource-manager", "http://127.0.0.1:8089"),
    running("propeller-east", "http://127.0.0.1:40001"),
    running("propeller-west"),
  ]);
  assert.deepEqual(Object.fromEntries(targets), {
    "flotilla-admin": [{ targets: ["127.0.0.1:8088"], labels: {} }],
    "flotilla-propeller": [{ targets: ["127.0.0.1:40001"], labels: { cluster: "east" } }],
    "flotilla-resource-manager": [{ targets: ["127.0.0.1:8089"], labels: {} }],
  });
});

test("promtool check config accepts the demo's configuration with Flotilla's alert rules", async () => {
  const layout = demoLayout(join(dir.path, "config"));
  await writeScrapeTargets(layout, [
    running("admin", "http://127.0.0.1:8088"),
    running("propeller-east", "http://127.0.0.1:1"),
  ]);
  const rules = await alertRuleFiles();
  assert.ok(rules.length > 0);
  await writeFile(layout.prometheusConfig, prometheusConfigYaml(layout, rules));
  const { stdout } = await promisify(execFile)("promtool", ["check", "config", layout.prometheusConfig]);
  assert.match(stdout, /SUCCESS: .*prometheus\.yml is valid prometheus config file syntax/);
  assert.match(stdout, /SUCCESS: \d+ rules found/);
  const propellers = JSON.parse(
    await readFile(join(layout.prometheusTargetsDir, "flotilla-propeller.json"), "utf8"),
  ) as unknown;
  assert.deepEqual(propellers, [{ targets: ["127.0.0.1:1"], labels: { cluster: "east" } }]);
});

test("findPrometheus looks on PATH only", async () => {
  assert.equal(await findPrometheus({ PATH: join(dir.path, "nothing-here") }), undefined);
  assert.match(
    (await findPrometheus({ PATH: `/nonexistent:${process.env.PATH ?? ""}` })) ?? "",
    /\/prometheus$/,
  );
});

test("demo start --prometheus without the binary exits non-zero naming it, and starts nothing", async () => {
  const demo = join(dir.path, "no-prometheus");
  const r = await runCli(
    ["demo", "start", "--dir", demo, "--prometheus", "--admin-port", "0", "--rm-port", "0"],
    {
      env: { PATH: join(dir.path, "empty-path") },
    },
  );
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /--prometheus needs the prometheus binary on PATH/);
  await assert.rejects(access(demoLayout(demo).stateFile), "no demo state was written");
});
