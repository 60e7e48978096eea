import assert from "node:assert/strict";
import { test } from "node:test";
import { makeInformer, CoreV1Api, type V1Pod } from "@kubernetes/client-node";
import { Labels } from "@flotilla/common";
import { aTask, aWorkflow, startPropeller } from "@flotilla/propeller";
import { startResourceManager } from "@flotilla/resource-manager";
import { eventually } from "@flotilla/testing";
import { phasesByName, propellerEnv } from "./propeller-helpers.js";
import { createExecutions, eventLog, registerClosure, startRealAdmin } from "./support/real-admin.js";

test("30 parallel tasks needing warehouse (limit 5) never run more than 5 at once and all complete", async (t) => {
  const env = await propellerEnv("tokens");
  t.after(() => env.stop());
  const rm = await startResourceManager({
    pools: [{ resource: "warehouse", limit: 5, defaultTtlMs: 30_000 }],
  });
  t.after(() => rm.stop());
  const admin = await startRealAdmin({
    clusters: [{ name: "tokens", kubeconfig: env.cluster.kubeconfig }],
    t,
  });
  const propeller = await startPropeller({
    kubeconfig: env.kc,
    clusterId: "tokens",
    admin: { url: admin.url },
    resourceManager: { url: rm.url },
    leaderElection: false,
    processMetrics: false,
    executor: { tokenPollMs: 200 },
  });
  t.after(() => propeller.stop());

  // Pod timelines: the last status seen of every task pod (pods are deleted once finished).
  const core = env.kc.makeApiClient(CoreV1Api);
  const selector = `${Labels.execution}=tokens1`;
  const seen = new Map<string, V1Pod>();
  const informer = makeInformer(
    env.kc,
    "/api/v1/pods",
    () => core.listPodForAllNamespaces({ labelSelector: selector }),
    selector,
  );
  const record = (p: V1Pod): void => {
    if (p.status?.containerStatuses?.[0]?.state?.terminated) seen.set(p.metadata?.name ?? "", p);
  };
  informer.on("add", record);
  informer.on("update", record);
  await informer.start();
  t.after(() => informer.stop());

  const task = aTask("query").needing("warehouse", 1).simulated("400ms").build();
  const wf = aWorkflow("fanout");
  for (let i = 0; i < 30; i++) wf.withNode(`q${i}`, task);
  const [id] = await createExecutions(admin.client, await registerClosure(admin.client, wf.closure()), [
    "tokens1",
  ]);
  assert.ok(id);

  await eventually(
    async () => {
      const phases = await phasesByName(env.kc);
      assert.equal(phases.get("tokens1"), "PHASE_SUCCEEDED");
    },
    { timeout: 60_000, interval: 250 },
  );
  await eventually(() => assert.equal(seen.size, 30, "every pod's final status was seen"));
  const edges: [number, number][] = [];
  for (const p of seen.values()) {
    const term = p.status?.containerStatuses?.[0]?.state?.terminated;
    assert.ok(term?.startedAt && term.finishedAt);
    edges.push([new Date(term.startedAt).getTime(), 1], [new Date(term.finishedAt).getTime(), -1]);
  }
  edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let running = 0;
  let peak = 0;
  for (const [, d] of edges) {
    running += d;
    peak = Math.max(peak, running);
  }
  assert.ok(peak <= 5, `at most 5 pods ran at once (saw ${peak})`);
  assert.ok(peak >= 2, `tasks did run in parallel (saw ${peak})`);
  // The wait reached the admin's stored log, with the queue position.
  const waited = (await eventLog(admin.client, id)).some(
    (s) =>
      s.event?.event.case === "nodeEvent" &&
      s.event.event.value.reason === "WaitingForTokens" &&
      s.event.event.value.message.includes("position"),
  );
  assert.ok(waited, "queued nodes reported their queue position");
  await eventually(async () => {
    const pool = await rm.manager.getPool("warehouse");
    assert.equal(pool.inUse, 0, "nothing is held by finished tasks");
    assert.equal(pool.queued, 0, "nothing is left waiting");
  });
  // The broker coalesced the round's concurrent acquires and releases into batch RPCs.
  const metrics = await (await fetch(`${rm.url}/metrics`)).text();
  for (const method of ["allocate_batch", "release_batch"]) {
    const m = new RegExp(`decision_duration_seconds_count\\{method="${method}"\\} (\\d+)`).exec(metrics);
    assert.ok(Number(m?.[1] ?? 0) > 0, `the resource manager decided ${method} calls`);
  }
});
