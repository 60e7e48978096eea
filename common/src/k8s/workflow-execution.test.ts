import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  NodeExecution_Phase,
  WorkflowExecution_Phase,
  WorkflowExecutionSpecSchema,
  WorkflowExecutionStatusSchema,
} from "@flotilla/proto";
import { parse } from "yaml";
import {
  InvalidWorkflowExecutionError,
  parseWorkflowExecution,
  toWorkflowExecutionObject,
  workflowExecutionCrd,
} from "./workflow-execution.js";

const spec = create(WorkflowExecutionSpecSchema, {
  executionId: { project: "ml", domain: "development", name: "e1" },
  inputsUri: "file:///blobs/ml/development/e1/inputs.pb",
  outputPrefix: "file:///blobs/ml/development/e1/",
  maxParallelism: 4,
  createdAt: timestampFromDate(new Date("2026-11-23T12:00:00Z")),
});

test("a CR built from proto messages decodes back to the same messages", () => {
  const status = create(WorkflowExecutionStatusSchema, {
    phase: WorkflowExecution_Phase.RUNNING,
    phaseVersion: 2,
    nodes: { a: { phase: NodeExecution_Phase.SUCCEEDED, attempts: 1 } },
  });
  const obj = toWorkflowExecutionObject({ name: "e1", namespace: "ml-development", spec, status });
  assert.equal(obj.kind, "WorkflowExecution");
  assert.equal(obj.metadata.labels?.["app.kubernetes.io/managed-by"], "flotilla");
  const roundTrip = JSON.parse(JSON.stringify(obj));
  const decoded = parseWorkflowExecution(roundTrip);
  assert.equal(decoded.spec.executionId?.name, "e1");
  assert.equal(decoded.spec.maxParallelism, 4);
  assert.equal(decoded.status?.phase, WorkflowExecution_Phase.RUNNING);
  assert.equal(decoded.status?.nodes.a?.phase, NodeExecution_Phase.SUCCEEDED);
});

test("a CR with a malformed spec is refused naming the object and field", () => {
  assert.throws(
    () =>
      parseWorkflowExecution({
        kind: "WorkflowExecution",
        metadata: { name: "bad", namespace: "ml-development" },
        spec: { maxParallelism: "many" },
      }),
    (err: unknown) =>
      err instanceof InvalidWorkflowExecutionError && err.field === "spec" && err.objectName === "bad",
  );
});

test("the shipped CRD YAML is the manifest the code installs", () => {
  const shipped = parse(
    readFileSync(new URL("../../manifests/workflowexecution-crd.yaml", import.meta.url), "utf8"),
  );
  assert.deepEqual(shipped, workflowExecutionCrd());
});
