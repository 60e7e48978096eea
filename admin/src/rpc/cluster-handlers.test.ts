// eachDatabase bodies stay flat: its afterEach does not reach tests of nested describes.
// The cluster registry, heartbeat, routing-rule and explain RPCs through an in-memory Connect
// transport, on every database backend, with a scripted data plane.
import { recordingLogger } from "@flotilla/common";
import assert from "node:assert/strict";
import { after, afterEach, test } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { openBlobStore } from "@flotilla/common";
import { AdminService, Cluster_Health, Cluster_State, DomainSchema, ProjectSchema } from "@flotilla/proto";
import { eachDatabase, eventually, tempDir } from "@flotilla/testing";
import { Registry } from "prom-client";
import type { DataPlane } from "../dataplane/data-plane.js";
import { ClusterUnreachableError } from "../dataplane/errors.js";
import { silentLogger } from "../logger.js";
import { rpcInterceptor } from "./errors.js";
import { ProjectLookup } from "../manager/project-lookup.js";
import { PostgresAttributesRepository } from "../repository/attributes-repository.js";
import type { ExecutionPlacementRepository } from "../repository/execution-placement.js";
import { PostgresExecutionRepository } from "../repository/execution-repository.js";
import { PostgresRegistryRepository } from "../repository/registry-repository.js";
import { createRoutingSubsystem, type RoutingSubsystem } from "../routing-subsystem.js";
import { CLUSTER_LABEL_KEY, ISOLATION_LABEL_KEY } from "../routing/router.js";
import { RecordingPlacements, aPlacementRequest } from "../testing/routing.js";

const MIGRATIONS = new URL("../../migrations/", import.meta.url);

/** A data plane whose clusters are up or down as the test says, recording CRs in memory. */
function scriptedDataPlane(): DataPlane & { down: Set<string>; crs: Map<string, Set<string>> } {
  const down = new Set<string>();
  const crs = new Map<string, Set<string>>();
  const check = (cluster: string, op: string) => {
    if (down.has(cluster)) throw new ClusterUnreachableError(cluster, op, "connect ECONNREFUSED");
  };
  return {
    down,
    crs,
    connection: () => {
      throw new Error("not used");
    },
    forget: () => {},
    installCrd: (c) => {
      check(c.name, "install CRD");
      return Promise.resolve("exists");
    },
    syncNamespace: (c) => {
      check(c.name, "sync namespace");
      return Promise.resolve("unchanged");
    },
    createExecution: (c, request) => {
      check(c.name, "create WorkflowExecution");
      const set = crs.get(c.name) ?? new Set<string>();
      const key = `${request.execution.project}/${request.execution.domain}/${request.execution.name}`;
      const existed = set.has(key);
      set.add(key);
      crs.set(c.name, set);
      return Promise.resolve({ result: existed ? "exists" : "created", offloaded: false });
    },
    deleteExecution: (c, e) => {
      check(c.name, "delete WorkflowExecution");
      return Promise.resolve(
        crs.get(c.name)?.delete(`${e.project}/${e.domain}/${e.name}`) ? "deleted" : "absent",
      );
    },
  };
}

async function rejects(p: Promise<unknown>, code: Code, pattern?: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof ConnectError, String(err));
    assert.equal(err.code, code, err.message);
    if (pattern) assert.match(err.message, pattern);
    return true;
  });
}

