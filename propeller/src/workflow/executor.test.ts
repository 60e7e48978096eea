import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { clone, create } from "@bufbuild/protobuf";
import {
  ExecutionError_Kind,
  LiteralMapSchema,
  NodeExecution_Phase,
  SimpleType,
  TaskExecution_Phase,
  WorkflowExecutionStatusSchema,
  WorkflowExecution_Phase,
} from "@flotilla/proto";
import { aTask, aWorkflow, anExecutionSpec, fromInput, fromNode } from "../testing/builders.js";
import { ExecutorHarness as Harness } from "../testing/executor-harness.js";
import { FakeTokens } from "../testing/fakes.js";
import { buildGraph } from "./graph.js";
import { jsonToLiteral } from "./literals.js";
import { DEFAULT_EXECUTOR_CONFIG } from "./ports.js";
import { RoundContext } from "./round-context.js";

const inc = aTask("inc")
  .withInput("x", SimpleType.INTEGER)
  .withOutput("y", SimpleType.INTEGER)
  .withCommand("sh", "-c", "echo")
  .build();

async function diamond(): Promise<Harness> {
  const closure = aWorkflow("diamond")
    .withInput("n", SimpleType.INTEGER)
    .withNode("a", inc, { x: fromInput("n") })
    .withNode("b", inc, { x: fromNode("a", "y") })
    .withNode("c", inc, { x: fromNode("a", "y") })
    .withNode("d", inc, { x: fromNode("b", "y") }, ["c"])
    .withOutput("result", SimpleType.INTEGER, fromNode("d", "y"))
    .closure();
  const h = new Harness(anExecutionSpec({ name: "exec1", closure, blobRoot: "mem://blobs" }));
  await h.io.writeLiteralMap(
    h.spec.inputsUri,
    create(LiteralMapSchema, {
      literals: { n: jsonToLiteral("n", 1, inc.interface?.inputs?.variables.x?.type) },
    }),
  );
  return h;
}

