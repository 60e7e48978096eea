import assert from "node:assert/strict";
import { it } from "node:test";
import { create, equals, fromBinary } from "@bufbuild/protobuf";
import {
  EventResult_Outcome,
  ExecutionMetadataSchema,
  ExecutionMetadata_Mode,
  ExecutionSpecSchema,
  LaunchPlanSpecSchema,
  LiteralMapSchema,
  MatchingAttributesSchema,
  NodeExecution_Phase,
  ResourceType,
  TaskExecution_Phase,
  WorkflowExecutionSpecSchema,
  WorkflowExecution_Phase,
} from "@flotilla/proto";
import { eachDatabase } from "@flotilla/testing";
import fc from "fast-check";
import { ADMIN_MIGRATIONS_DIR, type Admin } from "../admin.js";
import { AlreadyExistsError, CompilationError, FailedPreconditionError } from "../errors.js";
import { EntityKind, phaseRank } from "../events/phases.js";
import {
  DOMAIN,
  INTEGER,
  PROJECT,
  aTask,
  aWorkflow,
  fromInput,
  fromNode,
  idOf,
  int,
  nodeEvent,
  str,
  taskEvent,
  workflowEvent,
} from "../testing/builders.js";
import { testAdmin } from "../testing/harness.js";

async function registerChain(admin: Admin): Promise<void> {
  await admin.tasks.create(aTask("double").withInput("x", INTEGER).withOutput("y", INTEGER).build());
  await admin.workflows.create(
    aWorkflow("chain")
      .withInput("n", INTEGER)
      .withNode("a", "double")
      .binding("x", fromInput("n"))
      .withOutput("out", INTEGER, fromNode("a", "y"))
      .build(),
  );
  await admin.launchPlans.create(
    idOf(ResourceType.LAUNCH_PLAN, "chain-lp"),
    create(LaunchPlanSpecSchema, { workflowId: idOf(ResourceType.WORKFLOW, "chain") }),
  );
}

function lpSpec(n: number, extra: Partial<{ clusterLabel: string; maxParallelism: number }> = {}) {
  return create(ExecutionSpecSchema, {
    target: { case: "launchPlan", value: idOf(ResourceType.LAUNCH_PLAN, "chain-lp") },
    inputs: { literals: { n: int(n) } },
    ...extra,
  });
}

const key = (name: string) => ({ project: PROJECT, domain: DOMAIN, name });

