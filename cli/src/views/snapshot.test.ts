import assert from "node:assert/strict";
import { test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  ExecutionSchema,
  NodeExecution_Phase,
  NodeExecutionSchema,
  WorkflowExecution_Phase,
} from "@flotilla/proto";
import { buildExecutionView, flattenNodes } from "./snapshot.js";

test("running entities show time since start; finished ones their recorded duration; phases use display names", () => {
  const now = 1_000_000;
  const execution = create(ExecutionSchema, {
    id: { project: "p", domain: "d", name: "e" },
    spec: { target: { case: "workflow", value: { name: "wf", version: "v1" } } },
    closure: {
      phase: WorkflowExecution_Phase.RUNNING,
      startedAt: timestampFromMs(now - 65_000),
      cluster: "c1",
    },
  });
  const running = create(NodeExecutionSchema, {
    id: { nodeId: "a" },
    closure: { phase: NodeExecution_Phase.RUNNING, startedAt: timestampFromMs(now - 5_000) },
  });
  const done = create(NodeExecutionSchema, {
    id: { nodeId: "b" },
    closure: {
      phase: NodeExecution_Phase.SUCCEEDED,
      startedAt: timestampFromMs(now - 9_000),
      duration: durationFromMs(1_200),
    },
  });
  const idle = create(NodeExecutionSchema, {
    id: { nodeId: "c" },
    closure: { phase: NodeExecution_Phase.UNSPECIFIED },
  });
  const view = buildExecutionView(
    execution,
    [
      { node: running, attempts: [], children: [] },
      { node: done, attempts: [], children: [] },
      { node: idle, attempts: [], children: [] },
    ],
    now,
  );
  assert.equal(view.phase, "RUNNING");
  assert.equal(view.terminal, false);
  assert.equal(view.durationMs, 65_000);
  assert.equal(view.workflow, "wf:v1");
  assert.deepEqual(
    flattenNodes(view.nodes).map(({ node }) => [node.id, node.phase, node.durationMs]),
    [
      ["a", "RUNNING", 5_000],
      ["b", "SUCCEEDED", 1_200],
      ["c", "UNDEFINED", 0],
    ],
  );
});
