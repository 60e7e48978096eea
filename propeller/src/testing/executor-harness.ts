/**
 * Drives the DAG executor round by round against in-memory fakes (pods, blob I/O, tokens), the
 * way the controller does against Kubernetes: each round works on a copy of the status and
 * keeps it, the events and the requeue request.
 */
import assert from "node:assert/strict";
import { clone, create } from "@bufbuild/protobuf";
import {
  LiteralMapSchema,
  WorkflowExecutionStatusSchema,
  type Event,
  type LiteralType,
  type NodeExecutionEvent,
  type NodeStatus,
  type WorkflowExecutionSpec,
  type WorkflowExecutionStatus,
} from "@flotilla/proto";
import { evaluateWorkflow } from "../workflow/executor.js";
import { buildGraph } from "../workflow/graph.js";
import { jsonToLiteral } from "../workflow/literals.js";
import { NESTED_NODE_SEPARATOR } from "../workflow/node-ids.js";
import { DEFAULT_EXECUTOR_CONFIG } from "../workflow/ports.js";
import { RoundContext } from "../workflow/round-context.js";
import { FakePods, FakeTokens, MemoryIO } from "./fakes.js";

/** An execution run by the executor over fakes. */
export class ExecutorHarness {
  readonly pods = new FakePods();
  readonly io = new MemoryIO();
  tokens: FakeTokens | undefined;
  status: WorkflowExecutionStatus = create(WorkflowExecutionStatusSchema, {});
  readonly events: Event[] = [];
  abortCause: string | undefined;
  now = new Date();
  lastRequeue: number | undefined;

  constructor(readonly spec: WorkflowExecutionSpec) {}

  /** A round context over a copy of the current status (not kept unless the caller keeps it). */
  context(status: WorkflowExecutionStatus = clone(WorkflowExecutionStatusSchema, this.status)): RoundContext {
    const closure = this.spec.workflow.case === "closure" ? this.spec.workflow.value : undefined;
    assert.ok(closure);
    return new RoundContext(
      {
        namespace: "flotilla-development",
        name: this.spec.executionId?.name ?? "",
        uid: "uid-1",
        spec: this.spec,
        graph: buildGraph(closure),
        ...(this.abortCause !== undefined ? { abortCause: this.abortCause } : {}),
      },
      status,
      this.pods.pods,
      this.now,
      { pods: this.pods, io: this.io, ...(this.tokens ? { tokens: this.tokens } : {}) },
      { ...DEFAULT_EXECUTOR_CONFIG, clusterId: "c1" },
    );
  }

  /** Runs one round and keeps its status, events and requeue request. */
  async round(): Promise<RoundContext> {
    const status = clone(WorkflowExecutionStatusSchema, this.status);
    const ctx = this.context(status);
    await evaluateWorkflow(ctx);
    this.status = status;
    this.events.push(...ctx.events);
    this.lastRequeue = ctx.requeueAfterMs;
    return ctx;
  }

  /** Writes the execution's inputs (JSON values converted with the given types). */
  async writeInputs(
    values: Record<string, { value: unknown; type: LiteralType | undefined }>,
  ): Promise<void> {
    const literals = Object.fromEntries(
      Object.entries(values).map(([k, v]) => [k, jsonToLiteral(k, v.value, v.type)]),
    );
    await this.io.writeLiteralMap(this.spec.inputsUri, create(LiteralMapSchema, { literals }));
  }

  /** The status of node `id`; a nested node by its execution-wide id (`sub.t`). */
  node(id: string): NodeStatus {
    const [first, ...rest] = id.split(NESTED_NODE_SEPARATOR);
    let ns = this.status.nodes[first];
    for (const part of rest) ns = ns?.subNodes[part];
    assert.ok(ns, `node ${id} has a status`);
    return ns;
  }

  /** Every node event emitted so far, in order. */
  nodeEvents(): NodeExecutionEvent[] {
    return this.events.flatMap((e) => (e.event.case === "nodeEvent" ? [e.event.value] : []));
  }

  /** The value of a primitive input as the pod's container sees it (`FLOTILLA_INPUT_<NAME>`). */
  podInput(podName: string, input: string): string | undefined {
    const env = this.pods.pods.get(podName)?.spec?.containers[0]?.env;
    return env?.find((e) => e.name === `FLOTILLA_INPUT_${input.toUpperCase()}`)?.value;
  }

  /** Completes a pod, writing outputs.json for it first (`nodeId`: execution-wide id). */
  async succeed(
    podName: string,
    nodeId: string,
    attempt: number,
    outputs: Record<string, unknown>,
  ): Promise<void> {
    const dir = this.io.join(this.spec.outputPrefix, "nodes", nodeId, String(attempt), "outputs");
    await this.io.writeText(this.io.join(dir, "outputs.json"), JSON.stringify(outputs));
    this.pods.finish(podName, "Succeeded");
  }
}