eachDatabase("admin executions and events", { migrations: ADMIN_MIGRATIONS_DIR }, (ctx) => {
  it("creates an execution: inputs validated and stored, CR spec built, placement recorded, idempotent by name", async (t) => {
    const { admin, placer } = await testAdmin(ctx.db(), t);
    await registerChain(admin);
    const created = await admin.executionManager.create(PROJECT, DOMAIN, "run1", lpSpec(4));
    assert.equal(created.alreadyExisted, false);
    assert.deepEqual(created.placement, { state: "placed", cluster: "alpha", reason: "Test" });
    const req = placer.placed[0];
    assert.equal(req.spec.inputsUri, `${admin.blobs.root}/${PROJECT}/${DOMAIN}/run1/inputs.pb`);
    assert.equal(req.spec.outputPrefix, `${admin.blobs.root}/${PROJECT}/${DOMAIN}/run1/`);
    assert.equal(req.spec.workflow.case, "closure");
    assert.equal(req.labels["flotilla.io/execution"], "run1");
    const inputs = fromBinary(LiteralMapSchema, await admin.blobs.get(req.spec.inputsUri));
    assert.deepEqual(Object.keys(inputs.literals), ["n"]);
    const execution = await admin.executionManager.get(key("run1"));
    assert.equal(execution.closure?.phase, WorkflowExecution_Phase.QUEUED);
    assert.equal(execution.closure?.cluster, "alpha");
    const again = await admin.executionManager.create(PROJECT, DOMAIN, "run1", lpSpec(4));
    assert.equal(again.alreadyExisted, true);
    assert.equal(placer.placed.length, 1);
    await assert.rejects(
      admin.executionManager.create(PROJECT, DOMAIN, "run1", lpSpec(5)),
      AlreadyExistsError,
    );
  });

  it("a create whose placement failed is completed by its retry, with the same placement request", async (t) => {
    const { admin, placer } = await testAdmin(ctx.db(), t);
    await registerChain(admin);
    placer.failNext = new Error("placer crashed");
    await assert.rejects(
      admin.executionManager.create(PROJECT, DOMAIN, "retry1", lpSpec(2)),
      /placer crashed/,
    );
    assert.equal((await admin.executionManager.get(key("retry1"))).closure?.cluster, "");
    const retried = await admin.executionManager.create(PROJECT, DOMAIN, "retry1", lpSpec(2));
    assert.equal(retried.alreadyExisted, true);
    assert.deepEqual(retried.placement, { state: "placed", cluster: "alpha", reason: "Test" });
    assert.equal((await admin.executionManager.get(key("retry1"))).closure?.cluster, "alpha");
    assert.equal(placer.placed.length, 2);
    assert.ok(equals(WorkflowExecutionSpecSchema, placer.placed[0].spec, placer.placed[1].spec));
    assert.deepEqual(placer.placed[0].labels, placer.placed[1].labels);
    const third = await admin.executionManager.create(PROJECT, DOMAIN, "retry1", lpSpec(2));
    assert.equal(third.placement, undefined);
  });

  it("a child execution inherits its parent's cluster label and nesting", async (t) => {
    const { admin, placer } = await testAdmin(ctx.db(), t);
    await registerChain(admin);
    await admin.executionManager.create(PROJECT, DOMAIN, "parent", lpSpec(1, { clusterLabel: "gpu" }));
    const child = lpSpec(2);
    child.metadata = create(ExecutionMetadataSchema, {
      mode: ExecutionMetadata_Mode.CHILD_WORKFLOW,
      parentNodeExecution: { executionId: key("parent"), nodeId: "a" },
    });
    await admin.executionManager.create(PROJECT, DOMAIN, "child", child);
    assert.equal(placer.placed.at(-1)!.clusterLabel, "gpu");
    const stored = await admin.executionManager.get(key("child"));
    assert.equal(stored.closure?.clusterLabel, "gpu");
    assert.equal(stored.spec?.metadata?.nesting, 1);
  });

  it("rejects bad inputs naming the input, and stores nothing", async (t) => {
    const { admin } = await testAdmin(ctx.db(), t);
    await registerChain(admin);
    const wrongType = create(ExecutionSpecSchema, {
      target: { case: "launchPlan", value: idOf(ResourceType.LAUNCH_PLAN, "chain-lp") },
      inputs: { literals: { n: str("x") } },
    });
    await assert.rejects(
      admin.executionManager.create(PROJECT, DOMAIN, "bad1", wrongType),
      /input "n": expected integer, got string/,
    );
    const missing = create(ExecutionSpecSchema, {
      target: { case: "launchPlan", value: idOf(ResourceType.LAUNCH_PLAN, "chain-lp") },
    });
    await assert.rejects(
      admin.executionManager.create(PROJECT, DOMAIN, "bad2", missing),
      (e: unknown) => e instanceof CompilationError && /"n": is required/.test(e.message),
    );
    const page = await admin.executionManager.list(
      PROJECT,
      DOMAIN,
      {},
      { key: "created_at", ascending: false },
      { pageSize: 0, pageToken: "" },
    );
    assert.equal(page.items.length, 0);
  });

  it("lists with phase and launch plan filters, sort and pagination", async (t) => {
    const { admin } = await testAdmin(ctx.db(), t);
    await registerChain(admin);
    for (let i = 0; i < 5; i++) await admin.executionManager.create(PROJECT, DOMAIN, `run${i}`, lpSpec(i));
    await admin.executionManager.create(
      PROJECT,
      DOMAIN,
      "direct",
      create(ExecutionSpecSchema, {
        target: { case: "workflow", value: idOf(ResourceType.WORKFLOW, "chain") },
        inputs: { literals: { n: int(1) } },
      }),
    );
    await admin.events.ingest("alpha", [
      workflowEvent("run2", "alpha", "e1", WorkflowExecution_Phase.RUNNING, 1, Date.now()),
    ]);
    const sort = { key: "name" as const, ascending: true };
    const first = await admin.executionManager.list(PROJECT, DOMAIN, {}, sort, {
      pageSize: 4,
      pageToken: "",
    });
    assert.deepEqual(
      first.items.map((e) => e.id!.name),
      ["direct", "run0", "run1", "run2"],
    );
    const second = await admin.executionManager.list(PROJECT, DOMAIN, {}, sort, {
      pageSize: 4,
      pageToken: first.nextPageToken,
    });
    assert.deepEqual(
      second.items.map((e) => e.id!.name),
      ["run3", "run4"],
    );
    assert.equal(second.nextPageToken, "");
    const running = await admin.executionManager.list(
      PROJECT,
      DOMAIN,
      { phases: [WorkflowExecution_Phase.RUNNING] },
      sort,
      { pageSize: 0, pageToken: "" },
    );
    assert.deepEqual(
      running.items.map((e) => e.id!.name),
      ["run2"],
    );
    const viaLp = await admin.executionManager.list(
      PROJECT,
      DOMAIN,
      { launchPlan: { name: "chain-lp" } },
      sort,
      { pageSize: 0, pageToken: "" },
    );
    assert.equal(viaLp.items.length, 5);
  });

  it("resolves settings most-specific-first: execution > launch plan > workflow > project-domain > project > default", async (t) => {
    const { admin, placer } = await testAdmin(ctx.db(), t);
    await registerChain(admin);
    const config = (maxParallelism: number) =>
      create(MatchingAttributesSchema, {
        target: { case: "workflowExecutionConfig", value: { maxParallelism } },
      });
    const scope = (domain = "", workflow = "", launchPlan = "") => ({
      project: PROJECT,
      domain,
      workflow,
      launchPlan,
      $typeName: "flotilla.admin.v1.AttributeScope" as const,
    });
    const parallelismOf = async (name: string, spec = lpSpec(1)) => {
      await admin.executionManager.create(PROJECT, DOMAIN, name, spec);
      return placer.placed.at(-1)!.spec.maxParallelism;
    };
    assert.equal(await parallelismOf("p0"), 0);
    await admin.attributes.update(scope(), config(2));
    assert.equal(await parallelismOf("p1"), 2);
    await admin.attributes.update(scope(DOMAIN), config(3));
    assert.equal(await parallelismOf("p2"), 3);
    await admin.attributes.update(scope(DOMAIN, "chain"), config(4));
    assert.equal(await parallelismOf("p3"), 4);
    await admin.attributes.update(scope(DOMAIN, "", "chain-lp"), config(5));
    assert.equal(await parallelismOf("p4"), 5);
    assert.equal(await parallelismOf("p5", lpSpec(1, { maxParallelism: 6 })), 6);
  });

  it("ingests events idempotently, refuses foreign clusters and unplaced executions, derives nodes and tasks", async (t) => {
    const { admin } = await testAdmin(ctx.db(), t);
    await registerChain(admin);
    await admin.executionManager.create(PROJECT, DOMAIN, "run1", lpSpec(1));
    await admin.executionManager.create(PROJECT, DOMAIN, "queued", lpSpec(1, { clusterLabel: "nowhere" }));
    const now = Date.now();
    const batch = [
      workflowEvent("run1", "alpha", "w1", WorkflowExecution_Phase.RUNNING, 1, now),
      nodeEvent("run1", "alpha", "n1", "a", NodeExecution_Phase.RUNNING, 1, now + 1),
      taskEvent("run1", "alpha", "t1", "a", 0, TaskExecution_Phase.RUNNING, 0, now + 2),
      workflowEvent("run1", "alpha", "w1", WorkflowExecution_Phase.RUNNING, 1, now),
      workflowEvent("queued", "alpha", "q1", WorkflowExecution_Phase.RUNNING, 1, now),
      workflowEvent("ghost", "alpha", "g1", WorkflowExecution_Phase.RUNNING, 1, now),
      workflowEvent("run1", "alpha", "w0", WorkflowExecution_Phase.QUEUED, 0, now),
    ];
    const results = await admin.events.ingest("alpha", batch);
    assert.deepEqual(
      results.map((r) => [r.index, EventResult_Outcome[r.outcome], r.reason]),
      [
        [0, "ACCEPTED", ""],
        [1, "ACCEPTED", ""],
        [2, "ACCEPTED", ""],
        [3, "DUPLICATE", ""],
        [4, "REJECTED", "IncompatibleCluster"],
        [5, "REJECTED", "ExecutionNotFound"],
        [6, "REJECTED", "PhaseRegression"],
      ],
    );
    assert.equal(results[4].detail.case, "incompatibleCluster");
    const foreign = await admin.events.ingest("beta", [
      workflowEvent("run1", "beta", "b1", WorkflowExecution_Phase.SUCCEEDED, 2, now + 5),
    ]);
    assert.equal(foreign[0].reason, "IncompatibleCluster");
    assert.deepEqual(
      foreign[0].detail.case === "incompatibleCluster" && [
        foreign[0].detail.value.expectedCluster,
        foreign[0].detail.value.actualCluster,
      ],
      ["alpha", "beta"],
    );
    const stored = await admin.events.stored(key("run1"));
    assert.equal(stored.execution.phase, WorkflowExecution_Phase.RUNNING);
    assert.equal(stored.nodes[0]?.node.closure?.phase, NodeExecution_Phase.RUNNING);
    assert.equal(stored.tasks[0]?.closure?.phase, TaskExecution_Phase.RUNNING);
    assert.deepEqual(await admin.events.replay(key("run1")), stored);
    const again = await admin.events.ingest("alpha", batch.slice(0, 3));
    assert.deepEqual(
      again.map((r) => EventResult_Outcome[r.outcome]),
      ["DUPLICATE", "DUPLICATE", "DUPLICATE"],
    );
  });

  it("counts finished executions with their duration and ended task attempts by project, domain and phase, once each", async (t) => {
    const { admin } = await testAdmin(ctx.db(), t);
    await registerChain(admin);
    await admin.executionManager.create(PROJECT, DOMAIN, "ok", lpSpec(1));
    await admin.executionManager.create(PROJECT, DOMAIN, "bad", lpSpec(1));
    await admin.executionManager.create(PROJECT, DOMAIN, "running", lpSpec(1));
    const now = Date.now();
    const batch = [
      workflowEvent("ok", "alpha", "o1", WorkflowExecution_Phase.RUNNING, 1, now),
      taskEvent("ok", "alpha", "o2", "a", 0, TaskExecution_Phase.RUNNING, 0, now),
      taskEvent("ok", "alpha", "o3", "a", 0, TaskExecution_Phase.RETRYABLE_FAILED, 1, now + 1),
      taskEvent("ok", "alpha", "o4", "a", 1, TaskExecution_Phase.SUCCEEDED, 0, now + 2),
      workflowEvent("ok", "alpha", "o5", WorkflowExecution_Phase.SUCCEEDED, 2, now + 3_000),
      workflowEvent("bad", "alpha", "b1", WorkflowExecution_Phase.RUNNING, 1, now),
      workflowEvent("bad", "alpha", "b2", WorkflowExecution_Phase.FAILED, 2, now + 1),
      workflowEvent("running", "alpha", "r1", WorkflowExecution_Phase.RUNNING, 1, now),
    ];
    await admin.events.ingest("alpha", batch);
    // Redelivered events and an illegal late transition count nothing again.
    await admin.events.ingest("alpha", [
      ...batch,
      workflowEvent("bad", "alpha", "b3", WorkflowExecution_Phase.SUCCEEDED, 3, now + 2),
    ]);
    const values = async (name: string) =>
      ((await admin.metrics.registry.getSingleMetric(name)?.get())?.values ?? []).map(
        (v) =>
          `${v.labels.project}/${v.labels.domain}/${v.labels.phase}${"le" in v.labels ? `/le=${v.labels.le}` : ""}=${v.value}`,
      );
    assert.deepEqual((await values("flotilla_admin_executions_finished_total")).sort(), [
      `${PROJECT}/${DOMAIN}/FAILED=1`,
      `${PROJECT}/${DOMAIN}/SUCCEEDED=1`,
    ]);
    assert.deepEqual((await values("flotilla_admin_task_attempts_finished_total")).sort(), [
      `${PROJECT}/${DOMAIN}/RETRYABLE_FAILED=1`,
      `${PROJECT}/${DOMAIN}/SUCCEEDED=1`,
    ]);
    // The SUCCEEDED execution ran about 3 s from its creation: in the 5 s bucket, not the 2.5 s one.
    const durations = await values("flotilla_admin_execution_duration_seconds");
    assert.ok(durations.includes(`${PROJECT}/${DOMAIN}/SUCCEEDED/le=2.5=0`), durations.join(" "));
    assert.ok(durations.includes(`${PROJECT}/${DOMAIN}/SUCCEEDED/le=5=1`), durations.join(" "));
  });

  it("terminates: ABORTED with the cause, CR deleted from its cluster, terminal executions refuse", async (t) => {
    const { admin, placer } = await testAdmin(ctx.db(), t);
    await registerChain(admin);
    await admin.executionManager.create(PROJECT, DOMAIN, "run1", lpSpec(1));
    await admin.executionManager.terminate(key("run1"), "user asked");
    const e = await admin.executionManager.get(key("run1"));
    assert.equal(e.closure?.phase, WorkflowExecution_Phase.ABORTED);
    assert.equal(e.closure?.abortCause, "user asked");
    assert.deepEqual(placer.terminated, [{ execution: key("run1"), cluster: "alpha" }]);
    await assert.rejects(admin.executionManager.terminate(key("run1"), "again"), FailedPreconditionError);
    const late = await admin.events.ingest("alpha", [
      workflowEvent("run1", "alpha", "late", WorkflowExecution_Phase.SUCCEEDED, 9, Date.now()),
    ]);
    assert.equal(late[0].reason, "AlreadyTerminal");
    assert.deepEqual(await admin.events.replay(key("run1")), await admin.events.stored(key("run1")));

    const recovered = await admin.executionManager.recover(key("run1"), "run1-again");
    const again = await admin.executionManager.get(recovered);
    assert.equal(again.spec?.metadata?.mode, ExecutionMetadata_Mode.RECOVERED);
    assert.equal(again.spec?.metadata?.referenceExecution?.name, "run1");
    const data = await admin.executionManager.data(recovered);
    assert.deepEqual(data.fullInputs?.literals.n, int(1));
  });

  it("property: duplicated, reordered event streams never regress a phase and replay equals the stored state", async (t) => {
    const { admin } = await testAdmin(ctx.db(), t);
    await registerChain(admin);
    const W = WorkflowExecution_Phase;
    const N = NodeExecution_Phase;
    const T = TaskExecution_Phase;
    const t0 = Date.UTC(2026, 0, 1);
    let run = 0;
    // A legal history as a propeller would emit it; the property delivers it shuffled, with duplicates, in batches.
    const history = (name: string) => [
      workflowEvent(name, "alpha", "w-run", W.RUNNING, 1, t0 + 1),
      nodeEvent(name, "alpha", "n-q", "a", N.QUEUED, 1, t0 + 2),
      nodeEvent(name, "alpha", "n-r", "a", N.RUNNING, 2, t0 + 3),
      taskEvent(name, "alpha", "t0-q", "a", 0, T.QUEUED, 0, t0 + 4),
      taskEvent(name, "alpha", "t0-r", "a", 0, T.RUNNING, 0, t0 + 5),
      taskEvent(name, "alpha", "t0-r1", "a", 0, T.RUNNING, 1, t0 + 6),
      taskEvent(name, "alpha", "t0-f", "a", 0, T.RETRYABLE_FAILED, 0, t0 + 7),
      taskEvent(name, "alpha", "t1-r", "a", 1, T.RUNNING, 0, t0 + 8),
      taskEvent(name, "alpha", "t1-s", "a", 1, T.SUCCEEDED, 0, t0 + 9),
      nodeEvent(name, "alpha", "n-s", "a", N.SUCCEEDED, 3, t0 + 10),
      workflowEvent(name, "alpha", "w-sing", W.SUCCEEDING, 2, t0 + 11),
      workflowEvent(name, "alpha", "w-done", W.SUCCEEDED, 3, t0 + 12),
    ];
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.nat(11), { minLength: 1, maxLength: 24 }),
        fc.integer({ min: 1, max: 6 }),
        async (order, batchSize) => {
          const name = `prop${run++}`;
          await admin.executionManager.create(PROJECT, DOMAIN, name, lpSpec(1));
          const events = history(name);
          let lastRank = -1;
          for (let i = 0; i < order.length; i += batchSize) {
            await admin.events.ingest(
              "alpha",
              order.slice(i, i + batchSize).map((j) => events[j]),
            );
            const phase = (await admin.events.stored(key(name))).execution.phase;
            const rank = phaseRank(EntityKind.Workflow, phase);
            assert.ok(rank >= lastRank, `workflow phase regressed to ${W[phase]}`);
            lastRank = rank;
          }
          assert.deepEqual(await admin.events.replay(key(name)), await admin.events.stored(key(name)));
        },
      ),
      { numRuns: 12 },
    );
  });
});
