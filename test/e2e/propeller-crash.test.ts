import assert from "node:assert/strict";
import { test } from "node:test";
import { aTask, aWorkflow } from "@flotilla/propeller";
import { NodeExecution_Phase, WorkflowExecution_Phase } from "@flotilla/proto";
import { eventually, spawnBin } from "@flotilla/testing";
import { phasesByName, propellerEnv } from "./propeller-helpers.js";
import {
  adminPhase,
  createExecutions,
  eventLog,
  registerClosure,
  startRealAdmin,
  workflowEventPhases,
} from "./support/real-admin.js";

test("kill -9 the propeller during a 50-workflow run: after a restart all complete in the real admin with zero duplicate pods", async (t) => {
  const env = await propellerEnv("crash");
  t.after(() => env.stop());
  const admin = await startRealAdmin({
    clusters: [{ name: "crash", kubeconfig: env.cluster.kubeconfig }],
    t,
  });
  const args = [
    "--kubeconfig",
    env.kubeconfigPath,
    "--cluster-id",
    "crash",
    "--admin-url",
    admin.url,
    "--lease-duration",
    "2s",
    "--workers",
    "16",
  ];

  const first = await spawnBin("flotilla-propeller", args, { readyLine: /propeller ready/, t });
  const task = aTask("step").simulated("300ms").build();
  const closure = aWorkflow("fan")
    .withNode("a", task)
    .withNode("b", task, {}, ["a"])
    .withNode("c", task, {}, ["a"])
    .withNode("d", task, {}, ["a"])
    .withNode("e", task, {}, ["b", "c", "d"])
    .closure();
  const workflowId = await registerClosure(admin.client, closure);
  const names = Array.from({ length: 50 }, (_, i) => `crash-${i}`);
  const ids = await createExecutions(admin.client, workflowId, names);

  // Kill it mid-run: some pods created, most workflows unfinished.
  await eventually(() => assert.ok(env.cluster.apiServer.counters.requests("create", "pods") >= 60), {
    timeout: 30_000,
  });
  const killed = await first.stop({ signal: "SIGKILL", grace: 0 });
  assert.equal(killed.signal, "SIGKILL");
  const before = await phasesByName(env.kc);
  assert.ok([...before.values()].filter((p) => p === "PHASE_SUCCEEDED").length < 50, "killed mid-run");

  await spawnBin("flotilla-propeller", args, { readyLine: /propeller ready/, t });
  await eventually(
    async () => {
      const phases = await phasesByName(env.kc);
      const done = names.filter((n) => phases.get(n) === "PHASE_SUCCEEDED");
      assert.equal(done.length, 50, `${done.length}/50 succeeded`);
    },
    { timeout: 120_000, interval: 500 },
  );
  assert.deepEqual(env.cluster.apiServer.counters.duplicatePodCreates(), [], "no pod was created twice");
  assert.equal(Object.keys(env.cluster.apiServer.counters.podCreateCounts()).length, 250, "one pod per node");
  // Events the killed process had buffered are re-created by the new one (current state replay):
  // the admin, applying its phase rules, ends up with every workflow and node in its final phase.
  await eventually(
    async () => {
      for (const id of ids) {
        assert.equal(await adminPhase(admin.client, id), WorkflowExecution_Phase.SUCCEEDED, id.name);
        const log = await eventLog(admin.client, id);
        const succeededNodes = new Set(
          log.flatMap((s) =>
            s.event?.event.case === "nodeEvent" && s.event.event.value.phase === NodeExecution_Phase.SUCCEEDED
              ? [s.event.event.value.id?.nodeId]
              : [],
          ),
        );
        assert.equal(succeededNodes.size, 5, `${id.name}: every node's SUCCEEDED event reached the admin`);
        const workflowPhases = workflowEventPhases(log);
        assert.equal(
          workflowPhases.filter((p) => p === WorkflowExecution_Phase.SUCCEEDED).length,
          1,
          `${id.name}: one SUCCEEDED in the stored log (${workflowPhases.join(",")})`,
        );
      }
    },
    { timeout: 60_000, interval: 500 },
  );
});
