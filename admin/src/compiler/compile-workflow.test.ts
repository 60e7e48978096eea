import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { TaskTemplate, WorkflowTemplate } from "@flotilla/proto";
import { CompilationError } from "../errors.js";
import { INTEGER, STRING, aTask, aWorkflow, constInt, fromInput, fromNode } from "../testing/builders.js";
import {
  END_NODE,
  START_NODE,
  compileWorkflow,
  identifierKey,
  type CompilerLookups,
} from "./compile-workflow.js";

const double = aTask("double").withInput("x", INTEGER).withOutput("y", INTEGER).build();
const shout = aTask("shout").withInput("s", STRING).withOutput("out", STRING).build();
const pair = aTask("pair").withInput("a", INTEGER).withInput("b", INTEGER).withOutput("sum", INTEGER).build();

function lookups(...tasks: TaskTemplate[]): CompilerLookups {
  return {
    tasks: new Map(tasks.map((t) => [identifierKey(t.id), t])),
    workflows: new Map(),
    launchPlans: new Map(),
  };
}

function problemsOf(template: WorkflowTemplate, l = lookups(double, shout, pair)) {
  try {
    compileWorkflow(template, l);
  } catch (err) {
    assert.ok(err instanceof CompilationError, `expected CompilationError, got ${String(err)}`);
    return err.problems;
  }
  assert.fail("compilation unexpectedly succeeded");
}

describe("compileWorkflow", () => {
  it("refuses more nodes than its limit (1000 by default) and accepts them under a raised one", () => {
    const wide = (n: number) => {
      const wf = aWorkflow("wide");
      for (let i = 0; i < n; i++) wf.withNode(`n${i}`, "double").binding("x", constInt(i));
      return wf.build();
    };
    assert.equal(compileWorkflow(wide(1000), lookups(double)).primary?.template?.nodes.length, 1000);
    const problems = problemsOf(wide(1001), lookups(double));
    assert.deepEqual(
      problems.map((p) => [p.code, p.message]),
      [["TooManyNodes", "workflow flotilla/development/wide@v1: 1001 nodes exceed the limit of 1000"]],
    );
    assert.equal(
      compileWorkflow(wide(1001), lookups(double), { maxNodes: 2000 }).primary?.template?.nodes.length,
      1001,
    );
    assert.throws(
      () => compileWorkflow(wide(11), lookups(double), { maxNodes: 10 }),
      /11 nodes exceed the limit of 10/,
    );
  });

  it("compiles a chain into a closure with start and end edges", () => {
    const wf = aWorkflow("chain")
      .withInput("n", INTEGER)
      .withNode("first", "double")
      .binding("x", fromInput("n"))
      .withNode("second", "double")
      .binding("x", fromNode("first", "y"))
      .withOutput("result", INTEGER, fromNode("second", "y"))
      .build();
    const closure = compileWorkflow(wf, lookups(double));
    const c = closure.primary!.connections!;
    assert.deepEqual(c.downstream[START_NODE]?.ids, ["first"]);
    assert.deepEqual(c.upstream["second"]?.ids, ["first"]);
    assert.deepEqual(c.upstream[END_NODE]?.ids, ["second"]);
    assert.equal(closure.tasks.length, 1);
    assert.equal(closure.tasks[0].template!.id!.name, "double");
  });

  it("rejects a cycle and names the nodes on it", () => {
    const wf = aWorkflow("loop")
      .withNode("a", "double")
      .binding("x", fromNode("b", "y"))
      .withNode("b", "double")
      .binding("x", fromNode("a", "y"))
      .build();
    const problems = problemsOf(wf);
    const cycle = problems.find((p) => p.code === "Cycle");
    assert.ok(cycle, JSON.stringify(problems));
    assert.match(cycle.message, /"a", "b"/);
  });

  it("reports nodes downstream of a cycle as unreachable", () => {
    const wf = aWorkflow("loop2")
      .withNode("a", "double")
      .binding("x", fromNode("b", "y"))
      .withNode("b", "double")
      .binding("x", fromNode("a", "y"))
      .withNode("c", "double")
      .binding("x", fromNode("b", "y"))
      .build();
    const problems = problemsOf(wf);
    assert.deepEqual(
      problems.filter((p) => p.code === "UnreachableNode").map((p) => p.nodeId),
      ["c"],
    );
  });

  it("rejects a type mismatch naming node, input and both types", () => {
    const wf = aWorkflow("mismatch")
      .withNode("num", "double")
      .binding("x", constInt(2))
      .withNode("text", "shout")
      .binding("s", fromNode("num", "y"))
      .build();
    const [problem, ...rest] = problemsOf(wf);
    assert.equal(rest.length, 0);
    assert.equal(problem.code, "TypeMismatch");
    assert.equal(problem.nodeId, "text");
    assert.equal(problem.variable, "s");
    assert.match(problem.message, /expected string, got integer \(output "y" of node "num"\)/);
  });

  it("rejects references to unknown nodes, outputs, inputs and tasks", () => {
    const wf = aWorkflow("unknowns")
      .withInput("n", INTEGER)
      .withNode("a", "double")
      .binding("x", fromNode("ghost", "y"))
      .withNode("b", "double")
      .binding("x", fromNode("a", "nope"))
      .withNode("c", "double")
      .binding("x", fromInput("missing"))
      .withNode("d", "unregistered")
      .withNode("e", "double")
      .binding("x", fromInput("n"))
      .dependingOn("phantom")
      .build();
    const codes = problemsOf(wf).map((p) => `${p.code}:${p.nodeId}`);
    assert.deepEqual(codes.sort(), [
      "UnknownNode:a",
      "UnknownNode:e",
      "UnknownOutput:b",
      "UnknownTask:d",
      "UnknownWorkflowInput:c",
    ]);
  });

  it("rejects missing required inputs and unbound workflow outputs", () => {
    const wf = aWorkflow("missing").withNode("p", "pair").binding("a", constInt(1)).build();
    wf.interface!.outputs!.variables["total"] = {
      $typeName: "flotilla.core.v1.Variable",
      type: INTEGER,
      description: "",
    };
    const problems = problemsOf(wf);
    const missing = problems.find((p) => p.code === "MissingInput");
    assert.equal(missing?.nodeId, "p");
    assert.equal(missing?.variable, "b");
    assert.ok(problems.some((p) => p.code === "MissingOutputBinding" && p.variable === "total"));
  });

  it("rejects bindings that name no input of the target and duplicate node ids", () => {
    const wf = aWorkflow("extra")
      .withNode("a", "double")
      .binding("x", constInt(1))
      .binding("z", constInt(1))
      .withNode("a", "double")
      .binding("x", constInt(1))
      .build();
    const codes = problemsOf(wf).map((p) => p.code);
    assert.ok(codes.includes("UnknownInput"));
    assert.ok(codes.includes("DuplicateNodeId"));
  });
});
