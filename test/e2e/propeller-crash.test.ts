import assert from "node:assert/strict";
import { test } from "node:test";
import { aTask, aWorkflow, anExecutionSpec, RecordingAdmin } from "@flotilla/propeller";
import { NodeExecution_Phase, WorkflowExecution_Phase } from "@flotilla/proto";
import { eventually, spawnBin } from "@flotilla/testing";
import { createAll, phasesByName, propellerEnv } from "./propeller-helpers.js";

test("kill -9 the propeller during a 50-workflow run: after a restart all complete with zero duplicate pods", async (t) => {
  const env = await propellerEnv("crash");
  t.after(() => env.stop());
  const admin = new RecordingAdmin();
  const adminUrl = await admin.listen();
  t.after(() => admin.close());
  const args = [
    "--kubeconfig",
    env.kubeconfigPath,
    "--cluster-id",
    "crash",
    "--admin-url",
    adminUrl,
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
  const names = Array.from({ length: 50 }, (_, i) => `crash-${i}`);
  await createAll(
    env,
    names.map((name) => anExecutionSpec({ name, closure, blobRoot: env.blobRoot })),
  );

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
  // the admin ends up with every workflow and every node in its final phase.
  await eventually(() => {
    for (const n of names) {
      assert.equal(admin.workflowPhases(n).at(-1), WorkflowExecution_Phase.SUCCEEDED, n);
      const succeededNodes = new Set(
        admin.events.flatMap((e) =>
          e.event.case === "nodeEvent" &&
          e.event.value.id?.executionId?.name === n &&
          e.event.value.phase === NodeExecution_Phase.SUCCEEDED
            ? [e.event.value.id.nodeId]
            : [],
        ),
      );
      assert.equal(succeededNodes.size, 5, `${n}: every node's SUCCEEDED event reached the admin`);
    }
  });
});
