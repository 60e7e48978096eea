import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { taskPodName } from "@flotilla/common";
import {
  ExecutionError_Kind,
  NodeExecution_Phase,
  SimpleType,
  WorkflowExecution_Phase,
} from "@flotilla/proto";
import {
  aBranchNode,
  aSubWorkflowNode,
  aTask,
  aTaskNode,
  aWorkflow,
  and,
  anExecutionSpec,
  compare,
  constantOperand,
  fromInput,
  fromNode,
  inputOperand,
  or,
  outputOperand,
} from "../../testing/builders.js";
import { ExecutorHarness } from "../../testing/executor-harness.js";

const inc = aTask("inc").withInput("x", SimpleType.INTEGER).withOutput("y", SimpleType.INTEGER).build();
const INT = inc.interface?.inputs?.variables.x?.type;

/**
 * a(n) → route: a.y > 10 → big; 5 <= a.y <= 10 or n == 99 → mid; else small (or a USER error)
 * → d(route.y).
 */
function routed(name: string, fallback: "else" | "error" = "else") {
  const closure = aWorkflow("routed")
    .withInput("n", SimpleType.INTEGER)
    .withNode("a", inc, { x: fromInput("n") })
    .with(
      aBranchNode(
        "route",
        [
          [
            compare(outputOperand("a", "y"), ">", constantOperand(10)),
            aTaskNode("big", inc, { x: fromNode("a", "y") }),
          ],
          [
            or(
              and(
                compare(outputOperand("a", "y"), ">=", constantOperand(5)),
                compare(outputOperand("a", "y"), "<=", constantOperand(10)),
              ),
              compare(inputOperand("n"), "==", constantOperand(99)),
            ),
            aTaskNode("mid", inc, { x: fromNode("a", "y") }),
          ],
        ],
        fallback === "else"
          ? aTaskNode("small", inc, { x: fromInput("n") })
          : { error: "NoRoute", message: "no route for this value" },
      ),
    )
    .withNode("d", inc, { x: fromNode("route", "y") })
    .withOutput("result", SimpleType.INTEGER, fromNode("d", "y"))
    .closure();
  return new ExecutorHarness(anExecutionSpec({ name, closure, blobRoot: "mem://blobs" }));
}

/** Runs `a` of a fresh routed execution with output y and one more round; returns the harness. */
async function routedWith(y: number, fallback: "else" | "error" = "else", n = 1): Promise<ExecutorHarness> {
  const h = routed(`r${y}`, fallback);
  await h.writeInputs({ n: { value: n, type: INT } });
  await h.round();
  await h.succeed(`r${y}-a-0`, "a", 0, { y });
  await h.round();
  return h;
}

