// AdminService handlers through an in-memory router transport: request validation, error codes,
// node/task execution reads, the event log, and an answer from every method.
import assert from "node:assert/strict";
import { it } from "node:test";
import { equals } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, createRouterTransport, type Client } from "@connectrpc/connect";
import {
  AdminService,
  EventResult_Outcome,
  EventSchema,
  NodeExecution_Phase,
  ResourceType,
  TaskExecution_Phase,
  WorkflowExecution_Phase,
} from "@flotilla/proto";
import { eachDatabase, tempDir, type DatabaseTestContext } from "@flotilla/testing";
import { ADMIN_MIGRATIONS_DIR, createAdmin, type Admin } from "../admin.js";
import { resolveAdminConfig } from "../config.js";
import { silentLogger } from "../logger.js";
import {
  DOMAIN,
  INTEGER,
  PROJECT,
  STRING,
  aTask,
  aWorkflow,
  constInt,
  fromInput,
  fromNode,
  idOf,
  int,
  nodeEvent,
  taskEvent,
  workflowEvent,
} from "../testing/builders.js";
import { testAdmin, type ScriptedPlacer } from "../testing/harness.js";
import { rpcInterceptor } from "./errors.js";

async function client(
  ctx: DatabaseTestContext,
  t: { after(fn: () => unknown): unknown },
): Promise<{ c: Client<typeof AdminService>; placer: ScriptedPlacer; admin: Admin }> {
  const { admin, placer } = await testAdmin(ctx.db(), t);
  const transport = createRouterTransport((router) => router.service(AdminService, admin.service), {
    router: { interceptors: [rpcInterceptor(admin.metrics, silentLogger)] },
  });
  return { c: createClient(AdminService, transport), placer, admin };
}

/** Registers task "double" and workflow "wf" (one node "a" running it) and starts execution `name`. */
async function runOfOneTaskWorkflow(c: Client<typeof AdminService>, name: string) {
  await c.createTask({ template: aTask("double").withInput("x", INTEGER).withOutput("y", INTEGER).build() });
  await c.createWorkflow({
    template: aWorkflow("wf")
      .withInput("n", INTEGER)
      .withNode("a", "double")
      .binding("x", fromInput("n"))
      .build(),
  });
  const { id } = await c.createExecution({
    project: PROJECT,
    domain: DOMAIN,
    name,
    spec: {
      target: { case: "workflow", value: idOf(ResourceType.WORKFLOW, "wf") },
      inputs: { literals: { n: int(1) } },
    },
  });
  return id!;
}

async function code(p: Promise<unknown>): Promise<{ code: Code; message: string }> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ConnectError, `expected a ConnectError, got ${String(err)}`);
    return { code: err.code, message: err.rawMessage };
  }
  assert.fail("the call unexpectedly succeeded");
}

function childNodeEvent(execution: string, cluster: string, nodeId: string, parent: string, atMs: number) {
  const ev = nodeEvent(execution, cluster, `child-${nodeId}`, nodeId, NodeExecution_Phase.RUNNING, 1, atMs);
  if (ev.event.case === "nodeEvent") ev.event.value.parentNodeId = parent;
  return ev;
}

