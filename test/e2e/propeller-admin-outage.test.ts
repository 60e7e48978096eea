import assert from "node:assert/strict";
import { test } from "node:test";
import { aTask, aWorkflow, anExecutionSpec, RecordingAdmin } from "@flotilla/propeller";
import { WorkflowExecution_Phase, type Event } from "@flotilla/proto";
import { eventually, spawnBin } from "@flotilla/testing";
import { createAll, phasesByName, propellerEnv } from "./propeller-helpers.js";

/** The deliberate outage length: the scenario itself, not a wait for a condition. */
const OUTAGE_MS = 30_000;

/** How long the stand-in may take to get its port back after the outage. */
const RELISTEN_TIMEOUT_MS = 10_000;

/**
 * Whether phase versions arrived as 1, 2, 3, ... in arrival order: the propeller ships each
 * execution's events in order, so a gap or a swap is a delivery bug.
 */
function deliveredInOrder(versions: number[]): boolean {
  return versions.every((v, i) => v === i + 1);
}

test("stop the admin for 30 s mid-run: buffered events arrive afterwards and every log is gap-free", async (t) => {
  const env = await propellerEnv("outage");
  t.after(() => env.stop());
  const admin = new RecordingAdmin();
  const adminUrl = await admin.listen();
  const port = Number(new URL(adminUrl).port);
  t.after(() => admin.close());
  await spawnBin(
    "flotilla-propeller",
    [
      "--kubeconfig",
      env.kubeconfigPath,
      "--cluster-id",
      "outage",
      "--admin-url",
      adminUrl,
      "--no-leader-election",
    ],
    { readyLine: /propeller ready/, t },
  );
  const task = aTask("step").simulated("1s").build();
  const closure = aWorkflow("chain")
    .withNode("a", task)
    .withNode("b", task, {}, ["a"])
    .withNode("c", task, {}, ["b"])
    .withNode("d", task, {}, ["c"])
    .closure();
  const names = Array.from({ length: 10 }, (_, i) => `outage-${i}`);
  await createAll(
    env,
    names.map((name) => anExecutionSpec({ name, closure, blobRoot: env.blobRoot })),
  );
  await eventually(() => {
    for (const n of names) assert.deepEqual(admin.workflowPhases(n), [WorkflowExecution_Phase.RUNNING], n);
  });

  await admin.close();
  const seenAtOutage = admin.events.length;
  const outage = new Promise((resolve) => setTimeout(resolve, OUTAGE_MS));
  // The propeller keeps driving workflows while the admin is away.
  await eventually(
    async () => {
      const phases = await phasesByName(env.kc);
      for (const n of names) assert.equal(phases.get(n), "PHASE_SUCCEEDED", n);
    },
    { timeout: OUTAGE_MS - 2_000, interval: 500 },
  );
  assert.equal(admin.events.length, seenAtOutage, "nothing was delivered during the outage");
  await outage;
  // The propeller knows the admin by this URL, so the stand-in comes back on the same port; a
  // connection of this machine may hold it for a moment (EADDRINUSE), hence the retries.
  await eventually(() => admin.listen(port), { timeout: RELISTEN_TIMEOUT_MS, interval: 200 });

  await eventually(
    () => {
      for (const n of names) {
        assert.deepEqual(
          admin.workflowPhases(n),
          [
            WorkflowExecution_Phase.RUNNING,
            WorkflowExecution_Phase.SUCCEEDING,
            WorkflowExecution_Phase.SUCCEEDED,
          ],
          n,
        );
      }
    },
    { timeout: 30_000, interval: 200 },
  );
  const ofExecution = (e: Event, n: string): boolean =>
    (e.event.case === "nodeEvent" && e.event.value.id?.executionId?.name === n) ||
    (e.event.case === "taskEvent" && e.event.value.id?.nodeExecutionId?.executionId?.name === n);
  for (const n of names) {
    const events = admin.events.filter((e) => ofExecution(e, n));
    for (const node of ["a", "b", "c", "d"]) {
      const nodeVersions = events.flatMap((e) =>
        e.event.case === "nodeEvent" && e.event.value.id?.nodeId === node ? [e.event.value.phaseVersion] : [],
      );
      assert.ok(
        nodeVersions.length >= 2 && deliveredInOrder(nodeVersions),
        `${n}/${node} node events ${nodeVersions.join(",")}`,
      );
      const taskVersions = events.flatMap((e) =>
        e.event.case === "taskEvent" && e.event.value.id?.nodeExecutionId?.nodeId === node
          ? [e.event.value.phaseVersion]
          : [],
      );
      assert.ok(
        taskVersions.length >= 2 && deliveredInOrder(taskVersions),
        `${n}/${node} task events ${taskVersions.join(",")}`,
      );
    }
  }
  assert.equal(admin.duplicates, 0, "no event had to be re-sent after an acknowledged delivery");
});
