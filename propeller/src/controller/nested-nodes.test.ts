import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { pathToFileURL } from "node:url";
import { CoreV1Api, CustomObjectsApi, makeInformer, type KubeConfig } from "@kubernetes/client-node";
import {
  Labels,
  WorkflowExecutionResource as R,
  openBlobStore,
  readLiteralMap,
  taskPodName,
  type BlobStore,
} from "@flotilla/common";
import { NodeExecution_Phase, SimpleType, WorkflowExecution_Phase, type Literal } from "@flotilla/proto";
import { startCluster, type SandboxCluster } from "@flotilla/sandbox";
import { eventually, tempDir, type TempDir } from "@flotilla/testing";
import {
  aBranchNode,
  aSubWorkflowNode,
  aTask,
  aTaskNode,
  aWorkflow,
  anExecutionSpec,
  compare,
  constantOperand,
  fromInput,
  fromNode,
  outputOperand,
} from "../testing/builders.js";
import {
  INC_SCRIPT,
  createExecution,
  installCrd,
  kubeConfigFrom,
  readExecutionStatus,
} from "../testing/cluster-fixtures.js";
import { RecordingAdmin } from "../testing/recording-admin.js";
import { jsonToLiteral } from "../workflow/literals.js";
import { startPropeller, type Propeller } from "./propeller.js";

const inc = aTask("inc")
  .withInput("x", SimpleType.INTEGER)
  .withOutput("y", SimpleType.INTEGER)
  .withCommand(process.execPath, "-e", INC_SCRIPT)
  .build();
const INT = inc.interface?.inputs?.variables.x?.type;

function intInput(value: number): Record<string, Literal> {
  return { n: jsonToLiteral("n", value, INT) };
}

const WAIT = { timeout: 30_000, interval: 100 };

