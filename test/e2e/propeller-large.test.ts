import assert from "node:assert/strict";
import { test } from "node:test";
import { Watch } from "@kubernetes/client-node";
import { WorkflowExecutionResource as R, executionNamespace } from "@flotilla/common";
import {
  RecordingAdmin,
  aTask,
  aWorkflow,
  anExecutionSpec,
  createExecution,
  offloadClosure,
} from "@flotilla/propeller";
import { eventually, spawnBin } from "@flotilla/testing";
import { phasesByName, propellerEnv } from "./propeller-helpers.js";

const NODES = 20_000;
const CHAINS = 400;
/** The sandbox API server's object size limit (etcd's 1.5 MiB). */
const OBJECT_LIMIT = 1_572_864;

test(`a ${NODES.toLocaleString("en")}-node workflow completes and no version of its CR exceeds 1.5 MiB`, async (t) => {
  const env = await propellerEnv("large");
  t.after(() => env.stop());
  const admin = new RecordingAdmin();
  const adminUrl = await admin.listen();
  t.after(() => admin.close());

  // 400 independent chains of 50 simulated tasks: the node map holds every node at once.
  const task = aTask("step").simulated("50ms").build();
  const wf = aWorkflow("large");
  for (let level = 0; level < NODES / CHAINS; level++) {
    for (let c = 0; c < CHAINS; c++)
      wf.withNode(`n${level}-${c}`, task, {}, level === 0 ? [] : [`n${level - 1}-${c}`]);
  }
  // A closure this size is referenced from the blob store, as the admin does for large ones.
  const spec = anExecutionSpec({ name: "large", closure: wf.closure(), blobRoot: env.blobRoot });
  await offloadClosure(spec, env.store, env.store.join(env.blobRoot, "closures", "large.pb"));

  // An independent observer: every version of the CR the API server stores, as a watcher sees it.
  const id = spec.executionId;
  assert.ok(id);
  const namespace = executionNamespace(id.project, id.domain);
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
      adminUrl,
      "--metrics-port",
      "0",
    ],
    { readyLine: /propeller ready .*metrics=(\S+)/, t },
  );
  const metricsUrl = propeller.ready?.[1];
  assert.ok(metricsUrl, "the propeller printed its metrics URL");
  await createExecution(env.kc, spec, { store: env.store });
  await eventually(async () => assert.equal((await phasesByName(env.kc)).get("large"), "PHASE_SUCCEEDED"), {
    // Well under the runner's 600 s per-test limit, so a slow run fails here with the phase
    // it reached instead of being cancelled without a message.
    timeout: 480_000,
    interval: 1_000,
  });

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
