// The alert rules are valid for Prometheus (`promtool check rules`), their unit tests pass
// (`promtool test rules`), and every alert has a unit test where it fires and one where it does
// not. promtool comes with the Debian package `prometheus` (installed by .ci/run).
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";
import { parse } from "yaml";
import { ALERT_TESTS_DIR, ALERTS_DIR } from "./paths.js";
import { alertRules } from "./queries.js";

const run = promisify(execFile);
const yamlIn = async (dir: string) =>
  (await readdir(dir)).filter((f) => f.endsWith(".yaml")).map((f) => join(dir, f));

test("promtool check rules accepts every rule file", async () => {
  const files = await yamlIn(ALERTS_DIR);
  assert.ok(files.length > 0);
  const { stdout } = await run("promtool", ["check", "rules", ...files]);
  assert.match(stdout, /SUCCESS: \d+ rules found/);
});

test("promtool test rules passes every unit test", async () => {
  const files = await yamlIn(ALERT_TESTS_DIR);
  assert.ok(files.length > 0);
  const { stdout } = await run("promtool", ["test", "rules", ...files]);
  assert.match(stdout, /SUCCESS/);
  assert.doesNotMatch(stdout, /FAILED/);
});

test("every alert has a unit test where it fires and one where it stays silent", async () => {
  const alerts = new Set<string>();
  for (const f of await yamlIn(ALERTS_DIR))
    for (const r of alertRules(await readFile(f, "utf8"))) alerts.add(r.alert);
  const fires = new Set<string>();
  const silent = new Set<string>();
  for (const f of await yamlIn(ALERT_TESTS_DIR)) {
    const doc = parse(await readFile(f, "utf8")) as {
      tests: Array<{ alert_rule_test?: Array<{ alertname: string; exp_alerts?: unknown[] }> }>;
    };
    for (const t of doc.tests)
      for (const a of t.alert_rule_test ?? []) (a.exp_alerts?.length ? fires : silent).add(a.alertname);
  }
  assert.ok(alerts.size >= 10);
  assert.deepEqual(
    [...alerts].filter((a) => !fires.has(a)),
    [],
    "alerts never tested firing",
  );
  assert.deepEqual(
    [...alerts].filter((a) => !silent.has(a)),
    [],
    "alerts never tested silent",
  );
});
