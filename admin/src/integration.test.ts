import assert from "node:assert/strict";
import { after, before, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { CustomObjectsApi, KubeConfig } from "@kubernetes/client-node";
import { WorkflowExecutionResource, executionNamespace } from "@flotilla/common";
import {
  EventResult_Outcome,
  ExecutionSpecSchema,
  ProjectSchema,
  ResourceType,
  WorkflowExecution_Phase,
} from "@flotilla/proto";
import { startCluster, type SandboxCluster } from "@flotilla/sandbox";
import { eachDatabase, eventually, tempDir } from "@flotilla/testing";
import { ADMIN_MIGRATIONS_DIR, startAdmin } from "./admin.js";
import { resolveAdminConfig } from "./config.js";
import { silentLogger } from "./logger.js";
import {
  DOMAIN,
  INTEGER,
  PROJECT,
  aTask,
  aWorkflow,
  fromInput,
  idOf,
  int,
  workflowEvent,
} from "./testing/builders.js";

let cluster: SandboxCluster;
before(async () => {
  cluster = await startCluster({ name: "sbx", kubelet: false });
});
after(() => cluster.stop());

function crApi(): CustomObjectsApi {
  const kc = new KubeConfig();
  kc.loadFromString(cluster.kubeconfig);
  return kc.makeApiClient(CustomObjectsApi);
}

async function getCr(name: string): Promise<Record<string, unknown> | undefined> {
  try {
    return (await crApi().getNamespacedCustomObject({
      group: WorkflowExecutionResource.group,
      version: WorkflowExecutionResource.version,
      namespace: executionNamespace(PROJECT, DOMAIN),
      plural: WorkflowExecutionResource.plural,
      name,
    })) as Record<string, unknown>;
  } catch (err) {
    if ((err as { code?: number }).code === 404) return undefined;
    throw err;
  }
}

eachDatabase("admin with routing to a sandbox cluster", { migrations: ADMIN_MIGRATIONS_DIR }, (ctx) => {
  it("places an execution on the cluster as a WorkflowExecution CR, accepts only that cluster's events, and deletes the CR on terminate", async (t) => {
    const blobs = tempDir({ t });
    const config = resolveAdminConfig({
      server: { port: 0, host: "127.0.0.1" },
      blobStore: { url: `file://${blobs.path}` },
      clusters: [{ name: "sbx", kubeconfigInline: cluster.kubeconfig }],
    });
    const running = await startAdmin(config, { database: ctx.db(), logger: silentLogger });
    t.after(() => running.stop());
    const admin = running.admin;
    await admin.projects.register(create(ProjectSchema, { id: PROJECT }));
    await admin.tasks.create(aTask("double").withInput("x", INTEGER).withOutput("y", INTEGER).build());
    await admin.workflows.create(
      aWorkflow("single")
        .withInput("n", INTEGER)
        .withNode("a", "double")
        .binding("x", fromInput("n"))
        .build(),
    );
    const created = await admin.executionManager.create(
      PROJECT,
      DOMAIN,
      "onsbx",
      create(ExecutionSpecSchema, {
        target: { case: "workflow", value: idOf(ResourceType.WORKFLOW, "single") },
        inputs: { literals: { n: int(5) } },
      }),
    );
    assert.equal(created.placement?.state, "placed");
    const execution = await admin.executionManager.get(created.id);
    assert.equal(execution.closure?.cluster, "sbx");

    const cr = await getCr("onsbx");
    assert.ok(cr, "the WorkflowExecution CR exists on the cluster");
    const spec = cr.spec as { inputsUri: string; executionId: { name: string } };
    assert.equal(spec.executionId.name, "onsbx");
    assert.equal(spec.inputsUri, `${admin.blobs.root}/${PROJECT}/${DOMAIN}/onsbx/inputs.pb`);
    assert.equal(
      (cr.metadata as { labels: Record<string, string> }).labels["flotilla.io/execution"],
      "onsbx",
    );

    const now = Date.now();
    const [fromSbx] = await admin.events.ingest("sbx", [
      workflowEvent("onsbx", "sbx", "r1", WorkflowExecution_Phase.RUNNING, 1, now),
    ]);
    assert.equal(fromSbx.outcome, EventResult_Outcome.ACCEPTED);
    const [fromOther] = await admin.events.ingest("elsewhere", [
      workflowEvent("onsbx", "elsewhere", "x1", WorkflowExecution_Phase.FAILED, 2, now),
    ]);
    assert.equal(fromOther.reason, "IncompatibleCluster");

    await admin.executionManager.terminate(created.id, "no longer needed");
    await eventually(async () => assert.equal(await getCr("onsbx"), undefined), {
      timeout: 10_000,
      interval: 50,
    });
    assert.equal(
      (await admin.executionManager.get(created.id)).closure?.phase,
      WorkflowExecution_Phase.ABORTED,
    );
  });
});
