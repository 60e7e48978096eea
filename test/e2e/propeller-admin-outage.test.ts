import assert from "node:assert/strict";
import { test } from "node:test";
import { aTask, aWorkflow } from "@flotilla/propeller";
import { WorkflowExecution_Phase } from "@flotilla/proto";
import { eventually, scrapeMetric } from "@flotilla/testing";
import { phasesByName, propellerEnv, spawnPropeller } from "./propeller-helpers.js";
import {
  adminPhase,
  createExecutions,
  eventLog,
  nodeEventVersions,
  registerClosure,
  startRealAdmin,
  taskEventVersions,
  workflowEventPhases,
} from "./support/real-admin.js";

/** The deliberate outage length: the scenario itself, not a wait for a condition. */
const OUTAGE_MS = 30_000;

/**
 * Whether phase versions arrived as 1, 2, 3, ... in arrival order: the propeller ships each
 * execution's events in order, so a gap or a swap is a delivery bug.
 */
function deliveredInOrder(versions: number[]): boolean {
  return versions.every((v, i) => v === i + 1);
}

test("stop the real admin for 30 s mid-run: buffered events arrive afterwards and every stored log is gap-free", async (t) => {
  const env = await propellerEnv("outage");
  t.after(() => env.stop());
  const admin = await startRealAdmin({
    clusters: [{ name: "outage", kubeconfig: env.cluster.kubeconfig }],
    t,
  });
  const { metricsUrl: propellerMetrics } = await spawnPropeller(env, "outage", admin.url, t);
  const task = aTask("step").simulated("1s").build();
  const closure = aWorkflow("chain")
    .withNode("a", task)
    .withNode("b", task, {}, ["a"])
    .withNode("c", task, {}, ["b"])
    .withNode("d", task, {}, ["c"])
    .closure();
  const workflowId = await registerClosure(admin.client, closure);
  const names = Array.from({ length: 10 }, (_, i) => `outage-${i}`);
  const ids = await createExecutions(admin.client, workflowId, names);
  assert.equal(ids.length, names.length);
  await eventually(async () => {
    for (const id of ids)
      assert.equal(await adminPhase(admin.client, id), WorkflowExecution_Phase.RUNNING, id.name);
  });

  // A graceful stop: in-flight ingestion finishes, so nothing acknowledged is re-sent later.
  const stopped = await admin.stop("SIGTERM");
  assert.equal(stopped.code, 0, "the admin stopped cleanly");
  const outage = new Promise((resolve) => setTimeout(resolve, OUTAGE_MS));
  // The propeller keeps driving workflows while the admin is away.
  await eventually(
    async () => {
      const phases = await phasesByName(env.kc);
      for (const n of names) assert.equal(phases.get(n), "PHASE_SUCCEEDED", n);
    },
    { timeout: OUTAGE_MS - 2_000, interval: 500 },
  );
  assert.ok(
    (await scrapeMetric(propellerMetrics, "flotilla_propeller_event_buffer_depth")) > 0,
    "the propeller holds the events the admin could not take",
  );
  await outage;
  await admin.start();

  await eventually(
    async () => {
      for (const id of ids)
        assert.equal(await adminPhase(admin.client, id), WorkflowExecution_Phase.SUCCEEDED, id.name);
    },
    { timeout: 30_000, interval: 200 },
  );
  for (const id of ids) {
    const log = await eventLog(admin.client, id);
    assert.deepEqual(
      workflowEventPhases(log),
      [
        WorkflowExecution_Phase.QUEUED, // the admin's own, at creation
        WorkflowExecution_Phase.RUNNING,
        WorkflowExecution_Phase.SUCCEEDING,
        WorkflowExecution_Phase.SUCCEEDED,
      ],
      `${id.name} workflow events`,
    );
    for (const node of ["a", "b", "c", "d"]) {
      const nodeVersions = nodeEventVersions(log, node);
      assert.ok(
        nodeVersions.length >= 2 && deliveredInOrder(nodeVersions),
        `${id.name}/${node} node events ${nodeVersions.join(",")}`,
      );
      const taskVersions = taskEventVersions(log, node);
      assert.ok(
        taskVersions.length >= 2 && deliveredInOrder(taskVersions),
        `${id.name}/${node} task events ${taskVersions.join(",")}`,
      );
    }
  }
  await eventually(async () =>
    assert.equal(
      await scrapeMetric(propellerMetrics, "flotilla_propeller_event_buffer_depth"),
      0,
      "buffer drained",
    ),
  );
  const sent = (outcome: string) =>
    scrapeMetric(propellerMetrics, "flotilla_propeller_events_total", { outcome });
  assert.equal(await sent("rejected"), 0, "the admin's phase rules refused nothing");
  assert.equal(await sent("duplicate"), 0, "no event had to be re-sent after an acknowledged delivery");
  assert.ok((await sent("accepted")) >= ids.length * (3 + 4 * 4), "every event was accepted");
});
