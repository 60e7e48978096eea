// flotctl against a real in-process admin (embedded PGlite, file blob store) on 127.0.0.1:0.
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { resolveAdminConfig, silentLogger, startAdmin, type RunningAdmin } from "@flotilla/admin";
import { tempDir } from "@flotilla/testing";
import { runCli } from "./testing/harness.js";

const examples = fileURLToPath(new URL("../../examples/", import.meta.url));
const dir = tempDir({ prefix: "flotctl-admin-" });
let admin: RunningAdmin;
let flags: string[];

before(async () => {
  const config = resolveAdminConfig(
    {
      server: { port: 0, host: "127.0.0.1" },
      database: { dataDir: join(dir.path, "db") },
      blobStore: { url: join(dir.path, "blobs") },
    },
    dir.path,
  );
  admin = await startAdmin(config, { logger: silentLogger });
  flags = ["--admin", admin.url, "-p", "flytesnacks", "-d", "development"];
});
after(async () => {
  await admin?.stop();
});

async function cli(argv: string[]) {
  return runCli([...argv, ...flags]);
}

test("register the examples, inspect them, run and terminate an execution", async () => {
  const project = await cli(["create", "project", "flytesnacks", "--domains", "development,production"]);
  assert.equal(project.code, 0, project.stderr);

  const reg = await cli(["register", "files", examples, "--version", "v1", "-o", "json"]);
  assert.equal(reg.code, 0, reg.stderr + reg.stdout);
  const registered = JSON.parse(reg.stdout) as Array<{ kind: string; name: string }>;
  assert.equal(registered.filter((r) => r.kind === "Workflow").length, 7);
  assert.ok(registered.some((r) => r.kind === "LaunchPlan" && r.name === "hello-world-lp"));

  // Identical content under the same version is a no-op success.
  const again = await cli(["register", "files", join(examples, "diamond.yaml"), "--version", "v1"]);
  assert.equal(again.code, 0, again.stderr);

  // Changed content under an existing version is refused, naming the file and line.
  const changed = join(dir.path, "diamond-changed.yaml");
  await writeFile(
    changed,
    (await readFile(join(examples, "diamond.yaml"), "utf8")).replace("plus: 100", "plus: 99"),
  );
  const conflict = await cli(["register", "files", changed, "--version", "v1", "-o", "json"]);
  assert.equal(conflict.code, 1);
  const err = (JSON.parse(conflict.stdout) as { error: { code: string; message: string } }).error;
  assert.equal(err.code, "already_exists");
  assert.match(err.message, /diamond-changed\.yaml:\d+:\d+: workflow diamond v1 is already registered/);

  const tasks = await cli(["get", "tasks"]);
  assert.equal(tasks.code, 0, tasks.stderr);
  assert.match(tasks.stdout, /diamond\.add\s+v1\s+container/);
  const dot = await cli(["get", "workflows", "diamond", "--version", "v1", "-o", "dot"]);
  assert.equal(dot.code, 0, dot.stderr);
  assert.match(dot.stdout, /^digraph "diamond" \{/);
  assert.match(dot.stdout, /"a" -> "b";/);
  assert.match(dot.stdout, /"c" -> "d";/);
  const lps = await cli(["get", "launchplans", "hello-world-lp", "--version", "v1"]);
  assert.equal(lps.code, 0, lps.stderr);
  assert.match(lps.stdout, /Inputs:\s+name: string = "world"/);

  const created = await cli([
    "create",
    "execution",
    "--workflow",
    "diamond",
    "--inputs",
    "x=3",
    "--name",
    "diamond-1",
    "-o",
    "json",
  ]);
  assert.equal(created.code, 0, created.stderr);
  assert.equal((JSON.parse(created.stdout) as { name: string }).name, "diamond-1");
  const retried = await cli([
    "create",
    "execution",
    "--workflow",
    "diamond",
    "--inputs",
    "x=3",
    "--name",
    "diamond-1",
    "-o",
    "json",
  ]);
  assert.equal((JSON.parse(retried.stdout) as { alreadyExisted: boolean }).alreadyExisted, true);

  const list = await cli(["get", "executions"]);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, /diamond-1\s+(QUEUED|UNDEFINED)\s+wf\/diamond:v1/);
  const details = await cli(["get", "executions", "diamond-1", "--details", "-o", "json"]);
  assert.equal(details.code, 0, details.stderr);
  assert.equal((JSON.parse(details.stdout) as { workflow: string }).workflow, "diamond:v1");

  const del = await cli(["delete", "execution", "diamond-1", "--cause", "test"]);
  assert.equal(del.code, 0, del.stderr);
  const after = await cli(["get", "executions", "diamond-1", "-o", "json"]);
  const phase = (JSON.parse(after.stdout) as { closure: { phase: string } }).closure.phase;
  assert.match(phase, /^PHASE_ABORT(ING|ED)$/);

  const missing = await cli(["get", "executions", "nope", "-o", "json"]);
  assert.equal(missing.code, 1);
  assert.equal((JSON.parse(missing.stdout) as { error: { code: string } }).error.code, "not_found");
});

