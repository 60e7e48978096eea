import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { clone, create } from "@bufbuild/protobuf";
import { taskPodName } from "@flotilla/common";
import {
  ExecutionError_Kind,
  IdentifierSchema,
  NodeExecution_Phase,
  NodeSchema,
  ResourceType,
  SimpleType,
  TaskExecution_Phase,
  WorkflowExecutionStatusSchema,
  WorkflowExecution_Phase,
  WorkflowNodeSchema,
} from "@flotilla/proto";
import {
  aSubWorkflowNode,
  aTask,
  aWorkflow,
  anExecutionSpec,
  fromInput,
  fromNode,
} from "../../testing/builders.js";
import { ExecutorHarness } from "../../testing/executor-harness.js";
import { decodeStatus, encodeStatus, DEFAULT_STATUS_BUDGET } from "../../workflow/status-codec.js";

const inc = aTask("inc").withInput("x", SimpleType.INTEGER).withOutput("y", SimpleType.INTEGER).build();
const INT = inc.interface?.inputs?.variables.x?.type;

/** inner(x): s1(x) → s2(s1.y), out = s2.y. outer(n): a(n) → sub(x = a.y) → d(sub.out), result = d.y. */
function nested(name: string) {
  const inner = aWorkflow("inner")
    .withInput("x", SimpleType.INTEGER)
    .withNode("s1", inc, { x: fromInput("x") })
    .withNode("s2", inc, { x: fromNode("s1", "y") })
    .withOutput("out", SimpleType.INTEGER, fromNode("s2", "y"));
  const closure = aWorkflow("outer")
    .withInput("n", SimpleType.INTEGER)
    .withNode("a", inc, { x: fromInput("n") })
    .with(aSubWorkflowNode("sub", inner, { x: fromNode("a", "y") }))
    .withNode("d", inc, { x: fromNode("sub", "out") })
    .withOutput("result", SimpleType.INTEGER, fromNode("d", "y"))
    .closure();
  return new ExecutorHarness(anExecutionSpec({ name, closure, blobRoot: "mem://blobs" }));
}

/** A nested execution with a done and the sub-workflow's first node running. */
async function intoSubWorkflow(name: string): Promise<ExecutorHarness> {
  const h = nested(name);
  await h.writeInputs({ n: { value: 1, type: INT } });
  await h.round();
  await h.succeed(`${name}-a-0`, "a", 0, { y: 2 });
  await h.round();
  return h;
}

