import assert from "node:assert/strict";
import { test } from "node:test";
import { Watch } from "@kubernetes/client-node";
import { WorkflowExecutionResource as R, executionNamespace } from "@flotilla/common";
import { aTask, aWorkflow } from "@flotilla/propeller";
import { WorkflowExecution_Phase } from "@flotilla/proto";
import { eventually, spawnBin } from "@flotilla/testing";
import { phasesByName, propellerEnv } from "./propeller-helpers.js";
import { adminPhase, createExecutions, registerClosure, startRealAdmin } from "./support/real-admin.js";

const NODES = 20_000;
const CHAINS = 400;
/** The sandbox API server's object size limit (etcd's 1.5 MiB). */
const OBJECT_LIMIT = 1_572_864;

test(`a ${NODES.toLocaleString("en")}-node workflow completes and no version of its CR exceeds 1.5 MiB`, async (t) => {
  const env = await propellerEnv("large");
  t.after(() => env.stop());
  const admin = await startRealAdmin({
    clusters: [{ name: "large", kubeconfig: env.cluster.kubeconfig }],
    settings: { registry: { maxWorkflowNodes: NODES } },
    t,
  });

  // 400 independent chains of 50 simulated tasks: the node map holds every node at once.
  const task = aTask("step").simulated("50ms").build();
  const wf = aWorkflow("large");
  for (let level = 0; level < NODES / CHAINS; level++) {
    for (let c = 0; c < CHAINS; c++)
      wf.withNode(`n${level}-${c}`, task, {}, level === 0 ? [] : [`n${level - 1}-${c}`]);
  }
  // Registered and run through the admin, which offloads a closure this size to the blob store.
  const workflowId = await registerClosure(admin.client, wf.closure());

  // An independent observer: every version of the CR the API server stores, as a watcher sees it.
  assert.ok(workflowId);
  const namespace = executionNamespace(workflowId.project, workflowId.domain);
  let largest = 0;
  let versions = 0;
  let watchError: unknown;
  const watching = await new Watch(env.kc).watch(
    `/apis/${R.group}/${R.version}/namespaces/${namespace}/${R.plural}`,
    { fieldSelector: "metadata.name=large" },
    (_type, obj: unknown) => {
      versions++;
      largest = Math.max(largest, Buffer.byteLength(JSON.stringify(obj)));
    },
    (err: unknown) => {
      if (err) watchError = err;
    },
  );
  t.after(() => watching.abort());

  const propeller = await spawnBin(
    "flotilla-propeller",
    [
      "--kubeconfig",
      env.kubeconfigPath,
      "--cluster-id",
      "large",
      "--admin-url",
      admin.url,
      "--metrics-port",
      "0",
    ],
    { readyLine: /propeller ready .*metrics=(\S+)/, t },
  );
  const metricsUrl = propeller.ready?.[1];
  assert.ok(metricsUrl, "the propeller printed its metrics URL");
  const [id] = await createExecutions(admin.client, workflowId, ["large"]);
  assert.ok(id);
  await eventually(async () => assert.equal((await phasesByName(env.kc)).get("large"), "PHASE_SUCCEEDED"), {
    // Well under the runner's 600 s per-test limit, so a slow run fails here with the phase
    // it reached instead of being cancelled without a message.
    timeout: 480_000,
    interval: 1_000,
  });

  // Every node's events reached the admin through its phase rules, and it recorded the outcome.
  await eventually(
    async () => assert.equal(await adminPhase(admin.client, id), WorkflowExecution_Phase.SUCCEEDED),
    { timeout: 60_000, interval: 1_000 },
  );
  assert.equal(watchError, undefined, "the watch ran to the end");
  assert.ok(versions > 10, `the watch saw the CR change (${versions} versions)`);
  t.diagnostic(
    `largest CR version: ${largest} bytes (${(largest / NODES).toFixed(1)} bytes/node) over ${versions} versions`,
  );
  assert.ok(largest < OBJECT_LIMIT, `largest CR version ${largest} bytes exceeds ${OBJECT_LIMIT}`);
  // The API server refuses larger objects anyway; the propeller must size its writes itself, never
  // sending one the server refuses (it would then force compression or offloading and retry).
  const metrics = await (await fetch(`${metricsUrl}/metrics`)).text();
  assert.match(metrics, /^# TYPE flotilla_propeller_cr_too_large_total counter$/m);
  const tooLarge = /^flotilla_propeller_cr_too_large_total\{[^}]*\} (\d+)$/m.exec(metrics)?.[1] ?? "0";
  assert.equal(tooLarge, "0", "writes the API server refused as too large");
  assert.equal(env.cluster.apiServer.counters.duplicatePodCreates().length, 0, "no pod was created twice");
});