describe("branch nodes", () => {
  for (const [y, n, taken, why] of [
    [20, 1, "big", "case 1 of 2 held"],
    [7, 1, "mid", "case 2 of 2 held"],
    [10, 1, "mid", "case 2 of 2 held"],
    [2, 99, "mid", "case 2 of 2 held"],
    [2, 1, "small", "none of 2 case(s) held"],
  ] as const) {
    test(`a.y=${y}, n=${n} takes ${taken}, runs it as the branch's child and passes its outputs on`, async () => {
      const h = await routedWith(y, "else", n);
      const route = h.node("route");
      assert.equal(route.phase, NodeExecution_Phase.RUNNING);
      assert.equal(route.branchTakenNodeId, taken);
      const running = h
        .nodeEvents()
        .find((e) => e.id?.nodeId === "route" && e.phase === NodeExecution_Phase.RUNNING);
      assert.equal(running?.reason, "BranchTaken");
      assert.equal(running?.message, `${why}: running node ${taken}`);

      const pod = taskPodName(`r${y}`, `route.${taken}`, 0);
      assert.deepEqual([...h.pods.pods.keys()].sort(), [`r${y}-a-0`, pod].sort(), "only the taken node runs");
      assert.equal(
        h.podInput(pod, "x"),
        taken === "small" ? String(n) : String(y),
        "the alternative's bindings resolve in the workflow",
      );
      const child = h.nodeEvents().find((e) => e.id?.nodeId === `route.${taken}`);
      assert.equal(child?.parentNodeId, "route", "child events name the branch as parent");
      assert.equal(h.node(`route.${taken}`).phase, NodeExecution_Phase.RUNNING);

      await h.succeed(pod, `route.${taken}`, 0, { y: 1000 });
      await h.round();
      assert.equal(h.node("route").phase, NodeExecution_Phase.SUCCEEDED);
      assert.equal(
        h.podInput(`r${y}-d-0`, "x"),
        "1000",
        "downstream reads the branch's outputs (the child's)",
      );
      await h.succeed(`r${y}-d-0`, "d", 0, { y: 1001 });
      await h.round();
      assert.equal(h.status.phase, WorkflowExecution_Phase.SUCCEEDED);
    });
  }

  test("no case and an error fallback fails the branch with that USER error and skips downstream", async () => {
    const h = await routedWith(1, "error");
    const route = h.node("route");
    assert.equal(route.phase, NodeExecution_Phase.FAILED);
    assert.equal(route.error?.kind, ExecutionError_Kind.USER);
    assert.equal(route.error?.code, "NoRoute");
    assert.equal(route.branchTakenNodeId, "");
    assert.equal(h.status.phase, WorkflowExecution_Phase.FAILED);
    assert.equal(h.status.error?.message, "node route: no route for this value");
    assert.equal(h.pods.pods.size, 1, "nothing ran after a");
  });

  test("an ill-typed operand fails the branch naming the node and the operand", async () => {
    const closure = aWorkflow("typed")
      .withNode("a", inc)
      .with(
        aBranchNode(
          "check",
          [
            [
              compare(outputOperand("a", "y"), "==", constantOperand("ten")),
              aTaskNode("t", inc, { x: fromNode("a", "y") }),
            ],
          ],
          { error: "Never" },
        ),
      )
      .closure();
    const h = new ExecutorHarness(anExecutionSpec({ name: "typed", closure, blobRoot: "mem://blobs" }));
    await h.round();
    await h.succeed("typed-a-0", "a", 0, { y: 10 });
    await h.round();
    const check = h.node("check");
    assert.equal(check.phase, NodeExecution_Phase.FAILED);
    assert.equal(check.error?.kind, ExecutionError_Kind.USER);
    assert.equal(check.error?.code, "BranchEvaluationFailed");
    assert.match(
      check.error?.message ?? "",
      /branch node check: operand "ten": is of type string, cannot compare it with a\.y of type integer/,
    );
  });

  test("an ordering operator on strings is refused naming the operand", async () => {
    const closure = aWorkflow("strings")
      .withInput("mode", SimpleType.STRING)
      .with(
        aBranchNode(
          "b",
          [
            [
              compare(inputOperand("mode"), ">", constantOperand("fast")),
              aTaskNode("t", inc, { x: fromInput("mode") }),
            ],
          ],
          { error: "Never" },
        ),
      )
      .closure();
    const h = new ExecutorHarness(anExecutionSpec({ name: "strings", closure, blobRoot: "mem://blobs" }));
    const STR = aTask("s").withInput("s", SimpleType.STRING).build().interface?.inputs?.variables.s?.type;
    await h.writeInputs({ mode: { value: "slow", type: STR } });
    await h.round();
    assert.equal(h.node("b").error?.code, "BranchEvaluationFailed");
    assert.match(
      h.node("b").error?.message ?? "",
      /operand input mode: is of type string: GT does not apply to it/,
    );
  });

  test("a failing taken node fails the branch and the workflow, naming the child", async () => {
    const h = await routedWith(20);
    h.pods.finish(taskPodName("r20", "route.big", 0), "Failed", 2);
    await h.round();
    assert.equal(h.node("route.big").phase, NodeExecution_Phase.FAILED);
    const route = h.node("route");
    assert.equal(route.phase, NodeExecution_Phase.FAILED);
    assert.equal(route.error?.kind, ExecutionError_Kind.USER);
    assert.match(route.error?.message ?? "", /^node route\.big: /);
    assert.equal(h.status.phase, WorkflowExecution_Phase.FAILED);
    assert.match(h.status.error?.message ?? "", /^node route: node route\.big: /);
  });

  test("abort deletes the taken node's pod and aborts branch and child", async () => {
    const h = await routedWith(20);
    h.abortCause = "stop";
    await h.round();
    assert.deepEqual(h.pods.deleted, [taskPodName("r20", "route.big", 0)]);
    assert.equal(h.node("route.big").phase, NodeExecution_Phase.ABORTED);
    assert.equal(h.node("route").phase, NodeExecution_Phase.ABORTED);
    assert.equal(h.status.phase, WorkflowExecution_Phase.ABORTED);
  });

  test("a branch may take a sub-workflow", async () => {
    const inner = aWorkflow("inner")
      .withInput("x", SimpleType.INTEGER)
      .withNode("s", inc, { x: fromInput("x") })
      .withOutput("y", SimpleType.INTEGER, fromNode("s", "y"));
    const closure = aWorkflow("outer")
      .withInput("n", SimpleType.INTEGER)
      .with(
        aBranchNode(
          "b",
          [
            [
              compare(inputOperand("n"), ">", constantOperand(0)),
              aSubWorkflowNode("w", inner, { x: fromInput("n") }),
            ],
          ],
          { error: "Never" },
        ),
      )
      .withOutput("out", SimpleType.INTEGER, fromNode("b", "y"))
      .closure();
    const h = new ExecutorHarness(anExecutionSpec({ name: "bw", closure, blobRoot: "mem://blobs" }));
    await h.writeInputs({ n: { value: 3, type: INT } });
    await h.round();
    const pod = taskPodName("bw", "b.w.s", 0);
    assert.equal(h.podInput(pod, "x"), "3");
    await h.succeed(pod, "b.w.s", 0, { y: 4 });
    await h.round();
    assert.equal(h.status.phase, WorkflowExecution_Phase.SUCCEEDED);
    const out = await h.io.readLiteralMap(h.status.outputsUri);
    const v = out.literals.out?.value;
    assert.equal(
      v?.case === "scalar" && v.value.value.case === "primitive" ? v.value.value.value.value.value : 0,
      4n,
    );
    const sEvent = h.nodeEvents().find((e) => e.id?.nodeId === "b.w.s");
    assert.equal(sEvent?.parentNodeId, "b.w");
  });
});
