// The product as a user meets it: `flotctl demo start --detach` brings up the whole federation as
// separate processes (sandbox clusters east, west and secure, admin and resource manager on
// PGlite, a propeller per cluster); every step below is another process — flotctl for the
// control plane, kubectl against each cluster — exactly as from a second shell.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { promisify } from "node:util";
import { eventually, scrapeMetric, spawnBin, tempDir } from "@flotilla/testing";

const run = promisify(execFile);
const dir = tempDir({ prefix: "flotilla-demo-e2e-" });
const demoDir = join(dir.path, "demo");

/** The parts of `demo status -o json` / `demo start -o json` the tests read. */
interface DemoStateView {
  running?: boolean;
  alreadyRunning?: boolean;
  pid: number;
  phase: string;
  adminUrl: string;
  kubeconfig: string;
  readyAfterMs?: number;
  launchPlans: string[];
  components: Array<{ name: string; phase: string; pid?: number; restarts: number }>;
}

let state: DemoStateView;

async function flotctl(...args: string[]) {
  const child = await spawnBin("flotctl", args, {
    env: { HOME: dir.path, FLOTILLA_DEMO_DIR: demoDir, FLOTILLA_ADMIN: state?.adminUrl ?? "" },
  });
  const status = await child.exited;
  return { code: status.code, stdout: child.stdout.join("\n"), stderr: child.stderr.join("\n") };
}