describe("sub-workflow nodes", () => {
  test("run their nodes inside the execution with the parent's inputs and return their outputs", async () => {
    const h = await intoSubWorkflow("sw");
    const s1 = taskPodName("sw", "sub.s1", 0);
    assert.equal(h.node("sub").phase, NodeExecution_Phase.RUNNING);
    assert.equal(h.node("sub.s1").phase, NodeExecution_Phase.RUNNING, "nested status lives in sub_nodes");
    assert.equal(h.status.nodes["sub.s1"], undefined, "nested nodes are not top-level entries");
    assert.equal(h.podInput(s1, "x"), "2", "the sub-workflow input x is the parent node's bound input");
    assert.equal(
      h.pods.pods.get(s1)?.spec?.containers[0]?.env?.find((e) => e.name === "FLOTILLA_NODE_ID")?.value,
      "sub.s1",
    );

    await h.succeed(s1, "sub.s1", 0, { y: 3 });
    await h.round();
    const s2 = taskPodName("sw", "sub.s2", 0);
    assert.equal(h.podInput(s2, "x"), "3");
    await h.succeed(s2, "sub.s2", 0, { y: 4 });
    await h.round();
    assert.equal(h.node("sub").phase, NodeExecution_Phase.SUCCEEDED);
    assert.equal(h.podInput("sw-d-0", "x"), "4", "downstream reads the sub-workflow's output binding");
    await h.succeed("sw-d-0", "d", 0, { y: 5 });
    await h.round();
    assert.equal(h.status.phase, WorkflowExecution_Phase.SUCCEEDED);

    const events = h.nodeEvents();
    for (const child of ["sub.s1", "sub.s2"]) {
      const phases = events.filter((e) => e.id?.nodeId === child);
      assert.deepEqual(
        phases.map((e) => [e.phase, e.parentNodeId]),
        [
          [NodeExecution_Phase.RUNNING, "sub"],
          [NodeExecution_Phase.SUCCEEDED, "sub"],
        ],
      );
    }
    assert.ok(events.filter((e) => e.id?.nodeId === "a").every((e) => e.parentNodeId === ""));
    const taskNodeIds = new Set(
      h.events.flatMap((e) =>
        e.event.case === "taskEvent" ? [e.event.value.id?.nodeExecutionId?.nodeId] : [],
      ),
    );
    assert.deepEqual([...taskNodeIds].sort(), ["a", "d", "sub.s1", "sub.s2"]);
    const ids = h.events.map((e) => e.event.value?.eventId);
    assert.equal(new Set(ids).size, ids.length, "event ids are unique");
  });

  test("a failing nested node fails the parent and the workflow, naming the nested node", async () => {
    const h = await intoSubWorkflow("swf");
    h.pods.finish(taskPodName("swf", "sub.s1", 0), "Failed", 7);
    await h.round();
    assert.equal(h.node("sub.s1").phase, NodeExecution_Phase.FAILED);
    assert.equal(h.node("sub").phase, NodeExecution_Phase.FAILED);
    assert.equal(h.node("sub").error?.kind, ExecutionError_Kind.USER);
    assert.match(h.node("sub").error?.message ?? "", /^node sub\.s1: /);
    assert.equal(h.status.nodes.d, undefined, "d never started (fail-immediately)");
    assert.equal(h.status.phase, WorkflowExecution_Phase.FAILED);
    assert.match(h.status.error?.message ?? "", /^node sub: node sub\.s1: /);
    assert.equal(h.status.nodes.sub?.subNodes.s2, undefined, "s2 never started");
  });

  test("abort deletes nested pods and aborts parent and nested nodes", async () => {
    const h = await intoSubWorkflow("swa");
    h.abortCause = "user asked";
    await h.round();
    assert.deepEqual(h.pods.deleted, [taskPodName("swa", "sub.s1", 0)]);
    assert.equal(h.node("sub.s1").phase, NodeExecution_Phase.ABORTED);
    assert.equal(h.node("sub.s1").taskPhase, TaskExecution_Phase.ABORTED);
    assert.equal(h.node("sub").phase, NodeExecution_Phase.ABORTED);
    assert.equal(h.status.phase, WorkflowExecution_Phase.ABORTED);
  });

  test("a round that lost its status write mid-sub-workflow adopts the nested pod", async () => {
    const h = await intoSubWorkflow("swr");
    await h.succeed(taskPodName("swr", "sub.s1", 0), "sub.s1", 0, { y: 3 });
    const saved = clone(WorkflowExecutionStatusSchema, h.status);
    await h.round();
    const s2 = taskPodName("swr", "sub.s2", 0);
    assert.equal(h.pods.createsByName.get(s2), 1);
    h.status = saved; // the process died before writing the status
    await h.round();
    assert.equal(
      h.pods.createsByName.get(s2),
      1,
      "the restarted round found the pod instead of creating another",
    );
    assert.equal(h.node("sub.s2").phase, NodeExecution_Phase.RUNNING);
    for (const [name, creates] of h.pods.createsByName) assert.equal(creates, 1, `${name} created once`);
  });

  test("nested statuses survive the CR encoding and replay re-emits their events under their ids", async () => {
    const h = await intoSubWorkflow("swe");
    await h.succeed(taskPodName("swe", "sub.s1", 0), "sub.s1", 0, { y: 3 });
    await h.round();
    const blobs = {
      put: async () => {},
      get: async () => new Uint8Array(),
      join: (...p: string[]) => p.join("/"),
      delete: async () => {},
    };
    for (const budget of [
      DEFAULT_STATUS_BUDGET,
      { inlineNodesBytes: 10, objectBytes: DEFAULT_STATUS_BUDGET.objectBytes },
    ]) {
      const encoded = await encodeStatus(h.status, {
        budget,
        otherBytes: 0,
        blobs,
        offloadPrefix: "mem://x",
      });
      const decoded = await decodeStatus(encoded.json, blobs);
      assert.equal(decoded.nodes.sub?.subNodes.s1?.phase, NodeExecution_Phase.SUCCEEDED, encoded.encoding);
      assert.equal(decoded.nodes.sub?.subNodes.s1?.attempts, 1);
      assert.equal(decoded.nodes.sub?.subNodes.s2?.podName, taskPodName("swe", "sub.s2", 0));
    }
    const original = new Map(h.events.map((e) => [e.event.value?.eventId, e]));
    const ctx = h.context();
    ctx.replayCurrentState();
    const replayed = ctx.events.flatMap((e) => (e.event.case === "nodeEvent" ? [e.event.value] : []));
    assert.deepEqual(replayed.map((e) => `${e.id?.nodeId}<${e.parentNodeId}`).sort(), [
      "a<",
      "sub.s1<sub",
      "sub.s2<sub",
      "sub<",
    ]);
    for (const e of ctx.events)
      assert.ok(
        original.has(e.event.value?.eventId),
        `replayed ${e.event.value?.eventId} was emitted before`,
      );
  });

  test("a launch-plan node fails clearly as not supported", async () => {
    const lpNode = create(NodeSchema, {
      id: "child",
      target: {
        case: "workflowNode",
        value: create(WorkflowNodeSchema, {
          reference: {
            case: "launchplanRef",
            value: create(IdentifierSchema, {
              resourceType: ResourceType.LAUNCH_PLAN,
              name: "lp",
              version: "v1",
            }),
          },
        }),
      },
    });
    const closure = aWorkflow("lp").with({ node: lpNode, tasks: [], subWorkflows: [] }).closure();
    const h = new ExecutorHarness(anExecutionSpec({ name: "lp", closure, blobRoot: "mem://blobs" }));
    await h.round();
    assert.equal(h.node("child").phase, NodeExecution_Phase.FAILED);
    assert.equal(h.node("child").error?.kind, ExecutionError_Kind.SYSTEM);
    assert.equal(h.node("child").error?.code, "UnsupportedNodeKind");
    assert.match(
      h.node("child").error?.message ?? "",
      /launch-plan nodes \(child executions\) are not supported/,
    );
  });
});
