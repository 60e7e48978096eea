// Cost and waste through the admin: versioned prices from cluster registrations, attempts priced
// when their terminal event is ingested, reports by every grouping, counters equal to the
// stored amounts, and the GetCosts RPC.
import assert from "node:assert/strict";
import { it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import {
  AdminService,
  CostGrouping,
  ExecutionSpecSchema,
  ResourceType,
  ResourceUsageSchema,
  TaskExecution_Phase as T,
  type Event,
} from "@flotilla/proto";
import { eachDatabase } from "@flotilla/testing";
import { ADMIN_MIGRATIONS_DIR, type Admin } from "../admin.js";
import { silentLogger } from "../logger.js";
import { createPostgresClusterRepository } from "../repository/cluster-repository.js";
import { PostgresCostRepository } from "../repository/cost-repository.js";
import { rpcInterceptor } from "../rpc/errors.js";
import {
  DOMAIN,
  INTEGER,
  PROJECT,
  aTask,
  aWorkflow,
  fromInput,
  idOf,
  int,
  taskEvent,
} from "../testing/builders.js";
import { testAdmin } from "../testing/harness.js";

const GiB = 2 ** 30;
const at = (hhmmss: string, extraMs = 0) => Date.parse(`2026-03-02T${hhmmss}.000Z`) + extraMs;

/** A task event carrying requested (and optionally used) resources, as a propeller sends it. */
function attemptEvent(
  execution: string,
  cluster: string,
  attempt: number,
  phase: T,
  atMs: number,
  requested: { cpuCores: number; memoryBytes: number; gpus?: number },
  used?: { cpuCores: number; memoryBytes: number; gpus?: number },
): Event {
  const ev = taskEvent(execution, cluster, `${execution}-${attempt}-${phase}`, "a", attempt, phase, 0, atMs);
  if (ev.event.case !== "taskEvent") throw new Error("not a task event");
  ev.event.value.requestedResources = create(ResourceUsageSchema, requested);
  if (used) ev.event.value.usedResources = create(ResourceUsageSchema, used);
  return ev;
}

async function registerClusters(admin: Admin): Promise<void> {
  const clusters = createPostgresClusterRepository(admin.db);
  const base = {
    apiEndpoint: "http://127.0.0.1:1",
    credentialsRef: "",
    labels: {},
    priority: 0,
    capacity: {},
  };
  await clusters.register({
    ...base,
    name: "alpha",
    prices: { cpuHour: 0.04, memoryGibHour: 0.005, gpuHour: 2.5 },
  });
  await clusters.register({ ...base, name: "beta", prices: { cpuHour: 0.1, memoryGibHour: 0.01 } });
  // A price change appends a version; the same prices again append none.
  await clusters.update({
    ...base,
    name: "alpha",
    prices: { cpuHour: 0.06, memoryGibHour: 0.008, gpuHour: 3 },
  });
  await clusters.update({
    ...base,
    name: "alpha",
    prices: { cpuHour: 0.06, memoryGibHour: 0.008, gpuHour: 3 },
  });
  // Pin the versions' times so attempts can start before and after the change.
  await admin.db.query(
    `UPDATE cluster_prices SET effective_from = CASE
       WHEN cluster = 'alpha' AND cpu_core_hour_micros = 60000 THEN '2026-03-02T12:00:00Z'::timestamptz
       ELSE '2026-03-02T00:00:00Z'::timestamptz END`,
  );
}

async function startRuns(admin: Admin, placer: { cluster: string }): Promise<void> {
  await admin.tasks.create(aTask("double").withInput("x", INTEGER).withOutput("y", INTEGER).build());
  await admin.workflows.create(
    aWorkflow("chain").withInput("n", INTEGER).withNode("a", "double").binding("x", fromInput("n")).build(),
  );
  const spec = create(ExecutionSpecSchema, {
    target: { case: "workflow", value: idOf(ResourceType.WORKFLOW, "chain") },
    inputs: { literals: { n: int(1) } },
  });
  placer.cluster = "alpha";
  await admin.executionManager.create(PROJECT, DOMAIN, "run-a", spec);
  placer.cluster = "beta";
  await admin.executionManager.create(PROJECT, DOMAIN, "run-b", spec);
}

const one = { cpuCores: 1, memoryBytes: GiB };

/** The attempts of the exact-arithmetic unit test, now through ingestion. */
async function runAttempts(admin: Admin): Promise<void> {
  // run-a on alpha: attempt 0 runs 11:50-12:10 across the price change and is retried (waste
  // 15,000 µ$ at the old price), attempt 1 runs 12:15-12:45 with a GPU at the new price.
  await admin.events.ingest("alpha", [
    attemptEvent("run-a", "alpha", 0, T.RUNNING, at("11:50:00"), one),
    attemptEvent("run-a", "alpha", 0, T.RETRYABLE_FAILED, at("12:10:00"), one),
    attemptEvent("run-a", "alpha", 1, T.RUNNING, at("12:15:00"), { ...one, gpus: 1 }),
  ]);
  await admin.events.ingest("alpha", [
    attemptEvent(
      "run-a",
      "alpha",
      1,
      T.SUCCEEDED,
      at("12:45:00"),
      { ...one, gpus: 1 },
      {
        cpuCores: 0.25,
        memoryBytes: GiB / 2,
        gpus: 1,
      },
    ),
  ]);
  // run-b on beta: fails after 1.234 s.
  const half = { cpuCores: 0.5, memoryBytes: 3 * GiB };
  await admin.events.ingest("beta", [
    attemptEvent("run-b", "beta", 0, T.RUNNING, at("09:00:00"), half),
    attemptEvent("run-b", "beta", 0, T.FAILED, at("09:00:00", 1234), half),
  ]);
}

const day = { since: new Date("2026-03-02T00:00:00Z"), until: new Date("2026-03-03T00:00:00Z") };

async function counterValue(admin: Admin, name: string, cluster: string): Promise<number> {
  const metric = (await admin.metrics.registry.getMetricsAsJSON()).find((m) => m.name === name);
  const sample = metric?.values.find((v) => v.labels.cluster === cluster);
  return sample ? Math.round(sample.value * 1e6) : 0;
}

eachDatabase("admin cost and waste", { migrations: ADMIN_MIGRATIONS_DIR }, (ctx) => {
  it("keeps every price version: a change appends one, the same prices none", async (t) => {
    const { admin } = await testAdmin(ctx.db(), t);
    await registerClusters(admin);
    const versions = await new PostgresCostRepository(admin.db).priceVersions(admin.db, ["alpha", "beta"]);
    assert.deepEqual(
      versions.get("alpha")?.map((v) => [v.cpuCoreHourMicros, v.memoryGibHourMicros, v.gpuHourMicros]),
      [
        [40_000, 5_000, 2_500_000],
        [60_000, 8_000, 3_000_000],
      ],
    );
    assert.deepEqual(
      versions.get("beta")?.map((v) => [v.cpuCoreHourMicros, v.memoryGibHourMicros, v.gpuHourMicros]),
      [[100_000, 10_000, 0]],
    );
  });

  it("prices attempts on ingestion and reports them by cluster, workflow, execution and day", async (t) => {
    const { admin, placer } = await testAdmin(ctx.db(), t);
    await registerClusters(admin);
    await startRuns(admin, placer);
    await runAttempts(admin);

    const byCluster = await admin.costs.report({ groupBy: "cluster", ...day });
    assert.deepEqual(
      byCluster.groups.map((g) => [g.cluster, g.costMicros, g.wasteMicros, g.attempts]),
      [
        ["alpha", 15_000 + 1_534_000, 15_000 + 24_500, 2],
        ["beta", 27, 27, 1],
      ],
    );
    assert.equal(byCluster.totalCostMicros, 1_549_027);
    assert.equal(byCluster.totalWasteMicros, 39_527);

    const byWorkflow = await admin.costs.report({ groupBy: "workflow", project: PROJECT, ...day });
    assert.deepEqual(
      byWorkflow.groups.map((g) => [g.project, g.domain, g.workflow, g.costMicros]),
      [[PROJECT, DOMAIN, "chain", 1_549_027]],
    );
    const byExecution = await admin.costs.report({
      groupBy: "execution",
      project: PROJECT,
      domain: DOMAIN,
      ...day,
    });
    assert.deepEqual(
      byExecution.groups.map((g) => [g.execution, g.costMicros, g.wasteMicros]),
      [
        ["run-a", 1_549_000, 39_500],
        ["run-b", 27, 27],
      ],
    );
    const byDay = await admin.costs.report({ groupBy: "day", ...day });
    assert.deepEqual(
      byDay.groups.map((g) => [g.day, g.costMicros]),
      [["2026-03-02", 1_549_027]],
    );
    // The window is on the attempt's end: from 12:20 only attempt 1 of run-a.
    const late = await admin.costs.report({
      groupBy: "project",
      since: new Date(at("12:20:00")),
      until: day.until,
    });
    assert.deepEqual(
      late.groups.map((g) => [g.project, g.costMicros, g.attempts]),
      [[PROJECT, 1_534_000, 1]],
    );
    const other = await admin.costs.report({ groupBy: "project", project: "nobody", ...day });
    assert.deepEqual(other.groups, []);

    // The counters hold exactly the stored amounts.
    assert.equal(await counterValue(admin, "flotilla_admin_task_cost_dollars_total", "alpha"), 1_549_000);
    assert.equal(await counterValue(admin, "flotilla_admin_task_waste_dollars_total", "alpha"), 39_500);
    assert.equal(await counterValue(admin, "flotilla_admin_task_cost_dollars_total", "beta"), 27);
  });

  it("prices an attempt once: a redelivered terminal event changes neither the report nor the counters", async (t) => {
    const { admin, placer } = await testAdmin(ctx.db(), t);
    await registerClusters(admin);
    await startRuns(admin, placer);
    await runAttempts(admin);
    await runAttempts(admin);
    const report = await admin.costs.report({ groupBy: "cluster", ...day });
    assert.equal(report.totalCostMicros, 1_549_027);
    assert.equal(await counterValue(admin, "flotilla_admin_task_cost_dollars_total", "alpha"), 1_549_000);
  });

  it("rejects a report with a bad window or filter, naming the field", async (t) => {
    const { admin } = await testAdmin(ctx.db(), t);
    await assert.rejects(
      admin.costs.report({ groupBy: "project", since: day.until, until: day.since }),
      /until: must be after since/,
    );
    await assert.rejects(
      admin.costs.report({ groupBy: "project", domain: DOMAIN, ...day }),
      /domain: requires project/,
    );
    await assert.rejects(
      admin.costs.report({ groupBy: "project", project: "Not_A_Label", ...day }),
      /project/,
    );
  });

  it("serves GetCosts: groups and totals in micro-dollars, InvalidArgument without since", async (t) => {
    const { admin, placer } = await testAdmin(ctx.db(), t);
    await registerClusters(admin);
    await startRuns(admin, placer);
    await runAttempts(admin);
    const transport = createRouterTransport((router) => router.service(AdminService, admin.service), {
      router: { interceptors: [rpcInterceptor(admin.metrics, silentLogger)] },
    });
    const api = createClient(AdminService, transport);
    const res = await api.getCosts({
      project: PROJECT,
      groupBy: CostGrouping.CLUSTER,
      since: timestampFromDate(day.since),
      until: timestampFromDate(day.until),
    });
    assert.deepEqual(
      res.groups.map((g) => [g.cluster, g.costMicros, g.wasteMicros, g.attempts]),
      [
        ["alpha", 1_549_000n, 39_500n, 2n],
        ["beta", 27n, 27n, 1n],
      ],
    );
    assert.equal(res.totalCostMicros, 1_549_027n);
    assert.equal(res.totalWasteMicros, 39_527n);
    const missing = await api
      .getCosts({ groupBy: CostGrouping.DAY })
      .catch((e: unknown) => ConnectError.from(e));
    assert.ok(missing instanceof ConnectError);
    assert.equal(missing.code, Code.InvalidArgument);
    assert.match(missing.rawMessage, /since/);
  });
});