/** `flotctl ... -o json` in project/domain, parsed; fails the test on a non-zero exit. */
async function flotctlJson<T>(...args: string[]): Promise<T> {
  const r = await flotctl(...args, "-o", "json");
  assert.equal(r.code, 0, `flotctl ${args.join(" ")}: ${r.stdout}\n${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

/** Names of the WorkflowExecution CRs in `context`, as `namespace/name`, read with kubectl. */
async function crsIn(context: string): Promise<string[]> {
  const { stdout } = await run("kubectl", [
    "--kubeconfig",
    state.kubeconfig,
    "--context",
    context,
    "get",
    "workflowexecutions",
    "--all-namespaces",
    "-o",
    "json",
  ]);
  const list = JSON.parse(stdout) as { items: Array<{ metadata: { namespace: string; name: string } }> };
  return list.items.map((i) => `${i.metadata.namespace}/${i.metadata.name}`).sort();
}

interface ExecutionView {
  id: { name: string };
  closure: { phase: string; cluster?: string };
}

/** Every execution here is in domain development of `project`. */
const inDev = (project: string) => ["-p", project, "-d", "development"];

async function execution(project: string, name: string): Promise<ExecutionView> {
  return flotctlJson<ExecutionView>("get", "executions", name, ...inDev(project));
}

/** `get executions NAME --details -o json`. */
async function details<T>(project: string, name: string): Promise<T> {
  return flotctlJson<T>("get", "executions", name, ...inDev(project), "--details");
}

/** Creates execution `name` of `target` (`--launch-plan X` / `--workflow X`, inputs); fails the test if refused. */
async function createExecution(project: string, name: string, ...target: string[]): Promise<void> {
  const r = await flotctl("create", "execution", ...inDev(project), ...target, "--name", name);
  assert.equal(r.code, 0, r.stderr);
}

/** `watch execution NAME` until it ends (or `timeout`). */
async function watchExecution(project: string, name: string, timeout = "90s") {
  return flotctl("watch", "execution", name, ...inDev(project), "--timeout", timeout);
}

before(async () => {
  const start = await spawnBin(
    "flotctl",
    ["demo", "start", "--detach", "--admin-port", "0", "--rm-port", "0", "--timeout", "120s", "-o", "json"],
    { env: { HOME: dir.path, FLOTILLA_DEMO_DIR: demoDir } },
  );
  const status = await start.exited;
  assert.equal(status.code, 0, start.output());
  state = JSON.parse(start.stdout.join("\n")) as DemoStateView;
  assert.equal(state.phase, "ready");
  console.log(`demo ready after ${state.readyAfterMs} ms`);
});

after(async () => {
  if (!state) return;
  const stop = await flotctl("demo", "stop");
  assert.equal(stop.code, 0, stop.stderr);
  for (const c of state.components) {
    assert.throws(() => process.kill(c.pid!, 0), `${c.name} (pid ${c.pid}) still runs after demo stop`);
  }
  await dir.cleanup();
});

test("demo status lists every component running; a second start says it is already running", async () => {
  const status = await flotctlJson<DemoStateView>("demo", "status");
  assert.equal(status.running, true);
  assert.deepEqual(status.components.map((c) => `${c.name}:${c.phase}`).sort(), [
    "admin:running",
    "propeller-east:running",
    "propeller-secure:running",
    "propeller-west:running",
    "resource-manager:running",
    "sandbox:running",
  ]);
  const again = await flotctl("demo", "start", "--admin-port", "0", "--rm-port", "0");
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /already running .*supervisor pid \d+/);
  assert.match(again.stdout, new RegExp(`pid ${state.pid}\\b`));
  assert.ok(
    ["hello-world-lp", "warehouse-report-lp", "long-pipeline-lp"].every((lp) =>
      state.launchPlans.includes(lp),
    ),
  );
});

test("an example launch plan runs to SUCCEEDED; watch exits 0 and get executions shows outputs and cluster", async () => {
  await createExecution("ml", "hello-e2e", "--launch-plan", "hello-world-lp", "--inputs", "name=demo");
  const watch = await watchExecution("ml", "hello-e2e");
  assert.equal(watch.code, 0, watch.stdout + watch.stderr);
  assert.match(watch.stdout, /execution hello-e2e SUCCEEDED on (east|west)/);
  const view = await details<{ phase: string; cluster: string; outputs?: Record<string, unknown> }>(
    "ml",
    "hello-e2e",
  );
  assert.equal(view.phase, "SUCCEEDED");
  assert.deepEqual(view.outputs, { greeting: "hello demo" });
  assert.ok(["east", "west"].includes(view.cluster), view.cluster);
});

test("the branch-and-subworkflow example takes the branch its input selects; the admin shows the nested tree", async () => {
  interface NodeView {
    id: string;
    phase: string;
    children: NodeView[];
  }
  const tree = (nodes: NodeView[]): string[] =>
    nodes.flatMap((n) => [`${n.id}:${n.phase}`, ...tree(n.children)]);
  for (const [x, result, path] of [
    [20, 33, ["route.deep:SUCCEEDED", "route.deep.once:SUCCEEDED", "route.deep.twice:SUCCEEDED"]],
    [3, 14, ["route.shallow:SUCCEEDED"]],
  ] as const) {
    const name = `branch-${x}`;
    await createExecution("ml", name, "--workflow", "branch-and-subworkflow", "--inputs", `x=${x}`);
    const watch = await watchExecution("ml", name);
    assert.equal(watch.code, 0, watch.stdout + watch.stderr);
    const view = await details<{ outputs?: Record<string, unknown>; nodes: NodeView[] }>("ml", name);
    assert.deepEqual(view.outputs, { result });
    assert.deepEqual(tree(view.nodes), ["prep:SUCCEEDED", "route:SUCCEEDED", ...path]);
  }
});

test("isolation: payments runs only on secure, ml never there (kubectl against every cluster)", async () => {
  const runs = [
    ...Array.from({ length: 4 }, (_, i) => ({ project: "ml", name: `iso-ml-${i}` })),
    ...Array.from({ length: 2 }, (_, i) => ({ project: "payments", name: `iso-pay-${i}` })),
  ];
  for (const r of runs) await createExecution(r.project, r.name, "--launch-plan", "hello-world-lp");
  for (const r of runs) {
    const watch = await watchExecution(r.project, r.name);
    assert.equal(watch.code, 0, watch.stdout + watch.stderr);
  }
  const [east, west, secure] = await Promise.all(["east", "west", "secure"].map(crsIn));
  for (const r of runs) {
    const where = [east, west, secure].map((crs) => crs.includes(`${r.project}-development/${r.name}`));
    if (r.project === "payments")
      assert.deepEqual(where, [false, false, true], `${r.name} must run on secure only`);
    else assert.equal(where[2], false, `${r.name} must never run on secure`);
    assert.equal(where.filter(Boolean).length, 1, `${r.name} has exactly one CR`);
  }
  assert.ok(
    secure.every((cr) => cr.startsWith("payments-")),
    `secure holds only payments CRs: ${secure.join(", ")}`,
  );
  assert.ok(
    ![...east, ...west].some((cr) => cr.startsWith("payments-")),
    "no payments CR on a shared cluster",
  );
});

test("bad input: a failing command exits non-zero, names what is wrong, and stores nothing", async () => {
  const before = await flotctlJson<ExecutionView[]>("get", "executions", ...inDev("ml"));
  const unknownInput = await flotctl(
    "create",
    "execution",
    ...inDev("ml"),
    "--launch-plan",
    "hello-world-lp",
    "--inputs",
    "nmae=x",
    "-o",
    "json",
  );
  assert.notEqual(unknownInput.code, 0);
  assert.match(JSON.parse(unknownInput.stdout).error.message as string, /nmae/);
  const badSpec = join(dir.path, "bad.yaml");
  await writeFile(
    badSpec,
    ["kind: Workflow", "name: broken", "nodes:", "  - id: a", "    task: no.such.task", ""].join("\n"),
  );
  const register = await flotctl("register", "files", badSpec, "--version", "v1", ...inDev("ml"));
  assert.equal(register.code, 1);
  assert.match(
    register.stderr,
    new RegExp(`${badSpec.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:5:\\d+: .*no\\.such\\.task`),
  );
  const unknownLp = await flotctl("create", "execution", ...inDev("ml"), "--launch-plan", "nope");
  assert.notEqual(unknownLp.code, 0);
  assert.match(unknownLp.stderr, /nope/);
  const afterwards = await flotctlJson<ExecutionView[]>("get", "executions", ...inDev("ml"));
  assert.equal(afterwards.length, before.length);
});

test("terminate: delete execution aborts a running pipeline; watch reports ABORTED and exits non-zero", async () => {
  await createExecution("ml", "long-e2e", "--launch-plan", "long-pipeline-lp");
  await eventually(
    async () => assert.equal((await execution("ml", "long-e2e")).closure.phase, "PHASE_RUNNING"),
    {
      timeout: 60_000,
      interval: 500,
      message: "long-e2e running",
    },
  );
  const del = await flotctl("delete", "execution", "long-e2e", ...inDev("ml"), "--cause", "e2e");
  assert.equal(del.code, 0, del.stderr);
  const watch = await watchExecution("ml", "long-e2e", "60s");
  assert.notEqual(watch.code, 0, "watch exits non-zero for an aborted execution");
  assert.match(watch.stdout, /execution long-e2e ABORTED/);
});

test("a propeller killed mid-run is restarted by the supervisor and the workflow still completes", async () => {
  const spec = join(dir.path, "chain.yaml");
  await writeFile(
    spec,
    [
      "kind: Task",
      "name: chain.step",
      "inputs: {n: integer}",
      "outputs: {n: integer}",
      "container:",
      "  image: busybox:1.36",
      "  command: [sh, -c]",
      `  args: ['sleep 1; echo "{\\"n\\": $((FLOTILLA_INPUT_N + 1))}" > "$FLOTILLA_OUTPUTS_DIR/outputs.json"']`,
      "---",
      "kind: Workflow",
      "name: chain",
      "outputs: {n: {type: integer, from: c.n}}",
      "nodes:",
      "  - {id: a, task: chain.step, inputs: {n: 0}}",
      "  - {id: b, task: chain.step, inputs: {n: {from: a.n}}}",
      "  - {id: c, task: chain.step, inputs: {n: {from: b.n}}}",
      "",
    ].join("\n"),
  );
  const reg = await flotctl("register", "files", spec, "--version", "e2e", ...inDev("ml"));
  assert.equal(reg.code, 0, reg.stderr);
  await createExecution("ml", "chain-e2e", "--workflow", "chain");
  const cluster = await eventually(
    async () => {
      const e = await execution("ml", "chain-e2e");
      assert.equal(e.closure.phase, "PHASE_RUNNING");
      assert.ok(e.closure.cluster);
      return e.closure.cluster;
    },
    { timeout: 60_000, interval: 200, message: "chain-e2e running with a cluster" },
  );
  const before = await flotctlJson<DemoStateView>("demo", "status");
  const propeller = before.components.find((c) => c.name === `propeller-${cluster}`)!;
  process.kill(propeller.pid!, "SIGKILL");
  await eventually(
    async () => {
      const now = await flotctlJson<DemoStateView>("demo", "status");
      const restarted = now.components.find((c) => c.name === propeller.name)!;
      assert.equal(restarted.restarts, propeller.restarts + 1);
      assert.equal(restarted.phase, "running");
      assert.notEqual(restarted.pid, propeller.pid);
    },
    { timeout: 60_000, interval: 500, message: `${propeller.name} restarted` },
  );
  const watch = await watchExecution("ml", "chain-e2e", "120s");
  assert.equal(watch.code, 0, watch.stdout + watch.stderr);
  const view = await details<{ outputs?: Record<string, unknown> }>("ml", "chain-e2e");
  assert.deepEqual(view.outputs, { n: 3 });
});

test("costs: flotctl get costs and the admin's cost counters agree to the cent; a retried attempt is waste", async () => {
  await createExecution("ml", "flaky-cost-e2e", "--launchplan", "flaky-lp");
  const watch = await watchExecution("ml", "flaky-cost-e2e");
  assert.equal(watch.code, 0, watch.stdout + watch.stderr);
  const counter = async (name: string, cluster: string) =>
    Math.round((await scrapeMetric(state.adminUrl, name, { project: "ml", cluster })) * 1e6);
  interface Costs {
    groups: {
      cluster?: string;
      workflow?: string;
      cost: string;
      waste: string;
      costMicros: number;
      wasteMicros: number;
    }[];
  }
  // Other tests' executions may still finish meanwhile: compare a report taken between two equal
  // readings of the counters.
  await eventually(
    async () => {
      const clusters = ["east", "west"];
      const before = await Promise.all(
        clusters.map((c) => counter("flotilla_admin_task_cost_dollars_total", c)),
      );
      const report = await flotctlJson<Costs>("get", "costs", "-p", "ml", "--by", "cluster", "--since", "1d");
      const after = await Promise.all(
        clusters.map((c) => counter("flotilla_admin_task_cost_dollars_total", c)),
      );
      assert.deepEqual(after, before, "no attempt finished while reading");
      for (const [i, cluster] of clusters.entries()) {
        const g = report.groups.find((x) => x.cluster === cluster);
        assert.equal(g?.costMicros ?? 0, before[i], `${cluster}: report and counter, micro-dollars`);
        const cents = (Math.floor(((before[i] ?? 0) + 5000) / 10000) / 100).toFixed(2);
        assert.equal(g?.cost ?? "0.00", cents, `${cluster}: to the cent`);
        const waste = await counter("flotilla_admin_task_waste_dollars_total", cluster);
        assert.equal(g?.wasteMicros ?? 0, waste);
      }
    },
    { timeout: 30_000, interval: 500, message: "a quiet moment to compare report and counters" },
  );
  // The first attempt of the flaky task failed after 2 s: its whole cost is waste.
  const byWorkflow = await flotctlJson<Costs>(
    "get",
    "costs",
    "-p",
    "ml",
    "--by",
    "workflow",
    "--since",
    "1d",
  );
  const flaky = byWorkflow.groups.find((g) => g.workflow === "flaky");
  assert.ok(flaky && flaky.wasteMicros > 0 && flaky.wasteMicros <= flaky.costMicros, JSON.stringify(flaky));
  assert.notEqual(flaky.waste, "0.00", "the demo's prices make the wasted attempt show in cents");
});
