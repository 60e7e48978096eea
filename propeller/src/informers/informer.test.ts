// The informer against a sandbox API server: it waits for a resource whose CRD is not installed
// yet, says why, and syncs once the CRD appears.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { CustomObjectsApi } from "@kubernetes/client-node";
import { WorkflowExecutionResource as R } from "@flotilla/common";
import { startCluster, type SandboxCluster } from "@flotilla/sandbox";
import { eventually } from "@flotilla/testing";
import { installCrd, kubeConfigFrom } from "../testing/cluster-fixtures.js";
import { ResilientInformer } from "./informer.js";

let cluster: SandboxCluster;

before(async () => {
  cluster = await startCluster({ name: "informer", kubelet: false });
});
after(async () => {
  await cluster?.stop();
});

test("an informer on a resource without its CRD logs the 404 with its cause, retries, and syncs once the CRD exists", async () => {
  const kc = kubeConfigFrom(cluster.kubeconfig);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const logs: string[] = [];
  const informer = new ResilientInformer({
    name: "workflows",
    kubeConfig: kc,
    path: `/apis/${R.group}/${R.version}/${R.plural}`,
    list: async () =>
      (await custom.listClusterCustomObject({ group: R.group, version: R.version, plural: R.plural })) as {
        items: [];
      },
    handlers: {},
    minBackoffMs: 50,
    maxBackoffMs: 200,
    log: (m) => logs.push(m),
  });
  let synced = false;
  const started = informer.start().then(() => (synced = true));
  try {
    await eventually(() =>
      assert.match(
        logs[0] ?? "",
        /^informer workflows: initial list failed \(404 Not Found: is the resource's CustomResourceDefinition installed\?\); retrying in 50 ms$/,
      ),
    );
    assert.equal(synced, false);
    await installCrd(kc);
    await started;
    assert.equal(informer.hasSynced(), true);
  } finally {
    await informer.stop();
  }
});
