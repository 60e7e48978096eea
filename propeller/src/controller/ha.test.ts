import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { pathToFileURL } from "node:url";
import { CoordinationV1Api } from "@kubernetes/client-node";
import { sleep } from "@flotilla/common";
import { startCluster, type SandboxCluster } from "@flotilla/sandbox";
import { eventually, tempDir, type TempDir } from "@flotilla/testing";
import { aTask, aWorkflow, anExecutionSpec } from "../testing/builders.js";
import {
  createExecution,
  installCrd,
  kubeConfigFrom,
  readExecutionStatus,
} from "../testing/cluster-fixtures.js";
import { RecordingAdmin } from "../testing/recording-admin.js";
import { startPropeller, type Propeller, type PropellerOptions } from "./propeller.js";
import { WorkflowExecution_Phase } from "@flotilla/proto";
import { CrNotFoundError, KubeWorkflowExecutions } from "./kube.js";

/** How often the replicas renew or campaign for the lease. */
const RETRY_PERIOD_MS = 200;

/** These small statuses are stored inline; reading a blob would be a bug. */
const noBlobs = { get: () => Promise.reject(new Error("no blobs")) };

describe("leader election and garbage collection", () => {
  let cluster: SandboxCluster;
  let dir: TempDir;
  const running: Propeller[] = [];

  before(async () => {
    dir = tempDir({ prefix: "propeller-ha-" });
    cluster = await startCluster({ name: "ha", mode: "simulated" });
    await installCrd(kubeConfigFrom(cluster.kubeconfig));
  });

  after(async () => {
    await Promise.all(running.map((p) => p.stop()));
    await cluster?.stop();
    await dir?.cleanup();
  });

  const replica = async (extra: Partial<PropellerOptions> = {}): Promise<Propeller> => {
    const p = await startPropeller({
      kubeconfig: cluster.kubeconfig,
      clusterId: "ha",
      admin: { transport: new RecordingAdmin().transport },
      leaderElection: { leaseDurationMs: 1_500, renewDeadlineMs: 1_000, retryPeriodMs: RETRY_PERIOD_MS },
      processMetrics: false,
      ...extra,
    });
    running.push(p);
    return p;
  };

  test("two replicas never both lead; the standby takes over when the leader stops", async () => {
    const a = await replica();
    const b = await replica();
    await eventually(() => assert.equal([a, b].filter((p) => p.isLeader()).length, 1));
    // Sample every 10 ms across several retry periods (each replica renews or campaigns once
    // per period, so a standby that wrongly took the lease shows up within one): never two leaders.
    const sampleUntil = Date.now() + 5 * RETRY_PERIOD_MS;
    let samples = 0;
    while (Date.now() < sampleUntil) {
      const leaders = [a, b].filter((p) => p.isLeader()).length;
      assert.ok(leaders <= 1, `at most one leader (sample ${samples}: ${leaders})`);
      samples++;
      await sleep(10);
    }
    assert.ok(samples >= 3 * (RETRY_PERIOD_MS / 20), `sampled across 3 retry periods (${samples} samples)`);
    const leader = a.isLeader() ? a : b;
    const standby = leader === a ? b : a;
    const kc = kubeConfigFrom(cluster.kubeconfig);
    const lease = await kc
      .makeApiClient(CoordinationV1Api)
      .readNamespacedLease({ name: "flotilla-propeller", namespace: "flotilla-system" });
    assert.equal(lease.spec?.holderIdentity, leader.identity);

    await leader.stop();
    await eventually(() => assert.ok(standby.isLeader(), "standby took over"), { timeout: 10_000 });
    const blobRoot = pathToFileURL(dir.path).href;
    const spec = anExecutionSpec({
      name: "afterfail",
      closure: aWorkflow("w").withNode("t", aTask("t").simulated("50ms").build()).closure(),
      blobRoot,
    });
    const ns = await createExecution(kc, spec);
    await eventually(
      async () => {
        const { status } = await readExecutionStatus(kc, ns, "afterfail", noBlobs);
        assert.equal(status?.phase, WorkflowExecution_Phase.SUCCEEDED);
      },
      { timeout: 15_000 },
    );
    await standby.stop();
  });

  test("terminated CRs are deleted once their TTL passed", async () => {
    // The task outlasts several GC passes, so a CR collected unfinished never shows SUCCEEDED;
    // the TTL leaves time to see it finished before it goes.
    await replica({ leaderElection: false, terminatedTtlMs: 1_500, gcIntervalMs: 200 });
    const kc = kubeConfigFrom(cluster.kubeconfig);
    const blobRoot = pathToFileURL(dir.path).href;
    const spec = anExecutionSpec({
      name: "gcme",
      closure: aWorkflow("w").withNode("t", aTask("t").simulated("1s").build()).closure(),
      blobRoot,
    });
    const ns = await createExecution(kc, spec);
    await eventually(
      async () => {
        const { status } = await readExecutionStatus(kc, ns, "gcme", noBlobs);
        assert.equal(status?.phase, WorkflowExecution_Phase.SUCCEEDED);
      },
      { timeout: 15_000 },
    );
    const crs = new KubeWorkflowExecutions(kc);
    await eventually(
      async () => {
        await assert.rejects(crs.get(ns, "gcme"), CrNotFoundError);
      },
      { timeout: 15_000 },
    );
  });
});