test("a scheduled launch plan: activate a version, see its next firing, deactivate it", async () => {
  const project = await cli(["create", "project", "flytesnacks", "--domains", "development,production"]);
  assert.ok(project.code === 0 || /already/.test(project.stderr + project.stdout), project.stderr);
  const spec = join(dir.path, "nightly.yaml");
  await writeFile(
    spec,
    `kind: Task
name: nightly.run
inputs: {day: datetime}
outputs: {}
container: {image: busybox:1.36, command: ["true"]}
---
kind: Workflow
name: nightly
inputs: {day: datetime}
nodes: [{id: run, task: nightly.run, inputs: {day: {input: day}}}]
---
kind: LaunchPlan
name: nightly-lp
workflow: nightly
schedule: {cron: "30 2 * * *", timeZone: America/New_York, kickoffInput: day, catchUp: last}
`,
  );
  for (const version of ["v1", "v2"]) {
    const reg = await cli(["register", "files", spec, "--version", version]);
    assert.equal(reg.code, 0, reg.stderr + reg.stdout);
  }
  const none = await cli(["update", "launchplan", "nightly-lp"]);
  assert.equal(none.code, 2, "--activate or --deactivate is required");
  const unknown = await cli(["update", "launchplan", "nope", "--version", "v1", "--activate", "-o", "json"]);
  assert.equal(unknown.code, 1);
  assert.equal((JSON.parse(unknown.stdout) as { error: { code: string } }).error.code, "not_found");

  const activated = await cli(["update", "launchplan", "nightly-lp", "--activate"]);
  assert.equal(activated.code, 0, activated.stderr);
  assert.equal(
    activated.stdout,
    "launch plan nightly-lp version v2 is ACTIVE\n",
    "the latest version by default",
  );
  const table = await cli(["get", "schedules"]);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /nightly-lp\s+v2\s+30 2 \* \* \* \(America\/New_York\)\s+last\s+\S+/);
  const json = await cli(["get", "schedules", "nightly-lp", "-o", "json"]);
  const [schedule] = JSON.parse(json.stdout) as Array<{ nextFireAt: string; lastFireAt?: string }>;
  const next = new Date(schedule.nextFireAt);
  // 02:30 in New York is 06:30 or 07:30 UTC (or 07:00 on the spring-forward day).
  assert.ok([6, 7].includes(next.getUTCHours()), schedule.nextFireAt);
  assert.ok(next.getTime() > Date.now() && next.getTime() <= Date.now() + 25 * 3600_000);
  assert.equal(schedule.lastFireAt, undefined);

  const deactivated = await cli(["update", "launchplan", "nightly-lp", "--deactivate"]);
  assert.equal(deactivated.stdout, "launch plan nightly-lp version v2 is INACTIVE\n");
  assert.deepEqual(JSON.parse((await cli(["get", "schedules", "-o", "json"])).stdout), []);
  const again = await cli(["update", "launchplan", "nightly-lp", "--deactivate"]);
  assert.equal(again.code, 2, "no active version left to deactivate");
});