describe("DAG executor", () => {
  test("a diamond runs A, then B and C together, then D, and binds outputs downstream", async () => {
    const h = await diamond();
    await h.round();
    assert.equal(h.status.phase, WorkflowExecution_Phase.RUNNING);
    assert.deepEqual([...h.pods.pods.keys()], ["exec1-a-0"]);
    const podA = h.pods.pods.get("exec1-a-0");
    const env = Object.fromEntries((podA?.spec?.containers[0]?.env ?? []).map((e) => [e.name, e.value]));
    assert.equal(env.FLOTILLA_INPUT_X, "1", "primitive inputs reach the container as env");
    assert.equal(podA?.metadata?.ownerReferences?.[0]?.uid, "uid-1");
    assert.equal(podA?.metadata?.ownerReferences?.[0]?.controller, true);

    await h.succeed("exec1-a-0", "a", 0, { y: 2 });
    await h.round();
    assert.equal(h.node("a").phase, NodeExecution_Phase.SUCCEEDED);
    assert.deepEqual([...h.pods.pods.keys()].sort(), ["exec1-a-0", "exec1-b-0", "exec1-c-0"]);
    const envB = Object.fromEntries(
      (h.pods.pods.get("exec1-b-0")?.spec?.containers[0]?.env ?? []).map((e) => [e.name, e.value]),
    );
    assert.equal(envB.FLOTILLA_INPUT_X, "2", "B received A's output");

    await h.succeed("exec1-b-0", "b", 0, { y: 3 });
    await h.round();
    assert.equal(h.pods.pods.has("exec1-d-0"), false, "D waits for C (explicit dependency)");
    await h.succeed("exec1-c-0", "c", 0, { y: 3 });
    await h.round();
    assert.ok(h.pods.pods.has("exec1-d-0"));
    await h.succeed("exec1-d-0", "d", 0, { y: 4 });
    await h.round();

    assert.equal(h.status.phase, WorkflowExecution_Phase.SUCCEEDED);
    const outputs = await h.io.readLiteralMap(h.status.outputsUri);
    const y = outputs.literals.result?.value;
    assert.equal(
      y?.case === "scalar" && y.value.value.case === "primitive"
        ? y.value.value.value.value.value
        : undefined,
      4n,
    );
    const wfPhases = h.events.flatMap((e) => (e.event.case === "workflowEvent" ? [e.event.value.phase] : []));
    assert.deepEqual(wfPhases, [
      WorkflowExecution_Phase.RUNNING,
      WorkflowExecution_Phase.SUCCEEDING,
      WorkflowExecution_Phase.SUCCEEDED,
    ]);
    const nodeEvents = h.events.filter((e) => e.event.case === "nodeEvent");
    assert.equal(nodeEvents.length, 8, "RUNNING and SUCCEEDED for each of the four nodes");
    const ids = new Set(h.events.map((e) => e.event.value?.eventId));
    assert.equal(ids.size, h.events.length, "event ids are unique");
  });

  test("a repeated round over the same state changes nothing and creates no pod twice", async () => {
    const h = await diamond();
    await h.round();
    const before = clone(WorkflowExecutionStatusSchema, h.status);
    const ctx = await h.round();
    assert.equal(ctx.events.length, 0);
    assert.deepEqual(h.status, before);
    assert.equal(h.pods.createsByName.get("exec1-a-0"), 1);
  });

  test("a round that lost its status write adopts the pod it created instead of creating another", async () => {
    const h = await diamond();
    const saved = clone(WorkflowExecutionStatusSchema, h.status);
    await h.round();
    h.status = saved;
    await h.round();
    assert.equal(h.pods.createsByName.get("exec1-a-0"), 1);
    assert.equal(h.node("a").phase, NodeExecution_Phase.RUNNING);
  });

  test("fails twice then succeeds with two user retries", async () => {
    const flaky = aTask("flaky").withRetries(2, 0).build();
    const h = new Harness(
      anExecutionSpec({
        name: "retry",
        closure: aWorkflow("w").withNode("t", flaky).closure(),
        blobRoot: "mem://b",
        hasInputs: false,
      }),
    );
    await h.round();
    h.pods.finish("retry-t-0", "Failed", 1);
    await h.round();
    assert.equal(h.node("t").attempts, 2);
    h.pods.finish("retry-t-1", "Failed", 3);
    await h.round();
    assert.equal(h.node("t").attempts, 3);
    h.pods.finish("retry-t-2", "Succeeded");
    await h.round();
    assert.equal(h.node("t").phase, NodeExecution_Phase.SUCCEEDED);
    assert.equal(h.status.phase, WorkflowExecution_Phase.SUCCEEDED);
    const taskPhases = h.events.flatMap((e) =>
      e.event.case === "taskEvent"
        ? [`${e.event.value.id?.retryAttempt}:${TaskExecution_Phase[e.event.value.phase]}`]
        : [],
    );
    assert.deepEqual(taskPhases, [
      "0:QUEUED",
      "0:RETRYABLE_FAILED",
      "1:QUEUED",
      "1:RETRYABLE_FAILED",
      "2:QUEUED",
      "2:SUCCEEDED",
    ]);
  });

  test("USER and SYSTEM failures consume separate budgets", async () => {
    const t = aTask("t").withRetries(1, 1).build();
    const h = new Harness(
      anExecutionSpec({
        name: "budgets",
        closure: aWorkflow("w").withNode("t", t).closure(),
        blobRoot: "mem://b",
        hasInputs: false,
      }),
    );
    await h.round();
    h.pods.finish("budgets-t-0", "Failed", 137, "OOMKilled");
    await h.round();
    assert.equal(h.node("t").systemFailures, 1);
    h.pods.finish("budgets-t-1", "Failed", 1);
    await h.round();
    assert.equal(
      h.node("t").phase,
      NodeExecution_Phase.RUNNING,
      "one user retry left after a system failure",
    );
    h.pods.finish("budgets-t-2", "Failed", 1);
    await h.round();
    assert.equal(h.node("t").phase, NodeExecution_Phase.FAILED);
    assert.equal(h.node("t").error?.kind, ExecutionError_Kind.USER);
    assert.equal(h.status.phase, WorkflowExecution_Phase.FAILED);
    assert.equal(h.status.error?.code, "NonZeroExitCode");
  });

  test("an interruptible task runs on spot except on its last attempt", async () => {
    const t = aTask("spot").interruptible().withRetries(0, 1).build();
    const h = new Harness(
      anExecutionSpec({
        name: "spot",
        closure: aWorkflow("w").withNode("t", t).closure(),
        blobRoot: "mem://b",
        hasInputs: false,
      }),
    );
    await h.round();
    const first = h.pods.pods.get("spot-t-0");
    assert.ok(
      first?.spec?.tolerations?.some((x) => x.value === "spot"),
      "first attempt tolerates spot",
    );
    const pod = h.pods.pods.get("spot-t-0");
    assert.ok(pod);
    pod.status = { phase: "Failed", reason: "Preempted", message: "spot reclaimed" };
    await h.round();
    assert.equal(h.node("t").systemFailures, 1);
    const last = h.pods.pods.get("spot-t-1");
    assert.ok(last, "retried");
    assert.equal(last.spec?.tolerations, undefined, "last attempt has no spot toleration");
    assert.equal(last.metadata?.labels?.["flotilla.io/interruptible"], undefined);
  });

  test("max parallelism holds ready nodes in QUEUED", async () => {
    const t = aTask("t").build();
    const wf = aWorkflow("fan").withNode("a", t).withNode("b", t).withNode("c", t).closure();
    const h = new Harness(
      anExecutionSpec({ name: "par", closure: wf, blobRoot: "mem://b", hasInputs: false, maxParallelism: 2 }),
    );
    await h.round();
    assert.equal(h.pods.pods.size, 2);
    assert.equal(h.node("c").phase, NodeExecution_Phase.QUEUED);
    assert.equal(h.node("c").waiting?.reason, "MaxParallelismReached");
    h.pods.finish("par-a-0", "Succeeded");
    await h.round();
    assert.ok(h.pods.pods.has("par-c-0"));
    assert.equal(h.node("c").phase, NodeExecution_Phase.RUNNING);
  });

  test("a timed-out attempt is deleted and the node ends TIMED_OUT without retries", async () => {
    const t = aTask("slow").withTimeout(1_000).build();
    const h = new Harness(
      anExecutionSpec({
        name: "slow",
        closure: aWorkflow("w").withNode("t", t).closure(),
        blobRoot: "mem://b",
        hasInputs: false,
      }),
    );
    await h.round();
    h.pods.finish("slow-t-0", "Running");
    h.now = new Date();
    await h.round();
    assert.ok(h.lastRequeue !== undefined && h.lastRequeue <= 1_000, "requeued at the deadline");
    h.now = new Date(Date.now() + 2_000);
    await h.round();
    assert.equal(h.node("t").phase, NodeExecution_Phase.TIMED_OUT);
    assert.deepEqual(h.pods.deleted, ["slow-t-0"]);
  });

  test("abort deletes running pods, releases tokens and ends ABORTED", async () => {
    const t = aTask("wh").needing("warehouse").build();
    const h = new Harness(
      anExecutionSpec({
        name: "ab",
        closure: aWorkflow("w").withNode("t", t).closure(),
        blobRoot: "mem://b",
        hasInputs: false,
      }),
    );
    h.tokens = new FakeTokens({ warehouse: 1 });
    await h.round();
    assert.equal(h.tokens.held.size, 1);
    h.abortCause = "user asked";
    await h.round();
    assert.equal(h.status.phase, WorkflowExecution_Phase.ABORTED);
    assert.equal(h.node("t").phase, NodeExecution_Phase.ABORTED);
    assert.deepEqual(h.pods.deleted, ["ab-t-0"]);
    assert.equal(h.tokens.held.size, 0, "nothing is held by an aborted task");
  });

  test("a task needing tokens waits with its queue position and releases on success", async () => {
    const t = aTask("wh").needing("warehouse").build();
    const wf = aWorkflow("w").withNode("a", t).withNode("b", t).closure();
    const h = new Harness(
      anExecutionSpec({ name: "tok", closure: wf, blobRoot: "mem://b", hasInputs: false }),
    );
    h.tokens = new FakeTokens({ warehouse: 1 });
    await h.round();
    assert.equal(h.node("a").phase, NodeExecution_Phase.RUNNING);
    assert.equal(h.node("b").phase, NodeExecution_Phase.QUEUED);
    assert.equal(h.node("b").taskPhase, TaskExecution_Phase.WAITING_FOR_RESOURCES);
    assert.equal(h.node("b").waiting?.queuePosition, 1);
    assert.equal(h.pods.pods.has("tok-b-0"), false);
    h.pods.finish("tok-a-0", "Succeeded");
    await h.round();
    assert.equal(h.node("a").phase, NodeExecution_Phase.SUCCEEDED);
    assert.equal(h.node("b").phase, NodeExecution_Phase.RUNNING);
    assert.equal(h.tokens.held.size, 1);
    h.pods.finish("tok-b-0", "Succeeded");
    await h.round();
    assert.equal(h.status.phase, WorkflowExecution_Phase.SUCCEEDED);
    assert.equal(h.tokens.held.size, 0);
  });

  test("under fail-after-executable-nodes a failure skips its dependents and lets the rest finish", async () => {
    const t = aTask("t").build();
    const wf = aWorkflow("w")
      .withNode("a", t)
      .withNode("b", t)
      .withNode("c", t, {}, ["a"])
      .failingAfterExecutableNodes()
      .closure();
    const h = new Harness(
      anExecutionSpec({ name: "fa", closure: wf, blobRoot: "mem://b", hasInputs: false }),
    );
    await h.round();
    h.pods.finish("fa-a-0", "Failed");
    await h.round();
    assert.equal(h.node("c").phase, NodeExecution_Phase.SKIPPED);
    assert.equal(h.status.phase, WorkflowExecution_Phase.RUNNING, "b still runs");
    h.pods.finish("fa-b-0", "Succeeded");
    await h.round();
    assert.equal(h.status.phase, WorkflowExecution_Phase.FAILED);
  });

  test("a declared output that the task did not write fails the node as a USER error", async () => {
    const t = aTask("t").withOutput("y", SimpleType.INTEGER).build();
    const h = new Harness(
      anExecutionSpec({
        name: "noout",
        closure: aWorkflow("w").withNode("t", t).closure(),
        blobRoot: "mem://b",
        hasInputs: false,
      }),
    );
    await h.round();
    h.pods.finish("noout-t-0", "Succeeded");
    await h.round();
    assert.equal(h.node("t").phase, NodeExecution_Phase.FAILED);
    assert.equal(h.node("t").error?.code, "InvalidOutputs");
  });

  test("a simulated task with declared outputs produces zero values", async () => {
    const t = aTask("t").withOutput("y", SimpleType.INTEGER).simulated().build();
    const h = new Harness(
      anExecutionSpec({
        name: "sim",
        closure: aWorkflow("w").withNode("t", t).closure(),
        blobRoot: "mem://b",
        hasInputs: false,
      }),
    );
    await h.round();
    assert.equal(
      h.pods.pods.get("sim-t-0")?.metadata?.annotations?.["sandbox.flotilla.io/duration"],
      "100ms",
    );
    h.pods.finish("sim-t-0", "Succeeded");
    await h.round();
    assert.equal(h.node("t").phase, NodeExecution_Phase.SUCCEEDED);
    const out = await h.io.readLiteralMap(h.node("t").outputsUri);
    assert.ok(out.literals.y);
  });

  test("replaying the current state re-creates the last events under their original ids", async () => {
    const h = await diamond();
    await h.round();
    await h.succeed("exec1-a-0", "a", 0, { y: 2 });
    await h.round();
    const original = new Map(h.events.map((e) => [e.event.value?.eventId, e]));
    const ctx = new RoundContext(
      {
        namespace: "flotilla-development",
        name: "exec1",
        uid: "uid-1",
        spec: h.spec,
        graph: buildGraph(
          h.spec.workflow.case === "closure" ? h.spec.workflow.value : assert.fail("closure"),
        ),
      },
      clone(WorkflowExecutionStatusSchema, h.status),
      h.pods.pods,
      new Date(),
      { pods: h.pods, io: h.io },
      { ...DEFAULT_EXECUTOR_CONFIG, clusterId: "c1" },
    );
    ctx.replayCurrentState();
    const replayed = ctx.events.map((e) => e.event.value?.eventId);
    // workflow RUNNING, node a SUCCEEDED, b and c RUNNING with their task QUEUED.
    assert.equal(replayed.length, 6);
    for (const id of replayed) assert.ok(original.has(id), `replayed id ${id} was emitted before`);
    const nodeA = ctx.events.find((e) => e.event.case === "nodeEvent" && e.event.value.id?.nodeId === "a");
    assert.equal(
      nodeA?.event.case === "nodeEvent" ? nodeA.event.value.phase : undefined,
      NodeExecution_Phase.SUCCEEDED,
    );
  });
});
