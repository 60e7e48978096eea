import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { pathToFileURL } from "node:url";
import { CoreV1Api, CustomObjectsApi } from "@kubernetes/client-node";
import { Labels, WorkflowExecutionResource as R, openBlobStore } from "@flotilla/common";
import { NodeExecution_Phase, SimpleType, WorkflowExecution_Phase } from "@flotilla/proto";
import { startCluster, type SandboxCluster } from "@flotilla/sandbox";
import { eventually, tempDir, type TempDir } from "@flotilla/testing";
import { aTask, aWorkflow, anExecutionSpec, fromNode } from "../testing/builders.js";
import {
  createExecution,
  installCrd,
  kubeConfigFrom,
  readExecutionStatus,
} from "../testing/cluster-fixtures.js";
import { RecordingAdmin } from "../testing/recording-admin.js";
import { PROPELLER_FINALIZER } from "./round.js";
import { startPropeller, type Propeller } from "./propeller.js";

describe("propeller against a simulated sandbox cluster", () => {
  let cluster: SandboxCluster;
  let dir: TempDir;
  let admin: RecordingAdmin;
  let propeller: Propeller;
  let blobRoot: string;

  before(async () => {
    dir = tempDir({ prefix: "propeller-" });
    blobRoot = pathToFileURL(dir.path).href;
    cluster = await startCluster({ name: "sim", mode: "simulated" });
    await installCrd(kubeConfigFrom(cluster.kubeconfig));
    admin = new RecordingAdmin();
    propeller = await startPropeller({
      kubeconfig: cluster.kubeconfig,
      clusterId: "sim",
      admin: { transport: admin.transport },
      workers: 4,
      leaderElection: { leaseDurationMs: 3_000, renewDeadlineMs: 2_000, retryPeriodMs: 500 },
      heartbeatIntervalMs: 200,
      processMetrics: false,
    });
    await eventually(() => assert.ok(propeller.isLeader()), { timeout: 10_000 });
  });

  after(async () => {
    await propeller?.stop();
    await cluster?.stop();
    await dir?.cleanup();
  });

  test("a simulated diamond completes, events reach the admin and the CR is finalized", async () => {
    const t = aTask("sim")
      .withOutput("y", SimpleType.INTEGER)
      .withInput("x", SimpleType.INTEGER)
      .simulated("50ms")
      .build();
    const src = aTask("src").withOutput("y", SimpleType.INTEGER).simulated("50ms").build();
    const closure = aWorkflow("diamond")
      .withNode("a", src)
      .withNode("b", t, { x: fromNode("a", "y") })
      .withNode("c", t, { x: fromNode("a", "y") })
      .withNode("d", t, { x: fromNode("b", "y") }, ["c"])
      .withOutput("out", SimpleType.INTEGER, fromNode("d", "y"))
      .closure();
    const spec = anExecutionSpec({ name: "diamond1", closure, blobRoot });
    const kc = kubeConfigFrom(cluster.kubeconfig);
    const store = openBlobStore(blobRoot);
    const ns = await createExecution(kc, spec, { store });

    const status = await eventually(
      async () => {
        const { status } = await readExecutionStatus(kc, ns, "diamond1", store);
        assert.equal(status?.phase, WorkflowExecution_Phase.SUCCEEDED);
        return status;
      },
      { timeout: 20_000, interval: 100 },
    );
    for (const id of ["a", "b", "c", "d"])
      assert.equal(status.nodes[id]?.phase, NodeExecution_Phase.SUCCEEDED, id);
    assert.ok(await store.exists(status.outputsUri), "workflow outputs written");

    await eventually(
      async () => {
        const { object } = await readExecutionStatus(kc, ns, "diamond1", store);
        const meta = object.metadata as { labels?: Record<string, string>; finalizers?: string[] };
        assert.equal(meta.labels?.[Labels.terminated], "true");
        assert.ok(!(meta.finalizers ?? []).includes(PROPELLER_FINALIZER));
      },
      { timeout: 10_000 },
    );
    await eventually(async () => {
      const pods = await kc.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: ns });
      assert.equal(pods.items.length, 0, "finished pods were deleted");
    });
    await eventually(() => {
      assert.deepEqual(admin.workflowPhases("diamond1"), [
        WorkflowExecution_Phase.RUNNING,
        WorkflowExecution_Phase.SUCCEEDING,
        WorkflowExecution_Phase.SUCCEEDED,
      ]);
      const nodeEvents = admin.events.filter(
        (e) => e.event.case === "nodeEvent" && e.event.value.id?.executionId?.name === "diamond1",
      );
      assert.equal(nodeEvents.length, 8);
    });
    assert.ok(admin.heartbeats.length > 0);
    assert.equal(admin.heartbeats.at(-1)?.cluster, "sim");
    const text = await propeller.metrics.registry.metrics();
    assert.match(text, /flotilla_propeller_pods_created_total\{cluster="sim"\} 4/);
    assert.match(text, /flotilla_propeller_rounds_total\{outcome="success",cluster="sim"\} \d+/);
  });

  test("deleting a running execution aborts it: pods deleted, ABORTED events, CR gone", async () => {
    const slow = aTask("slow").simulated("60s").build();
    const spec = anExecutionSpec({
      name: "abort1",
      closure: aWorkflow("w").withNode("t", slow).closure(),
      blobRoot,
      hasInputs: false,
    });
    const kc = kubeConfigFrom(cluster.kubeconfig);
    const ns = await createExecution(kc, spec);
    const core = kc.makeApiClient(CoreV1Api);
    await eventually(async () => {
      const pods = await core.listNamespacedPod({
        namespace: ns,
        labelSelector: `${Labels.execution}=abort1`,
      });
      assert.equal(pods.items.length, 1);
    });
    await kc.makeApiClient(CustomObjectsApi).deleteNamespacedCustomObject({
      group: R.group,
      version: R.version,
      plural: R.plural,
      namespace: ns,
      name: "abort1",
    });
    await eventually(
      async () => {
        const pods = await core.listNamespacedPod({
          namespace: ns,
          labelSelector: `${Labels.execution}=abort1`,
        });
        assert.equal(pods.items.length, 0);
        assert.deepEqual(admin.workflowPhases("abort1").slice(-2), [
          WorkflowExecution_Phase.ABORTING,
          WorkflowExecution_Phase.ABORTED,
        ]);
      },
      { timeout: 15_000 },
    );
    await eventually(async () => {
      await assert.rejects(
        kc.makeApiClient(CustomObjectsApi).getNamespacedCustomObject({
          group: R.group,
          version: R.version,
          plural: R.plural,
          namespace: ns,
          name: "abort1",
        }),
      );
    });
  });

  test("watch loss and a compacted history (410 Gone) are survived: the informers relist and rounds continue", async () => {
    const kc = kubeConfigFrom(cluster.kubeconfig);
    const store = openBlobStore(blobRoot);
    const task = aTask("t").simulated("50ms").build();
    const faults = cluster.apiServer.faults;
    // 1. Watches fail for a while: the informers restart with backoff.
    faults.setErrorRate(1, { verbs: ["watch"], resources: ["workflowexecutions"], code: 503 });
    faults.dropWatches();
    const ns = await createExecution(
      kc,
      anExecutionSpec({ name: "lost1", closure: aWorkflow("w").withNode("t", task).closure(), blobRoot }),
    );
    await eventually(async () => {
      assert.match(
        await propeller.metrics.registry.metrics(),
        /flotilla_propeller_informer_restarts_total\{informer="workflows",cluster="sim"\} [1-9]/,
      );
    });
    faults.reset();
    // 2. The history the watches would resume from is gone: resuming gets 410 and relists.
    const counters = cluster.apiServer.counters;
    const expiredBefore = counters.expiredWatches("workflowexecutions");
    const listsBefore = counters.requests("list", "workflowexecutions");
    faults.compact();
    faults.dropWatches();
    await createExecution(
      kc,
      anExecutionSpec({ name: "lost2", closure: aWorkflow("w").withNode("t", task).closure(), blobRoot }),
    );
    await eventually(() => {
      assert.ok(counters.expiredWatches("workflowexecutions") > expiredBefore, "a resumed watch got 410");
      assert.ok(counters.requests("list", "workflowexecutions") > listsBefore, "the informer relisted");
    });
    for (const name of ["lost1", "lost2"]) {
      await eventually(
        async () => {
          const { status } = await readExecutionStatus(kc, ns, name, store);
          assert.equal(status?.phase, WorkflowExecution_Phase.SUCCEEDED, name);
        },
        { timeout: 20_000, interval: 100 },
      );
    }
  });

  test("a workflow that cannot be executed (a cycle) fails with InvalidSpec and a FAILED event", async () => {
    const kc = kubeConfigFrom(cluster.kubeconfig);
    const store = openBlobStore(blobRoot);
    const t = aTask("t").simulated("50ms").build();
    const closure = aWorkflow("cyclic").withNode("a", t, {}, ["b"]).withNode("b", t, {}, ["a"]).closure();
    const ns = await createExecution(kc, anExecutionSpec({ name: "cyclic1", closure, blobRoot }));
    await eventually(
      async () => {
        const { status } = await readExecutionStatus(kc, ns, "cyclic1", store);
        assert.equal(status?.phase, WorkflowExecution_Phase.FAILED);
        assert.equal(status?.error?.code, "InvalidSpec");
        assert.match(status?.error?.message ?? "", /cycle/);
      },
      { timeout: 10_000 },
    );
    await eventually(() =>
      assert.deepEqual(admin.workflowPhases("cyclic1"), [WorkflowExecution_Phase.FAILED]),
    );
  });
});
