import assert from "node:assert/strict";
import { it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { ADMIN_MIGRATIONS_DIR, resolveAdminConfig, silentLogger, startAdmin } from "@flotilla/admin";
import { readLiteralMap } from "@flotilla/common";
import {
  ExecutionSpecSchema,
  ListNodeExecutionsRequestSchema,
  ListTaskExecutionsRequestSchema,
  NodeExecution_Phase,
  ProjectSchema,
  SimpleType,
  TaskExecution_Phase,
  WorkflowExecution_Phase,
} from "@flotilla/proto";
import {
  aTask,
  aWorkflow,
  adminTransport,
  createAdminClient,
  fromNode,
  installCrd,
  kubeConfigFrom,
  startPropeller,
} from "@flotilla/propeller";
import { startCluster } from "@flotilla/sandbox";
import { eachDatabase, eventually, tempDir } from "@flotilla/testing";

// Writes outputs.json {"y": x + 1}, x from the env (0 when the task has no input).
const INC = `require("node:fs").writeFileSync(process.env.FLOTILLA_OUTPUTS_DIR + "/outputs.json",
  JSON.stringify({ y: Number(process.env.FLOTILLA_INPUT_X ?? "0") + 1 }));`;

eachDatabase("propeller with a real admin", { migrations: ADMIN_MIGRATIONS_DIR }, (ctx) => {
  it("a diamond of process pods completes and the admin shows every node and task execution", async (t) => {
    const cluster = await startCluster({ name: "sbx", mode: "process" });
    t.after(() => cluster.stop());
    await installCrd(kubeConfigFrom(cluster.kubeconfig));
    const blobs = tempDir({ t });
    const config = resolveAdminConfig({
      server: { port: 0, host: "127.0.0.1" },
      blobStore: { url: `file://${blobs.path}` },
      clusters: [{ name: "sbx", kubeconfigInline: cluster.kubeconfig }],
    });
    const running = await startAdmin(config, { database: ctx.db(), logger: silentLogger });
    t.after(() => running.stop());
    const propeller = await startPropeller({
      kubeconfig: cluster.kubeconfig,
      clusterId: "sbx",
      admin: { url: running.url },
      leaderElection: false,
      processMetrics: false,
    });
    t.after(() => propeller.stop());

    const admin = running.admin;
    await admin.projects.register(create(ProjectSchema, { id: "flotilla" }));
    const inc = aTask("inc")
      .withInput("x", SimpleType.INTEGER)
      .withOutput("y", SimpleType.INTEGER)
      .withCommand(process.execPath, "-e", INC)
      .build();
    const src = aTask("src")
      .withOutput("y", SimpleType.INTEGER)
      .withCommand(process.execPath, "-e", INC)
      .build();
    await admin.tasks.create(inc);
    await admin.tasks.create(src);
    const closure = aWorkflow("diamond")
      .withNode("a", src)
      .withNode("b", inc, { x: fromNode("a", "y") })
      .withNode("c", inc, { x: fromNode("a", "y") })
      .withNode("d", inc, { x: fromNode("b", "y") }, ["c"])
      .withOutput("result", SimpleType.INTEGER, fromNode("d", "y"))
      .closure();
    const template = closure.primary?.template;
    assert.ok(template?.id);
    await admin.workflows.create(template);
    const created = await admin.executionManager.create(
      "flotilla",
      "development",
      "diamond",
      create(ExecutionSpecSchema, { target: { case: "workflow", value: template.id } }),
    );

    const execution = await eventually(
      async () => {
        const e = await admin.executionManager.get(created.id);
        assert.equal(e.closure?.phase, WorkflowExecution_Phase.SUCCEEDED, JSON.stringify(e.closure?.error));
        return e;
      },
      { timeout: 60_000, interval: 200 },
    );
    const outputsUri = execution.closure?.outputsUri ?? "";
    assert.ok(outputsUri, "the admin recorded the workflow outputs");
    const outputs = await readLiteralMap(admin.blobs, outputsUri);
    const r = outputs.literals.result?.value;
    assert.equal(
      r?.case === "scalar" && r.value.value.case === "primitive"
        ? r.value.value.value.value.value
        : undefined,
      3n,
    );

    const client = createAdminClient(adminTransport(running.url));
    const nodes = await client.listNodeExecutions(
      create(ListNodeExecutionsRequestSchema, { executionId: created.id, pageSize: 100 }),
    );
    const byId = new Map(nodes.nodeExecutions.map((n) => [n.id?.nodeId, n]));
    for (const id of ["a", "b", "c", "d"]) {
      assert.equal(byId.get(id)?.closure?.phase, NodeExecution_Phase.SUCCEEDED, `node ${id}`);
      const tasks = await client.listTaskExecutions(
        create(ListTaskExecutionsRequestSchema, { nodeExecutionId: byId.get(id)?.id, pageSize: 10 }),
      );
      assert.equal(tasks.taskExecutions.length, 1, `one task execution of ${id}`);
      assert.equal(tasks.taskExecutions[0]?.closure?.phase, TaskExecution_Phase.SUCCEEDED, `task of ${id}`);
    }
  });
});
