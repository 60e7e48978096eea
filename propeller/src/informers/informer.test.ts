// The informer against a sandbox API server: it waits for a resource whose CRD is not installed
// yet, says why, and syncs once the CRD appears.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { CustomObjectsApi } from "@kubernetes/client-node";
import { WorkflowExecutionResource as R } from "@flotilla/common";
import { captureLogger } from "@flotilla/runtime";
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
  const logger = captureLogger();
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
    logger,
  });
  let synced = false;
  const started = informer.start().then(() => (synced = true));
  try {
    const line = await eventually(() => {
      const first = logger.lines[0];
      assert.ok(first, "the failed list was logged");
      return first;
    });
    assert.equal(line.level, "warn");
    assert.equal(line.msg, "initial list failed; retrying");
    assert.equal(line.informer, "workflows");
    assert.equal(line.error, "404 Not Found: is the resource's CustomResourceDefinition installed?");
    // Full jitter: the first wait is drawn below the 50 ms minimum backoff.
    assert.ok(
      typeof line.retryInMs === "number" && line.retryInMs >= 0 && line.retryInMs <= 50,
      String(line.retryInMs),
    );
    assert.equal(synced, false);
    assert.match(informer.notSyncedReason() ?? "", /^informer workflows not synced: 404 Not Found/);
    await installCrd(kc);
    await started;
    assert.equal(informer.hasSynced(), true);
    assert.equal(informer.notSyncedReason(), undefined);
  } finally {
    await informer.stop();
  }
});