eachDatabase("AdminService handlers", { migrations: ADMIN_MIGRATIONS_DIR }, (ctx) => {
  it("maps domain errors to Connect codes and hides unexpected causes", async (t) => {
    const { c, placer } = await client(ctx, t);
    await c.createTask({
      template: aTask("double").withInput("x", INTEGER).withOutput("y", INTEGER).build(),
    });
    await c.createTask({ template: aTask("shout").withInput("s", STRING).withOutput("o", STRING).build() });
    const mismatch = aWorkflow("bad")
      .withNode("a", "double")
      .binding("x", constInt(1))
      .withNode("b", "shout")
      .binding("s", fromNode("a", "y"))
      .build();
    const compile = await code(c.createWorkflow({ template: mismatch }));
    assert.equal(compile.code, Code.InvalidArgument);
    assert.match(compile.message, /node "b" variable "s": expected string, got integer/);
    assert.equal(
      (await code(c.getExecution({ id: { project: PROJECT, domain: DOMAIN, name: "nope" } }))).code,
      Code.NotFound,
    );
    assert.equal(
      (await code(c.getTask({ id: idOf(ResourceType.WORKFLOW, "double") }))).code,
      Code.InvalidArgument,
    );
    const changed = aTask("double").withInput("x", STRING).build();
    assert.equal((await code(c.createTask({ template: changed }))).code, Code.AlreadyExists);
    assert.equal(
      (await code(c.ingestEvents({ producerCluster: "alpha", events: [] }))).code,
      Code.InvalidArgument,
    );

    await c.createWorkflow({
      template: aWorkflow("wf")
        .withInput("n", INTEGER)
        .withNode("a", "double")
        .binding("x", fromInput("n"))
        .build(),
    });
    placer.failNext = new Error("secret connection string postgres://u:p@db");
    const internal = await code(
      c.createExecution({
        project: PROJECT,
        domain: DOMAIN,
        name: "boom",
        spec: {
          target: { case: "workflow", value: idOf(ResourceType.WORKFLOW, "wf") },
          inputs: { literals: { n: int(1) } },
        },
      }),
    );
    assert.equal(internal.code, Code.Internal);
    assert.doesNotMatch(internal.message, /secret|postgres/);
  });

  it("serves node and task executions derived from ingested events", async (t) => {
    const { c } = await client(ctx, t);
    const id = await runOfOneTaskWorkflow(c, "run");
    const t0 = Date.UTC(2026, 0, 1);
    const { results } = await c.ingestEvents({
      producerCluster: "alpha",
      events: [
        workflowEvent("run", "alpha", "w1", WorkflowExecution_Phase.RUNNING, 1, t0),
        nodeEvent("run", "alpha", "n1", "a", NodeExecution_Phase.RUNNING, 1, t0 + 1000),
        taskEvent("run", "alpha", "t0", "a", 0, TaskExecution_Phase.RUNNING, 0, t0 + 1000),
        taskEvent("run", "alpha", "t0f", "a", 0, TaskExecution_Phase.RETRYABLE_FAILED, 0, t0 + 2000),
        taskEvent("run", "alpha", "t1", "a", 1, TaskExecution_Phase.SUCCEEDED, 0, t0 + 3000),
        nodeEvent("run", "alpha", "n2", "a", NodeExecution_Phase.SUCCEEDED, 2, t0 + 4000),
        nodeEvent("run", "alpha", "b1", "b", NodeExecution_Phase.RUNNING, 1, t0 + 1000),
        childNodeEvent("run", "alpha", "b-0", "b", t0 + 1500),
      ],
    });
    assert.ok(
      results.every((r) => r.outcome === EventResult_Outcome.ACCEPTED),
      JSON.stringify(results),
    );
    const { nodeExecutions } = await c.listNodeExecutions({ executionId: id, sort: { key: "node_id" } });
    assert.deepEqual(
      nodeExecutions.map((n) => [n.id?.nodeId, n.closure?.phase]),
      [
        ["a", NodeExecution_Phase.SUCCEEDED],
        ["b", NodeExecution_Phase.RUNNING],
      ],
    );
    assert.equal(nodeExecutions[0].metadata?.taskId?.name, "t");
    assert.equal(nodeExecutions[1].metadata?.isParentNode, true);
    const children = await c.listNodeExecutions({ executionId: id, parentNodeId: "b" });
    assert.deepEqual(
      children.nodeExecutions.map((n) => n.id?.nodeId),
      ["b-0"],
    );
    assert.equal(Number(nodeExecutions[0].closure?.duration?.seconds), 3);
    const { taskExecutions } = await c.listTaskExecutions({
      nodeExecutionId: { executionId: id, nodeId: "a" },
    });
    assert.deepEqual(
      taskExecutions.map((x) => [x.id?.retryAttempt, x.closure?.phase]),
      [
        [0, TaskExecution_Phase.RETRYABLE_FAILED],
        [1, TaskExecution_Phase.SUCCEEDED],
      ],
    );
    const one = await c.getTaskExecution({
      id: {
        taskId: idOf(ResourceType.TASK, "t"),
        nodeExecutionId: { executionId: id, nodeId: "a" },
        retryAttempt: 1,
      },
    });
    assert.equal(one.taskExecution?.closure?.phase, TaskExecution_Phase.SUCCEEDED);
    assert.equal(
      (await code(c.getNodeExecution({ id: { executionId: id, nodeId: "zzz" } }))).code,
      Code.NotFound,
    );
  });

  it("reads the event log: positions from 1, paged by token, filtered by node, events as received", async (t) => {
    const { c, admin } = await client(ctx, t);
    const id = await runOfOneTaskWorkflow(c, "logged");
    const t0 = Date.UTC(2026, 0, 1);
    const sent = [
      workflowEvent("logged", "alpha", "w1", WorkflowExecution_Phase.RUNNING, 1, t0),
      nodeEvent("logged", "alpha", "a1", "a", NodeExecution_Phase.RUNNING, 1, t0 + 1000),
      nodeEvent("logged", "alpha", "b1", "b", NodeExecution_Phase.RUNNING, 1, t0 + 1000),
      taskEvent("logged", "alpha", "a-t0", "a", 0, TaskExecution_Phase.RUNNING, 0, t0 + 1500),
      taskEvent("logged", "alpha", "a-t0s", "a", 0, TaskExecution_Phase.SUCCEEDED, 0, t0 + 2000),
      nodeEvent("logged", "alpha", "a2", "a", NodeExecution_Phase.SUCCEEDED, 2, t0 + 2500),
    ];
    await c.ingestEvents({ producerCluster: "alpha", events: sent });
    // A duplicate changes nothing, so the log does not repeat it.
    await c.ingestEvents({ producerCluster: "alpha", events: [sent[1]] });

    const eventIdOf = (e: { event?: { event: { value?: { eventId: string } } } }) =>
      e.event?.event.value?.eventId ?? "";
    const pages: string[][] = [];
    const all = [];
    let pageToken = "";
    do {
      const page = await c.listExecutionEvents({ executionId: id, pageSize: 3, pageToken });
      pages.push(page.events.map(eventIdOf));
      all.push(...page.events);
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
    assert.deepEqual(pages, [["admin:created", "w1", "a1"], ["b1", "a-t0", "a-t0s"], ["a2"]]);
    assert.deepEqual(
      all.map((e) => Number(e.sequence)),
      [1, 2, 3, 4, 5, 6, 7],
    );
    assert.deepEqual(
      all.map((e) => e.producerCluster),
      ["admin", "alpha", "alpha", "alpha", "alpha", "alpha", "alpha"],
    );
    assert.ok(all.every((e) => e.outcome === EventResult_Outcome.ACCEPTED && e.receivedAt !== undefined));
    all.slice(1).forEach((stored, i) => {
      assert.ok(
        stored.event && equals(EventSchema, stored.event, sent[i]),
        `event ${i} differs from what was sent`,
      );
    });

    const ofNode = await c.listExecutionEvents({ executionId: id, nodeId: "a" });
    assert.deepEqual(
      ofNode.events.map((e) => [Number(e.sequence), eventIdOf(e)]),
      [
        [3, "a1"],
        [5, "a-t0"],
        [6, "a-t0s"],
        [7, "a2"],
      ],
    );
    assert.equal(ofNode.nextPageToken, "");
    const later = await c.listExecutionEvents({
      executionId: id,
      nodeId: "a",
      afterSequence: 5n,
      pageSize: 1,
    });
    assert.deepEqual(later.events.map(eventIdOf), ["a-t0s"]);
    const rest = await c.listExecutionEvents({
      executionId: id,
      nodeId: "a",
      pageToken: later.nextPageToken,
    });
    assert.deepEqual(rest.events.map(eventIdOf), ["a2"]);
    assert.deepEqual((await c.listExecutionEvents({ executionId: id, nodeId: "zzz" })).events, []);

    // Events logged before the log kept their node: admin's start-up backfill reads it from the payload.
    await admin.db.query("UPDATE execution_events SET node_id = NULL");
    assert.deepEqual((await c.listExecutionEvents({ executionId: id, nodeId: "a" })).events, []);
    assert.equal(await admin.events.backfillLogNodeIds(), 7);
    assert.deepEqual((await c.listExecutionEvents({ executionId: id, nodeId: "a" })).events.map(eventIdOf), [
      "a1",
      "a-t0",
      "a-t0s",
      "a2",
    ]);
    assert.equal(await admin.events.backfillLogNodeIds(), 0);

    assert.equal((await code(c.listExecutionEvents({}))).code, Code.InvalidArgument);
    assert.equal(
      (await code(c.listExecutionEvents({ executionId: { project: PROJECT, domain: DOMAIN, name: "nope" } })))
        .code,
      Code.NotFound,
    );
    assert.equal(
      (await code(c.listExecutionEvents({ executionId: id, pageToken: "bogus" }))).code,
      Code.InvalidArgument,
    );
    assert.equal(
      (await code(c.listExecutionEvents({ executionId: id, pageSize: 1001 }))).code,
      Code.InvalidArgument,
    );
  });

  it("answers every AdminService method: what is not built yet says so and names its issue", async (t) => {
    const blobs = tempDir({ t });
    const config = resolveAdminConfig({ blobStore: { url: `file://${blobs.path}` } });
    const admin = await createAdmin(config, { database: ctx.db(), logger: silentLogger });
    t.after(() => admin.stop());
    const transport = createRouterTransport((router) => router.service(AdminService, admin.service), {
      router: { interceptors: [rpcInterceptor(admin.metrics, silentLogger)] },
    });
    const untyped = createClient(AdminService, transport) as unknown as Record<
      string,
      (req: object) => Promise<unknown>
    >;
    const unimplemented: string[] = [];
    for (const method of AdminService.methods) {
      assert.equal(
        typeof admin.service[method.localName as keyof typeof admin.service],
        "function",
        method.name,
      );
      try {
        await untyped[method.localName]({});
      } catch (err) {
        const e = ConnectError.from(err);
        if (e.code !== Code.Unimplemented) continue;
        assert.match(e.rawMessage, /^\w+ is not built yet \(issue \d+: [a-z ]+\)$/, method.name);
        unimplemented.push(method.name);
      }
    }
    assert.deepEqual(unimplemented, [
      "CreateRollout",
      "GetRollout",
      "ListRollouts",
      "PauseRollout",
      "ResumeRollout",
      "PromoteRollout",
      "AbortRollout",
    ]);
  });
});
