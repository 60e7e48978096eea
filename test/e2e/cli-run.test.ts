// The whole flow through flotctl: a sandbox cluster running pods as processes, an admin routing
// to it, a propeller; flotctl (a separate process) registers the example specs, starts
// executions and watches them to their outcome.
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { resolveAdminConfig, silentLogger, startAdmin, type RunningAdmin } from "@flotilla/admin";
import { installCrd, kubeConfigFrom, startPropeller } from "@flotilla/propeller";
import { startCluster, type SandboxCluster } from "@flotilla/sandbox";
import { repoRoot, spawnBin, tempDir } from "@flotilla/testing";

const dir = tempDir({ prefix: "flotctl-run-" });
let cluster: SandboxCluster;
let admin: RunningAdmin;
let propeller: { stop(): Promise<void> };

before(async () => {
  cluster = await startCluster({ name: "sbx", mode: "process" });
  await installCrd(kubeConfigFrom(cluster.kubeconfig));
  const config = resolveAdminConfig(
    {
      server: { port: 0, host: "127.0.0.1" },
      database: { dataDir: join(dir.path, "db") },
      blobStore: { url: `file://${join(dir.path, "blobs")}` },
      clusters: [{ name: "sbx", kubeconfigInline: cluster.kubeconfig }],
    },
    {},
  );
  admin = await startAdmin(config, { logger: silentLogger });
  propeller = await startPropeller({
    kubeconfig: cluster.kubeconfig,
    clusterId: "sbx",
    admin: { url: admin.url },
    leaderElection: false,
    processMetrics: false,
  });
});
after(async () => {
  await propeller?.stop();
  await admin?.stop();
  await cluster?.stop();
});

async function flotctl(...args: string[]) {
  const child = await spawnBin(
    "flotctl",
    [...args, "--admin", admin.url, "-p", "demo", "-d", "development"],
    {
      env: { HOME: dir.path },
    },
  );
  const status = await child.exited;
  return { code: status.code, stdout: child.stdout.join("\n"), stderr: child.stderr.join("\n") };
}

test("examples registered with flotctl run to completion and watch exits with their outcome", async () => {
  assert.equal((await flotctl("create", "project", "demo")).code, 0);
  const examples = join(repoRoot, "examples");
  const reg = await flotctl(
    "register",
    "files",
    join(examples, "hello-world.yaml"),
    join(examples, "diamond.yaml"),
    join(examples, "retries.yaml"),
    "--version",
    "v1",
  );
  assert.equal(reg.code, 0, reg.stderr);

  const diamond = await flotctl(
    "create",
    "execution",
    "--workflow",
    "diamond",
    "--version",
    "v1",
    "--inputs",
    "x=3",
    "--name",
    "diamond-1",
  );
  assert.equal(diamond.code, 0, diamond.stderr);
  const watch = await flotctl("watch", "execution", "diamond-1", "--interval", "200ms", "--timeout", "90s");
  assert.equal(watch.code, 0, watch.stdout + watch.stderr);
  assert.match(watch.stdout, /execution diamond-1 SUCCEEDED on sbx/);
  const details = await flotctl("get", "executions", "diamond-1", "--details", "-o", "json");
  const view = JSON.parse(details.stdout) as {
    phase: string;
    cluster: string;
    nodes: Array<{ id: string; phase: string }>;
    outputs?: Record<string, unknown>;
  };
  // x=3: a=4, b=14, c=104, d=b*c.
  assert.deepEqual(view.outputs, { result: 1456 });
  assert.equal(view.phase, "SUCCEEDED");
  assert.equal(view.cluster, "sbx");
  assert.deepEqual(view.nodes.map((n) => `${n.id}:${n.phase}`).sort(), [
    "a:SUCCEEDED",
    "b:SUCCEEDED",
    "c:SUCCEEDED",
    "d:SUCCEEDED",
  ]);

  const hello = await flotctl("create", "execution", "--launchplan", "hello-world-lp", "--name", "hello-1");
  assert.equal(hello.code, 0, hello.stderr);
  const flaky = await flotctl("create", "execution", "--launchplan", "flaky-lp", "--name", "flaky-1");
  assert.equal(flaky.code, 0, flaky.stderr);
  const helloWatch = await flotctl(
    "watch",
    "execution",
    "hello-1",
    "--interval",
    "200ms",
    "--timeout",
    "90s",
  );
  assert.equal(helloWatch.code, 0, helloWatch.stdout + helloWatch.stderr);
  const flakyWatch = await flotctl(
    "watch",
    "execution",
    "flaky-1",
    "--interval",
    "200ms",
    "--timeout",
    "90s",
  );
  assert.equal(flakyWatch.code, 0, flakyWatch.stdout + flakyWatch.stderr);
  assert.match(flakyWatch.stdout, /node step attempt #0 (RETRYABLE_FAILED|FAILED)/);
  assert.match(flakyWatch.stdout, /node step attempt #1 SUCCEEDED/);

  // `simulate:` tasks run as simulated pods (no process) and produce zero-valued outputs.
  const simulated = join(dir.path, "simulated.yaml");
  await writeFile(
    simulated,
    [
      "kind: Task",
      "name: sim.step",
      "outputs: {n: integer}",
      "container: {image: flotilla/simulated:1}",
      "simulate: {duration: 300ms}",
      "---",
      "kind: Workflow",
      "name: sim",
      "outputs: {n: {type: integer, from: s.n}}",
      "nodes: [{id: s, task: sim.step}]",
    ].join("\n"),
  );
  assert.equal((await flotctl("register", "files", simulated, "--version", "v1")).code, 0);
  assert.equal((await flotctl("create", "execution", "--workflow", "sim", "--name", "sim-1")).code, 0);
  const simWatch = await flotctl("watch", "execution", "sim-1", "--interval", "200ms", "--timeout", "60s");
  assert.equal(simWatch.code, 0, simWatch.stdout + simWatch.stderr);
  const simOut = await flotctl("get", "executions", "sim-1", "--details", "-o", "json");
  assert.deepEqual((JSON.parse(simOut.stdout) as { outputs?: unknown }).outputs, { n: 0 });

  const explain = await flotctl("explain", "execution", "diamond-1");
  assert.equal(explain.code, 0, explain.stderr);
  assert.match(explain.stdout, /Chosen cluster:\s+sbx/);
  assert.match(explain.stdout, /sbx \*\s+yes/);
  const clusters = await flotctl("get", "clusters");
  assert.equal(clusters.code, 0, clusters.stderr);
  assert.match(clusters.stdout, /^sbx\s+ACTIVE/m);
  const cordon = await flotctl("update", "cluster", "sbx", "--cordon", "--reason", "maintenance");
  assert.equal(cordon.code, 0, cordon.stderr);
  assert.equal(cordon.stdout, "cluster sbx is CORDONED");
  const shown = await flotctl("get", "clusters", "sbx", "-o", "json");
  assert.equal((JSON.parse(shown.stdout) as { state: string }).state, "STATE_CORDONED");
  const uncordon = await flotctl("update", "cluster", "sbx", "--uncordon");
  assert.equal(uncordon.stdout, "cluster sbx is ACTIVE");
});