eachDatabase("routing RPCs", { migrations: MIGRATIONS }, (ctx) => {
  const blobs = tempDir({ prefix: "flotilla-routing-rpc-" });
  let subsystem: RoutingSubsystem | undefined;
  after(() => blobs.cleanup());
  // Before eachDatabase's own afterEach closes the test database.
  afterEach(async () => {
    await subsystem?.stop();
    subsystem = undefined;
  });

  async function setup(routing: Record<string, unknown> = {}, executions?: ExecutionPlacementRepository) {
    await subsystem?.stop();
    const dataPlane = scriptedDataPlane();
    const placements = new RecordingPlacements();
    subsystem = createRoutingSubsystem({
      db: ctx.db(),
      executions: executions ?? placements,
      blobStore: openBlobStore(blobs.path),
      config: {
        clusters: [
          { name: "cfg", apiEndpoint: "http://127.0.0.1:1", labels: { [CLUSTER_LABEL_KEY]: "batch" } },
        ],
        routing: {
          reevaluateInterval: "100ms",
          retryInitialBackoff: "50ms",
          retryMaxBackoff: "100ms",
          ...routing,
        },
      },
      registry: new Registry(),
      logger: recordingLogger(),
      dataPlane,
    });
    await subsystem.start();
    const api = createClient(
      AdminService,
      createRouterTransport(
        ({ service }) => service(AdminService, (subsystem as RoutingSubsystem).handlers),
        {
          router: { interceptors: [rpcInterceptor(undefined, silentLogger)] },
        },
      ),
    );
    return { api, dataPlane, placements, s: subsystem };
  }

  // ---- cluster registry ----

  test("prices: register stores a version, a changed price appends one, bad prices store nothing", async () => {
    const { api } = await setup();
    const versions = async (name: string) =>
      (
        await ctx
          .db()
          .query(
            "SELECT cpu_core_hour_micros AS c, memory_gib_hour_micros AS m, gpu_hour_micros AS g FROM cluster_prices WHERE cluster = $1 ORDER BY effective_from",
            [name],
          )
      ).rows.map((r) => [Number(r.c), Number(r.m), Number(r.g)]);
    const cluster = { name: "priced", apiEndpoint: "https://priced.example" };
    const registered = await api.registerCluster({
      cluster: { ...cluster, prices: { cpuHour: 0.0425, memoryGibHour: 0.0057, gpuHour: 2.48 } },
    });
    assert.equal(registered.cluster?.prices?.cpuHour, 0.0425);
    assert.deepEqual(await versions("priced"), [[42_500, 5_700, 2_480_000]]);
    await api.updateCluster({
      cluster: { ...cluster, prices: { cpuHour: 0.0425, memoryGibHour: 0.0057, gpuHour: 2.48 } },
    });
    assert.deepEqual(await versions("priced"), [[42_500, 5_700, 2_480_000]], "same prices, no new version");
    await api.updateCluster({ cluster: { ...cluster, prices: { cpuHour: 0.05, memoryGibHour: 0.0057 } } });
    assert.deepEqual(await versions("priced"), [
      [42_500, 5_700, 2_480_000],
      [50_000, 5_700, 0],
    ]);
    await rejects(
      api.updateCluster({ cluster: { ...cluster, prices: { cpuHour: -1 } } }),
      Code.InvalidArgument,
      /cluster\.prices\.cpu_hour/,
    );
    await rejects(
      api.registerCluster({
        cluster: { name: "euro", apiEndpoint: "https://e.example", prices: { currency: "EUR" } },
      }),
      Code.InvalidArgument,
      /cluster\.prices\.currency/,
    );
    assert.equal(await versions("priced").then((v) => v.length), 2);
    assert.deepEqual(await versions("euro"), []);
    await rejects(api.getCluster({ name: "euro" }), Code.NotFound);
  });

  test("registers idempotently, validates, lists with filters and pages", async () => {
    const { api } = await setup();
    const gpu = {
      name: "gpu-1",
      apiEndpoint: "https://gpu-1.example",
      labels: { pool: "gpu" },
      priority: 5,
    };
    const first = await api.registerCluster({ cluster: gpu });
    assert.equal(first.cluster?.state, Cluster_State.ACTIVE);
    assert.equal(first.cluster?.health, Cluster_Health.UNSPECIFIED);
    await api.registerCluster({ cluster: gpu });
    await rejects(api.registerCluster({ cluster: { ...gpu, priority: 6 } }), Code.AlreadyExists);
    await rejects(
      api.registerCluster({ cluster: { ...gpu, name: "Bad_Name" } }),
      Code.InvalidArgument,
      /cluster.name/,
    );
    await rejects(api.registerCluster({ cluster: { name: "x" } }), Code.InvalidArgument, /api_endpoint/);
    await rejects(api.getCluster({ name: "nope" }), Code.NotFound);

    await api.registerCluster({
      cluster: { name: "gpu-2", apiEndpoint: "https://gpu-2.example", labels: { pool: "gpu" } },
    });
    await api.cordonCluster({ name: "gpu-2", reason: "maintenance" });
    const byLabel = await api.listClusters({ labelSelector: { pool: "gpu" } });
    assert.deepEqual(
      byLabel.clusters.map((c) => c.name),
      ["gpu-1", "gpu-2"],
    );
    const cordoned = await api.listClusters({ state: Cluster_State.CORDONED });
    assert.deepEqual(
      cordoned.clusters.map((c) => c.name),
      ["gpu-2"],
    );
    const page1 = await api.listClusters({ pageSize: 2 });
    assert.deepEqual(
      page1.clusters.map((c) => c.name),
      ["cfg", "gpu-1"],
    );
    const page2 = await api.listClusters({ pageSize: 2, pageToken: page1.nextPageToken });
    assert.deepEqual(
      page2.clusters.map((c) => c.name),
      ["gpu-2"],
    );
    assert.equal(page2.nextPageToken, "");
    const updated = await api.updateCluster({ cluster: { ...gpu, labels: { pool: "gpu", region: "eu" } } });
    assert.equal(updated.cluster?.labels.region, "eu");
  });

  test("cordon, drain and uncordon change the state; reasons are required", async () => {
    const { api } = await setup();
    await rejects(api.cordonCluster({ name: "cfg", reason: "" }), Code.InvalidArgument, /reason/);
    assert.equal(
      (await api.cordonCluster({ name: "cfg", reason: "upgrade" })).cluster?.state,
      Cluster_State.CORDONED,
    );
    const drained = await api.drainCluster({ name: "cfg", reason: "decommission" });
    assert.equal(drained.cluster?.state, Cluster_State.DRAINING);
    assert.equal(drained.cluster?.stateReason, "decommission");
    assert.equal(drained.remainingExecutions, 0);
    assert.equal((await api.uncordonCluster({ name: "cfg" })).cluster?.state, Cluster_State.ACTIVE);
    await rejects(api.uncordonCluster({ name: "ghost" }), Code.NotFound);
  });

  test("heartbeats record health; a missed deadline reports the cluster lost until it beats again", async () => {
    const { api } = await setup({ heartbeatTimeout: "300ms", heartbeatInterval: "100ms" });
    await rejects(api.clusterHeartbeat({ cluster: "ghost", propellerVersion: "1.0.0" }), Code.NotFound);
    await rejects(api.clusterHeartbeat({ cluster: "cfg" }), Code.InvalidArgument, /propeller_version/);
    const hb = await api.clusterHeartbeat({ cluster: "cfg", propellerVersion: "1.2.3", queueDepth: 4 });
    assert.equal(hb.desiredState, Cluster_State.ACTIVE);
    assert.equal(Number(hb.heartbeatInterval?.nanos), 100_000_000);
    const got = await api.getCluster({ name: "cfg" });
    assert.equal(got.cluster?.health, Cluster_Health.HEALTHY);
    assert.equal(got.cluster?.propellerVersion, "1.2.3");
    await eventually(async () =>
      assert.equal((await api.getCluster({ name: "cfg" })).cluster?.health, Cluster_Health.LOST),
    );
    await api.clusterHeartbeat({
      cluster: "cfg",
      propellerVersion: "1.2.3",
      health: Cluster_Health.DEGRADED,
    });
    assert.equal((await api.getCluster({ name: "cfg" })).cluster?.health, Cluster_Health.DEGRADED);
  });

  // ---- routing rules ----

  test("create, conflict, validation, optimistic update, ordering, delete", async () => {
    const { api } = await setup();
    const def = await api.createRoutingRule({ rule: { scope: {}, clusterLabel: "batch" } });
    const proj = await api.createRoutingRule({
      rule: {
        scope: { project: "flights" },
        targets: [{ target: { case: "cluster", value: "cfg" }, weight: 2 }],
      },
    });
    await rejects(api.createRoutingRule({ rule: { scope: { project: "flights" } } }), Code.AlreadyExists);
    await rejects(
      api.createRoutingRule({ rule: { scope: { domain: "production" } } }),
      Code.InvalidArgument,
      /needs a project/,
    );
    await rejects(
      api.createRoutingRule({
        rule: { scope: {}, targets: [{ target: { case: "cluster", value: "cfg" }, weight: 0 }] },
      }),
      Code.InvalidArgument,
      /weight/,
    );
    const lp = await api.createRoutingRule({
      rule: {
        scope: { project: "flights", domain: "production", launchPlan: "nightly" },
        clusterLabel: "gpu",
      },
    });
    const listed = await api.listRoutingRules({});
    assert.deepEqual(
      listed.rules.map((r) => r.id),
      [lp.rule?.id, proj.rule?.id, def.rule?.id],
    );
    assert.deepEqual(
      (await api.listRoutingRules({ project: "flights" })).rules.map((r) => r.id),
      [lp.rule?.id, proj.rule?.id],
    );

    const rule = def.rule;
    assert.ok(rule);
    const v2 = await api.updateRoutingRule({ rule: { ...rule, clusterLabel: "gpu" } });
    assert.equal(v2.rule?.revision, rule.revision + 1n);
    await rejects(api.updateRoutingRule({ rule: { ...rule, clusterLabel: "batch" } }), Code.Aborted, /stale/);
    await api.deleteRoutingRule({ id: rule.id });
    await rejects(api.deleteRoutingRule({ id: rule.id }), Code.NotFound);
  });

  // ---- placement with an unreachable cluster ----

  test("queues with the error, explains it, retries; terminate while down is retried and reported in heartbeats", async () => {
    const { api, dataPlane, placements, s } = await setup();
    dataPlane.down.add("cfg");
    const e = { project: "flights", domain: "production", name: "e-1" };
    const outcome = await s.placer.place(aPlacementRequest(e, { blobRoot: "file:///tmp/x" }));
    assert.equal(outcome.state, "queued");
    assert.match(
      placements.of("flights", "production", "e-1")?.queueReason ?? "",
      /^ClusterUnreachable: .*ECONNREFUSED/,
    );
    const explained = await api.explainExecution({ id: e });
    assert.equal(explained.decisions.at(-1)?.chosenCluster, "cfg");
    assert.match(explained.decisions.at(-1)?.queueReason ?? "", /ClusterUnreachable/);

    dataPlane.down.delete("cfg");
    await eventually(() => assert.equal(placements.of("flights", "production", "e-1")?.cluster, "cfg"));
    assert.ok(dataPlane.crs.get("cfg")?.has("flights/production/e-1"));

    dataPlane.down.add("cfg");
    await s.placer.terminate(e, "cfg");
    const hb = await api.clusterHeartbeat({ cluster: "cfg", propellerVersion: "1.0.0" });
    assert.deepEqual(hb.abortExecutionNames, ["e-1"]);
    dataPlane.down.delete("cfg");
    await eventually(() => assert.equal(dataPlane.crs.get("cfg")?.has("flights/production/e-1"), false));
    await eventually(async () =>
      assert.deepEqual(
        (await api.clusterHeartbeat({ cluster: "cfg", propellerVersion: "1.0.0" })).abortExecutionNames,
        [],
      ),
    );
    await rejects(
      api.explainExecution({ id: { project: "flights", domain: "production", name: "never" } }),
      Code.NotFound,
    );
  });

  test("an execution moved away after an unanswered create is deleted on the first cluster (reason read as a code)", async () => {
    const { api, dataPlane, placements, s } = await setup();
    await api.registerCluster({
      cluster: { name: "other", apiEndpoint: "http://127.0.0.1:2", labels: { [CLUSTER_LABEL_KEY]: "batch" } },
    });
    await api.cordonCluster({ name: "other", reason: "not yet" });
    dataPlane.down.add("cfg");
    const e = { project: "flights", domain: "production", name: "moved-1" };
    const outcome = await s.placer.place(aPlacementRequest(e, { blobRoot: "file:///tmp/x" }));
    assert.equal(outcome.state, "queued");
    assert.equal(placements.of(e.project, e.domain, e.name)?.queueReasonCode, "ClusterUnreachable");
    const pending = await s.pending.get(e);
    assert.equal(pending?.lastError.code, "ClusterUnreachable");
    assert.match(pending?.lastError.message ?? "", /^cluster cfg unreachable/, "the message carries no code");

    await api.uncordonCluster({ name: "other" });
    await api.cordonCluster({ name: "cfg", reason: "unreachable" });
    await eventually(() => assert.equal(placements.of(e.project, e.domain, e.name)?.cluster, "other"));
    const hb = await api.clusterHeartbeat({ cluster: "cfg", propellerVersion: "1.0.0" });
    assert.deepEqual(hb.abortExecutionNames, ["moved-1"], "the create on cfg may have landed: it is deleted");
  });

  // ---- lost clusters ----

  test("a lost cluster's running executions are marked, and unmarked when it beats again", async () => {
    const db = ctx.db();
    await db.query(
      `INSERT INTO executions (project, domain, name, workflow_name, workflow_version, spec, spec_digest, inputs_uri,
       cluster, phase, created_at, updated_at)
     VALUES ('flights', 'production', 'running-1', 'wf', 'v1', '\\x', 'd', 'file:///x', 'cfg', 2, now(), now())`,
    );
    // The execution repository writes the placements to the executions table.
    const { api } = await setup({ heartbeatTimeout: "300ms" }, new PostgresExecutionRepository(db));
    const row = async () =>
      (await db.query("SELECT cluster, queue_reason FROM executions WHERE name = 'running-1'")).rows[0] as {
        cluster: string;
        queue_reason: string | null;
      };

    await api.clusterHeartbeat({ cluster: "cfg", propellerVersion: "1.0.0" });
    await eventually(async () =>
      assert.match((await row()).queue_reason ?? "", /^ClusterLost: cluster cfg has sent no heartbeat since/),
    );
    assert.equal((await row()).cluster, "cfg", "the placement is kept");
    await api.clusterHeartbeat({ cluster: "cfg", propellerVersion: "1.0.0" });
    await eventually(async () => assert.equal((await row()).queue_reason, null));
  });

  // ---- project lookup ----
  test("reads isolation labels (domain over project) and domains from the projects table", async () => {
    const db = ctx.db();
    const project = create(ProjectSchema, {
      id: "secure",
      name: "Secure",
      domains: [create(DomainSchema, { id: "production" }), create(DomainSchema, { id: "development" })],
      isolationLabel: "regulated",
      domainIsolationLabels: { development: "sandbox" },
    });
    await db.query("INSERT INTO projects (id, state, body) VALUES ($1, $2, $3)", [
      "secure",
      1,
      Buffer.from(toBinary(ProjectSchema, project)),
    ]);
    const lookup = new ProjectLookup({
      projects: new PostgresRegistryRepository(db),
      attributes: new PostgresAttributesRepository(db),
    });
    assert.equal(await lookup.isolationLabel("secure", "production"), "regulated");
    assert.equal(await lookup.isolationLabel("secure", "development"), "sandbox");
    assert.equal(await lookup.isolationLabel("unknown", "production"), undefined);
    assert.deepEqual(await lookup.projectDomains(), [
      { project: "secure", domain: "production", isolationLabel: "regulated" },
      { project: "secure", domain: "development", isolationLabel: "sandbox" },
    ]);
    assert.equal(ISOLATION_LABEL_KEY, "flotilla.io/isolation");
  });
});
