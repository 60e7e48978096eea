import assert from "node:assert/strict";
import { test } from "node:test";
import { staleFiles } from "./build.js";
import { buildFiles, DASHBOARDS } from "./catalog.js";
import { panelQueries } from "./queries.js";

test("the committed dashboards and provisioning files are exactly what the code builds", async () => {
  const files = buildFiles();
  assert.deepEqual(await staleFiles(files), [], "run npm run dashboards:build and commit the result");
});

test("the check names a changed, a missing and a left-over file", async () => {
  const files = buildFiles();
  files.set("generated/propeller.json", files.get("generated/propeller.json")!.replace("Rounds", "Laps"));
  files.set("generated/not-built-yet.json", "{}\n");
  files.delete("generated/routing.json");
  assert.deepEqual((await staleFiles(files)).sort(), [
    "generated/not-built-yet.json (missing)",
    "generated/propeller.json (differs)",
    "generated/routing.json (no dashboard builds it)",
  ]);
});

test("every dashboard has a unique uid, the shared template variables and only Prometheus panels", () => {
  const built = DASHBOARDS.map((d) => d.build().build());
  assert.equal(new Set(built.map((d) => d.uid)).size, built.length);
  const variables = (d: (typeof built)[number]) => (d.templating.list ?? []).map((v) => v.name);
  const byUid = new Map(built.map((d) => [d.uid, variables(d)]));
  assert.deepEqual(byUid.get("flotilla-propeller"), ["datasource", "cluster"]);
  assert.deepEqual(byUid.get("flotilla-routing"), ["datasource", "cluster"]);
  assert.deepEqual(byUid.get("flotilla-project"), ["datasource", "project", "domain", "cluster"]);
  assert.deepEqual(byUid.get("flotilla-resource-manager"), ["datasource", "project", "domain"]);
  assert.deepEqual(byUid.get("flotilla-cost"), ["datasource", "project", "domain", "cluster"]);
  for (const d of built) {
    const panels = (d.panels ?? []).flatMap((p) => ("description" in p && p.type !== "row" ? [p] : []));
    assert.ok(panels.length >= 6, `${d.title} has panels`);
    const titles = panels.map((p) => p.title);
    assert.deepEqual(
      titles.filter((t, i) => titles.indexOf(t) !== i),
      [],
      `${d.title}: panel titles are unique (the e2e names panels by them)`,
    );
    for (const p of panels) {
      assert.deepEqual(p.datasource, { type: "prometheus", uid: "${datasource}" }, `${d.title} / ${p.title}`);
      assert.ok(p.description, `${d.title} / ${p.title} explains itself`);
    }
    assert.ok(panelQueries(d).length >= panels.length, `${d.title}: every panel has a query`);
  }
});
