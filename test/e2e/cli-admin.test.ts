// flotctl as a separate process against a flotilla-admin process: exit codes, help, completion,
// config file, registration and execution creation over the network.
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { repoRoot, spawnBin, tempDir, type SpawnedBin } from "@flotilla/testing";

const dir = tempDir({ prefix: "flotctl-e2e-" });
let admin: SpawnedBin;
let url: string;

before(async () => {
  const config = join(dir.path, "admin.yaml");
  await writeFile(
    config,
    `server: {host: 127.0.0.1, port: 0}\ndatabase: {dataDir: ${join(dir.path, "db")}}\nblobStore: {url: ${join(dir.path, "blobs")}}\n`,
  );
  admin = await spawnBin("flotilla-admin", ["--config", config], {
    readyLine: /listening on (http:\/\/\S+)/,
    timeout: 60_000,
  });
  url = admin.ready![1]!;
});
after(async () => {
  await admin?.stop();
});

async function flotctl(args: string[], env: Record<string, string> = {}) {
  const child = await spawnBin("flotctl", args, { env: { HOME: dir.path, FLOTILLA_ADMIN: url, ...env } });
  const status = await child.exited;
  return { code: status.code, stdout: child.stdout.join("\n"), stderr: child.stderr.join("\n") };
}

test("help lists the topics; unknown commands exit 2; completion scripts are generated", async () => {
  const help = await flotctl(["--help"]);
  assert.equal(help.code, 0);
  for (const topic of ["config", "create", "delete", "explain", "get", "register", "update", "watch"]) {
    assert.match(help.stdout, new RegExp(`^  ${topic}\\s`, "m"));
  }
  const cmdHelp = await flotctl(["get", "executions", "--help"]);
  assert.match(cmdHelp.stdout, /EXAMPLES/);
  assert.match(cmdHelp.stdout, /--details/);
  const unknown = await flotctl(["nope", "-o", "json"]);
  assert.equal(unknown.code, 2);
  assert.equal((JSON.parse(unknown.stdout) as { error: { code: string } }).error.code, "usage");
  const bash = await flotctl(["completion", "bash"]);
  assert.equal(bash.code, 0);
  assert.match(bash.stdout, /complete -F _flotctl flotctl/);
  assert.match(bash.stdout, /"get executions"\) flags="[^"]*--details/);
});

test("config init, then register and run through the admin", async () => {
  const init = await flotctl(["config", "init", "-p", "demo", "-d", "development", "--admin", url]);
  assert.equal(init.code, 0, init.stderr);
  const project = await flotctl(["create", "project", "demo"], { FLOTILLA_ADMIN: "" });
  assert.equal(project.code, 0, project.stderr);
  const reg = await flotctl([
    "register",
    "files",
    join(repoRoot, "examples", "hello-world.yaml"),
    "--version",
    "v1",
  ]);
  assert.equal(reg.code, 0, reg.stderr);
  assert.match(reg.stdout, /LaunchPlan\s+hello-world-lp\s+v1\s+registered/);
  const run = await flotctl([
    "create",
    "execution",
    "--launchplan",
    "hello-world-lp",
    "--name",
    "hello-e2e",
    "-o",
    "json",
  ]);
  assert.equal(run.code, 0, run.stderr);
  assert.equal((JSON.parse(run.stdout) as { name: string }).name, "hello-e2e");
  const get = await flotctl(["get", "executions", "hello-e2e", "-o", "yaml"]);
  assert.equal(get.code, 0, get.stderr);
  assert.match(get.stdout, /name: hello-e2e/);
});