describe("propeller runs branch and sub-workflow nodes on a process-mode sandbox cluster", () => {
  let cluster: SandboxCluster;
  let dir: TempDir;
  let admin: RecordingAdmin;
  let propeller: Propeller;
  let blobRoot: string;
  let store: BlobStore;
  let kc: KubeConfig;

  const start = () =>
    startPropeller({
      kubeconfig: cluster.kubeconfig,
      clusterId: "nested",
      admin: { transport: admin.transport },
      workers: 4,
      leaderElection: false,
      deleteFinishedPods: false,
      processMetrics: false,
    });

  before(async () => {
    dir = tempDir({ prefix: "propeller-nested-" });
    blobRoot = pathToFileURL(dir.path).href;
    store = openBlobStore(blobRoot);
    cluster = await startCluster({ name: "nested", mode: "process" });
    kc = kubeConfigFrom(cluster.kubeconfig);
    await installCrd(kc);
    admin = new RecordingAdmin();
    propeller = await start();
  });

  after(async () => {
    await propeller?.stop();
    await cluster?.stop();
    await dir?.cleanup();
  });

  async function finalStatus(ns: string, name: string, phase: WorkflowExecution_Phase) {
    return eventually(async () => {
      const { status } = await readExecutionStatus(kc, ns, name, store);
      assert.equal(status?.phase, phase, JSON.stringify(status?.error ?? status?.message));
      return status;
    }, WAIT);
  }

  function nodeEventsOf(execution: string) {
    return admin.events.flatMap((e) =>
      e.event.case === "nodeEvent" && e.event.value.id?.executionId?.name === execution
        ? [e.event.value]
        : [],
    );
  }

  test("a branch takes a sub-workflow or a task depending on an upstream output; outputs flow out", async () => {
    // double(x): s1 = inc(x), s2 = inc(s1.y), y = s2.y.
    const double = aWorkflow("double")
      .withInput("x", SimpleType.INTEGER)
      .withNode("s1", inc, { x: fromInput("x") })
      .withNode("s2", inc, { x: fromNode("s1", "y") })
      .withOutput("y", SimpleType.INTEGER, fromNode("s2", "y"));
    // routed(n): a = inc(n); route: a.y > 5 → sub = double(a.y), else small = inc(a.y); result = route.y.
    const closure = aWorkflow("routed")
      .withInput("n", SimpleType.INTEGER)
      .withNode("a", inc, { x: fromInput("n") })
      .with(
        aBranchNode(
          "route",
          [
            [
              compare(outputOperand("a", "y"), ">", constantOperand(5)),
              aSubWorkflowNode("sub", double, { x: fromNode("a", "y") }),
            ],
          ],
          aTaskNode("small", inc, { x: fromNode("a", "y") }),
        ),
      )
      .withOutput("result", SimpleType.INTEGER, fromNode("route", "y"))
      .closure();
    const cases = [
      { name: "route-big", n: 10, result: 13n, taken: "sub" },
      { name: "route-small", n: 1, result: 3n, taken: "small" },
    ];
    const namespaces = await Promise.all(
      cases.map((c) =>
        createExecution(kc, anExecutionSpec({ name: c.name, closure, blobRoot }), {
          store,
          inputs: intInput(c.n),
        }),
      ),
    );
    for (const [i, c] of cases.entries()) {
      const status = await finalStatus(namespaces[i], c.name, WorkflowExecution_Phase.SUCCEEDED);
      assert.equal(status.nodes.route?.branchTakenNodeId, c.taken);
      const outputs = await readLiteralMap(store, status.outputsUri);
      const v = outputs.literals.result?.value;
      assert.equal(
        v?.case === "scalar" && v.value.value.case === "primitive"
          ? v.value.value.value.value.value
          : undefined,
        c.result,
        c.name,
      );
    }
    await eventually(() => {
      const events = nodeEventsOf("route-big");
      const succeeded = (id: string) =>
        events.find((e) => e.id?.nodeId === id && e.phase === NodeExecution_Phase.SUCCEEDED);
      assert.equal(succeeded("route.sub.s1")?.parentNodeId, "route.sub");
      assert.equal(succeeded("route.sub.s2")?.parentNodeId, "route.sub");
      assert.equal(succeeded("route.sub")?.parentNodeId, "route");
      assert.equal(succeeded("route")?.parentNodeId, "");
      const taken = events.find((e) => e.id?.nodeId === "route" && e.phase === NodeExecution_Phase.RUNNING);
      assert.equal(taken?.reason, "BranchTaken");
      assert.ok(!events.some((e) => e.id?.nodeId === "route.small"), "the other alternative never ran");
    });
  });

  test("deleting an execution mid-sub-workflow deletes the nested pod and aborts", async () => {
    const slow = aTask("slow").simulated("60s").build();
    const inner = aWorkflow("slow-inner").withNode("wait", slow);
    const closure = aWorkflow("outer").with(aSubWorkflowNode("sub", inner)).closure();
    const ns = await createExecution(kc, anExecutionSpec({ name: "nested-abort", closure, blobRoot }), {
      store,
    });
    const core = kc.makeApiClient(CoreV1Api);
    const selector = `${Labels.execution}=nested-abort`;
    await eventually(async () => {
      const pods = await core.listNamespacedPod({ namespace: ns, labelSelector: selector });
      assert.deepEqual(
        pods.items.map((p) => p.metadata?.name),
        [taskPodName("nested-abort", "sub.wait", 0)],
      );
    }, WAIT);
    await kc.makeApiClient(CustomObjectsApi).deleteNamespacedCustomObject({
      group: R.group,
      version: R.version,
      plural: R.plural,
      namespace: ns,
      name: "nested-abort",
    });
    await eventually(async () => {
      const pods = await core.listNamespacedPod({ namespace: ns, labelSelector: selector });
      assert.equal(pods.items.length, 0);
      assert.deepEqual(admin.workflowPhases("nested-abort").slice(-2), [
        WorkflowExecution_Phase.ABORTING,
        WorkflowExecution_Phase.ABORTED,
      ]);
      const aborted = nodeEventsOf("nested-abort").filter((e) => e.phase === NodeExecution_Phase.ABORTED);
      assert.deepEqual(aborted.map((e) => e.id?.nodeId).sort(), ["sub", "sub.wait"]);
    }, WAIT);
  });

  test("a propeller restarted mid-sub-workflow finds the nested pods instead of creating others", async () => {
    const pause = aTask("pause").simulated("1500ms").build();
    const inner = aWorkflow("paused").withNode("p1", pause).withNode("p2", pause, {}, ["p1"]);
    const closure = aWorkflow("outer-r").with(aSubWorkflowNode("sub", inner)).closure();
    const core = kc.makeApiClient(CoreV1Api);
    const selector = `${Labels.execution}=nested-restart`;
    const adds = new Map<string, number>();
    const informer = makeInformer(
      kc,
      "/api/v1/pods",
      () => core.listPodForAllNamespaces({ labelSelector: selector }),
      selector,
    );
    informer.on("add", (p) => {
      const name = p.metadata?.name ?? "";
      adds.set(name, (adds.get(name) ?? 0) + 1);
    });
    await informer.start();
    try {
      const ns = await createExecution(kc, anExecutionSpec({ name: "nested-restart", closure, blobRoot }), {
        store,
      });
      await eventually(async () => {
        const { status } = await readExecutionStatus(kc, ns, "nested-restart", store);
        assert.equal(status?.nodes.sub?.subNodes.p1?.phase, NodeExecution_Phase.RUNNING);
      }, WAIT);
      await propeller.stop();
      propeller = await start();
      const status = await finalStatus(ns, "nested-restart", WorkflowExecution_Phase.SUCCEEDED);
      assert.equal(status.nodes.sub?.subNodes.p1?.attempts, 1);
      assert.equal(status.nodes.sub?.subNodes.p2?.attempts, 1);
      await eventually(() =>
        assert.deepEqual(
          [...adds.entries()].sort(),
          [
            [taskPodName("nested-restart", "sub.p1", 0), 1],
            [taskPodName("nested-restart", "sub.p2", 0), 1],
          ].sort(),
        ),
      );
    } finally {
      await informer.stop();
    }
  });
});
