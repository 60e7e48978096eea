import assert from "node:assert/strict";
import { test } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { create } from "@bufbuild/protobuf";
import { aTask, aWorkflow, anExecutionSpec } from "@flotilla/propeller";
import { GetExecutionRequestSchema, WorkflowExecution_Phase } from "@flotilla/proto";
import { eventually, scrapeMetric } from "@flotilla/testing";
import { createAll, phasesByName, propellerEnv, spawnPropeller } from "./propeller-helpers.js";
import {
  adminPhase,
  createExecutions,
  eventLog,
  nodeEventVersions,
  registerClosure,
  startRealAdmin,
  workflowEventPhases,
} from "./support/real-admin.js";

test("events the real admin rejects are dropped once, never retried, and do not hold back the events queued behind them", async (t) => {
  const env = await propellerEnv("rejects");
  t.after(() => env.stop());
  const admin = await startRealAdmin({
    clusters: [{ name: "rejects", kubeconfig: env.cluster.kubeconfig }],
    t,
  });
  const { metricsUrl: propellerMetrics } = await spawnPropeller(env, "rejects", admin.url, t);
  const task = aTask("step").simulated("500ms").build();
  const closure = aWorkflow("pair").withNode("a", task).withNode("b", task, {}, ["a"]).closure();
  const workflowId = await registerClosure(admin.client, closure);

  // Workflows the admin never created — put on the cluster behind its back — run, and every event
  // about them is refused (ExecutionNotFound). Their events are queued first.
  const foreign = Array.from({ length: 5 }, (_, i) => `foreign-${i}`);
  await createAll(
    env,
    foreign.map((name) => anExecutionSpec({ name, closure, blobRoot: env.blobRoot })),
  );
  await eventually(async () =>
    assert.ok(
      (await scrapeMetric(propellerMetrics, "flotilla_propeller_events_total", { outcome: "rejected" })) > 0,
    ),
  );
  const names = Array.from({ length: 5 }, (_, i) => `known-${i}`);
  const ids = await createExecutions(admin.client, workflowId, names);

  await eventually(
    async () => {
      const phases = await phasesByName(env.kc);
      for (const n of [...foreign, ...names]) assert.equal(phases.get(n), "PHASE_SUCCEEDED", n);
      for (const id of ids)
        assert.equal(await adminPhase(admin.client, id), WorkflowExecution_Phase.SUCCEEDED, id.name);
    },
    { timeout: 60_000, interval: 300 },
  );
  for (const id of ids) {
    const log = await eventLog(admin.client, id);
    assert.deepEqual(
      workflowEventPhases(log),
      [
        WorkflowExecution_Phase.QUEUED,
        WorkflowExecution_Phase.RUNNING,
        WorkflowExecution_Phase.SUCCEEDING,
        WorkflowExecution_Phase.SUCCEEDED,
      ],
      id.name,
    );
    for (const node of ["a", "b"]) {
      const versions = nodeEventVersions(log, node);
      assert.ok(
        versions.length >= 2 && versions.every((v, i) => v === i + 1),
        `${id.name}/${node}: ${versions}`,
      );
    }
  }
  for (const name of foreign) {
    await assert.rejects(
      admin.client.getExecution(
        create(GetExecutionRequestSchema, {
          id: { project: workflowId?.project, domain: workflowId?.domain, name },
        }),
      ),
      (err: unknown) => err instanceof ConnectError && err.code === Code.NotFound,
      `the admin stored nothing of ${name}`,
    );
  }

  // Every refused event was sent exactly once: the buffer empties, and what the propeller counts as
  // rejected is what the admin counts as rejected, unchanged a while later (nothing re-sent).
  await eventually(async () =>
    assert.equal(
      await scrapeMetric(propellerMetrics, "flotilla_propeller_event_buffer_depth"),
      0,
      "buffer drained",
    ),
  );
  const rejectedBySender = () =>
    scrapeMetric(propellerMetrics, "flotilla_propeller_events_total", { outcome: "rejected" });
  const rejectedByAdmin = () => admin.metric("flotilla_admin_events_ingested_total", { outcome: "rejected" });
  const settled = await rejectedBySender();
  // 5 workflows × (workflow events + 2 nodes × (node + task events)): at least 3 + 2 × (2 + 2) each.
  assert.ok(settled >= foreign.length * 11, `rejected ${settled} events of the foreign workflows`);
  assert.equal(await rejectedByAdmin(), settled, "the admin refused each of them once");
  // One more workflow runs through to the end (the sender's loop keeps turning meanwhile) and
  // nothing new is refused on the way.
  const [late] = await createExecutions(admin.client, workflowId, ["known-late"]);
  assert.ok(late);
  await eventually(async () => {
    assert.equal(await adminPhase(admin.client, late), WorkflowExecution_Phase.SUCCEEDED);
    assert.equal(await scrapeMetric(propellerMetrics, "flotilla_propeller_event_buffer_depth"), 0);
  });
  assert.equal(await rejectedBySender(), settled, "no rejected event was sent again");
  assert.equal(await rejectedByAdmin(), settled);
  assert.equal(
    await scrapeMetric(propellerMetrics, "flotilla_propeller_events_total", { outcome: "duplicate" }),
    0,
    "nothing acknowledged was re-sent",
  );
});
