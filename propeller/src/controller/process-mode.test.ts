import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { pathToFileURL } from "node:url";
import { CoreV1Api, makeInformer, type V1Pod } from "@kubernetes/client-node";
import { Labels, openBlobStore, readLiteralMap, type BlobStore } from "@flotilla/common";
import {
  ExecutionError_Kind,
  NodeExecution_Phase,
  SimpleType,
  TaskExecution_Phase,
  WorkflowExecution_Phase,
} from "@flotilla/proto";
import { startCluster, type SandboxCluster } from "@flotilla/sandbox";
import { eventually, tempDir, type TempDir } from "@flotilla/testing";
import { aTask, aWorkflow, anExecutionSpec, fromNode } from "../testing/builders.js";
import {
  INC_SCRIPT,
  createExecution,
  installCrd,
  kubeConfigFrom,
  readExecutionStatus,
} from "../testing/cluster-fixtures.js";
import { RecordingAdmin } from "../testing/recording-admin.js";
import { startPropeller, type Propeller } from "./propeller.js";

// Fails (exit 3) on attempts 0 and 1, succeeds on attempt 2.
const FLAKY = `process.exit(Number(process.env.FLOTILLA_ATTEMPT) < 2 ? 3 : 0);`;

describe("propeller against a process-mode sandbox cluster", () => {
  let cluster: SandboxCluster;
  let dir: TempDir;
  let admin: RecordingAdmin;
  let propeller: Propeller;
  let blobRoot: string;
  let store: BlobStore;

  before(async () => {
    dir = tempDir({ prefix: "propeller-process-" });
    blobRoot = pathToFileURL(dir.path).href;
    store = openBlobStore(blobRoot);
    cluster = await startCluster({ name: "proc", mode: "process" });
    await installCrd(kubeConfigFrom(cluster.kubeconfig));
    admin = new RecordingAdmin();
    propeller = await startPropeller({
      kubeconfig: cluster.kubeconfig,
      clusterId: "proc",
      admin: { transport: admin.transport },
      workers: 4,
      leaderElection: false,
      deleteFinishedPods: false,
      processMetrics: false,
    });
  });

  after(async () => {
    await propeller?.stop();
    await cluster?.stop();
    await dir?.cleanup();
  });

  test("outputs flow between process pods through files and env (A → B, C → D)", async () => {
    const inc = aTask("inc")
      .withInput("x", SimpleType.INTEGER)
      .withOutput("y", SimpleType.INTEGER)
      .withCommand(process.execPath, "-e", INC_SCRIPT)
      .build();
    const src = aTask("src")
      .withOutput("y", SimpleType.INTEGER)
      .withCommand(process.execPath, "-e", INC_SCRIPT)
      .build();
    const closure = aWorkflow("diamond")
      .withNode("a", src)
      .withNode("b", inc, { x: fromNode("a", "y") })
      .withNode("c", inc, { x: fromNode("a", "y") })
      .withNode("d", inc, { x: fromNode("b", "y") }, ["c"])
      .withOutput("result", SimpleType.INTEGER, fromNode("d", "y"))
      .closure();
    const spec = anExecutionSpec({ name: "procdiamond", closure, blobRoot });
    const kc = kubeConfigFrom(cluster.kubeconfig);
    const ns = await createExecution(kc, spec, { store });
    const status = await eventually(
      async () => {
        const { status } = await readExecutionStatus(kc, ns, "procdiamond", store);
        assert.equal(
          status?.phase,
          WorkflowExecution_Phase.SUCCEEDED,
          JSON.stringify(status?.error ?? status?.message),
        );
        return status;
      },
      { timeout: 30_000, interval: 100 },
    );
    const outputs = await readLiteralMap(store, status.outputsUri);
    const result = outputs.literals.result?.value;
    assert.equal(
      result?.case === "scalar" && result.value.value.case === "primitive"
        ? result.value.value.value.value.value
        : undefined,
      3n,
      "src=1, b=c=2, d=3",
    );
    await eventually(() => {
      const phases = admin.events.flatMap((e) =>
        e.event.case === "taskEvent" && e.event.value.id?.nodeExecutionId?.executionId?.name === "procdiamond"
          ? [`${e.event.value.id.nodeExecutionId.nodeId}:${TaskExecution_Phase[e.event.value.phase]}`]
          : [],
      );
      for (const n of ["a", "b", "c", "d"]) {
        assert.ok(phases.includes(`${n}:QUEUED`), `${n} queued`);
        assert.ok(phases.includes(`${n}:SUCCEEDED`), `${n} succeeded`);
      }
    });
  });

  test("fails twice then succeeds with retries=2; USER failures are counted", async () => {
    const flaky = aTask("flaky").withRetries(2, 0).withCommand(process.execPath, "-e", FLAKY).build();
    const spec = anExecutionSpec({
      name: "flaky1",
      closure: aWorkflow("w").withNode("t", flaky).closure(),
      blobRoot,
    });
    const kc = kubeConfigFrom(cluster.kubeconfig);
    const ns = await createExecution(kc, spec, { store });
    const status = await eventually(
      async () => {
        const { status } = await readExecutionStatus(kc, ns, "flaky1", store);
        assert.equal(status?.phase, WorkflowExecution_Phase.SUCCEEDED);
        return status;
      },
      { timeout: 30_000, interval: 100 },
    );
    assert.equal(status.nodes.t?.attempts, 3);
    const retryable = admin.events.filter(
      (e) =>
        e.event.case === "taskEvent" &&
        e.event.value.id?.nodeExecutionId?.executionId?.name === "flaky1" &&
        e.event.value.phase === TaskExecution_Phase.RETRYABLE_FAILED,
    );
    assert.equal(retryable.length, 2);
    for (const e of retryable) {
      const err =
        e.event.case === "taskEvent" && e.event.value.outputResult.case === "error"
          ? e.event.value.outputResult.value
          : undefined;
      assert.equal(err?.kind, ExecutionError_Kind.USER);
      assert.equal(err?.code, "NonZeroExitCode");
    }
  });

  test("a preempted interruptible task retries on regular capacity and its budget is SYSTEM", async () => {
    const spot = aTask("spot").interruptible().withRetries(0, 1).simulated("100ms", "preempt").build();
    const spec = anExecutionSpec({
      name: "spot1",
      closure: aWorkflow("w").withNode("t", spot).closure(),
      blobRoot,
    });
    const kc = kubeConfigFrom(cluster.kubeconfig);
    const core = kc.makeApiClient(CoreV1Api);
    const selector = `${Labels.execution}=spot1`;
    const seen = new Map<string | undefined, V1Pod>();
    const informer = makeInformer(
      kc,
      "/api/v1/pods",
      () => core.listPodForAllNamespaces({ labelSelector: selector }),
      selector,
    );
    informer.on("add", (p) => seen.set(p.metadata?.labels?.[Labels.attempt], p));
    await informer.start();
    const ns = await createExecution(kc, spec, { store });
    const status = await eventually(
      async () => {
        const { status } = await readExecutionStatus(kc, ns, "spot1", store);
        assert.equal(status?.phase, WorkflowExecution_Phase.FAILED);
        return status;
      },
      { timeout: 30_000, interval: 100 },
    );
    assert.equal(status.nodes.t?.phase, NodeExecution_Phase.FAILED);
    assert.equal(status.nodes.t?.error?.kind, ExecutionError_Kind.SYSTEM);
    assert.equal(status.nodes.t?.attempts, 2, "one system retry");
    assert.equal(
      seen.get("0")?.spec?.tolerations?.some((t) => t.value === "spot"),
      true,
      "first attempt tolerates spot",
    );
    assert.ok(seen.has("1"), "the second attempt's pod was seen");
    assert.equal(seen.get("1")?.spec?.tolerations, undefined, "the last attempt is not interruptible");
    await informer.stop();
    const taskEvents = admin.events.filter(
      (e) => e.event.case === "taskEvent" && e.event.value.id?.nodeExecutionId?.executionId?.name === "spot1",
    );
    assert.ok(taskEvents.some((e) => e.event.case === "taskEvent" && e.event.value.id?.retryAttempt === 1));
  });
});
