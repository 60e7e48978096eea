// One trace through the federation, recorded by an in-memory span exporter: the admin (on the real
// PostgreSQL server), the resource manager and a propeller run in this process with tracing on, and
// one CreateExecution — made by a traced client, as flotctl makes it — must yield one trace that
// holds the admin's RPC, database, routing and CR-create spans, the propeller's rounds and pod
// create, the resource manager's Allocate and the admin's ingestion of the terminal event.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { pathToFileURL } from "node:url";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { InMemorySpanExporter, type ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { resolveAdminConfig, silentLogger, startAdmin, type RunningAdmin } from "@flotilla/admin";
import { AdminService, ExecutionSpecSchema, WorkflowExecution_Phase } from "@flotilla/proto";
import {
  aTask,
  aWorkflow,
  createResourceManagerBroker,
  resourceManagerTransport,
  startPropeller,
  type Propeller,
} from "@flotilla/propeller";
import { startResourceManager, type RunningResourceManager } from "@flotilla/resource-manager";
import { SpanKind, startTracing, tracingClientInterceptor, withSpan, type Tracing } from "@flotilla/runtime";
import { eventually, scratchDatabase, tempDir } from "@flotilla/testing";
import { propellerEnv, type PropellerEnv } from "./propeller-helpers.js";
import { registerClosure } from "./support/real-admin.js";

const exporter = new InMemorySpanExporter();
const dir = tempDir({ prefix: "e2e-tracing-" });
let tracing: Tracing | undefined;
let env: PropellerEnv;
let admin: RunningAdmin;
let rm: RunningResourceManager;
let propeller: Propeller;
const stops: (() => Promise<unknown>)[] = [];

before(async () => {
  tracing = await startTracing("flotilla-e2e", {}, { exporter });
  env = await propellerEnv("traced");
  stops.push(() => env.stop());
  rm = await startResourceManager({ pools: [{ resource: "warehouse", limit: 2, defaultTtlMs: 30_000 }] });
  stops.push(() => rm.stop());
  const database = await scratchDatabase({ prefix: "flotilla_e2e_tracing_" });
  stops.push(() => database.drop());
  admin = await startAdmin(
    resolveAdminConfig({
      server: { host: "127.0.0.1", port: 0 },
      database: { url: database.url },
      blobStore: { url: pathToFileURL(join(dir.path, "blobs")).href },
      clusters: [{ name: "traced", kubeconfigInline: env.cluster.kubeconfig }],
    }),
    { logger: silentLogger },
  );
  stops.push(() => admin.stop());
  propeller = await startPropeller({
    kubeconfig: env.kc,
    clusterId: "traced",
    admin: { url: admin.url },
    resourceManager: { url: rm.url },
    leaderElection: false,
    processMetrics: false,
  });
  stops.push(() => propeller.stop());
});

after(async () => {
  for (const stop of stops.reverse()) await stop();
  await tracing?.shutdown();
  await dir.cleanup();
});

/** The span's parent's span id (empty for a root). */
const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId ?? "";

test("one CreateExecution yields one trace from the client through admin, propeller and resource manager to the terminal event", async () => {
  const client = createClient(
    AdminService,
    createConnectTransport({
      baseUrl: admin.url,
      httpVersion: "1.1",
      interceptors: [tracingClientInterceptor()],
    }),
  );
  const task = aTask("report").needing("warehouse", 1).simulated("200ms").build();
  const workflowId = await registerClosure(client, aWorkflow("traced").withNode("report", task).closure());
  assert.ok(workflowId);
  exporter.reset();
  const created = await client.createExecution({
    project: workflowId.project,
    domain: workflowId.domain,
    name: "traced1",
    spec: create(ExecutionSpecSchema, { target: { case: "workflow", value: workflowId } }),
  });
  assert.ok(created.id);

  const root = exporter
    .getFinishedSpans()
    .find((s) => s.name === "flotilla.admin.v1.AdminService/CreateExecution" && s.kind === SpanKind.CLIENT);
  assert.ok(root, "the client's CreateExecution span");
  assert.equal(parentOf(root), "", "the client's span is the trace's root");
  const traceId = root.spanContext().traceId;
  const inTrace = () => exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);

  // The terminal event's ingestion is the last piece to arrive.
  const terminal = await eventually(
    () => {
      const span = inTrace().find(
        (s) =>
          s.name === "ingest events" &&
          (s.attributes["flotilla.workflow.phases"] as string[] | undefined)?.includes("SUCCEEDED"),
      );
      assert.ok(span, "the admin's ingestion of the SUCCEEDED workflow event is in the trace");
      return span;
    },
    { timeout: 60_000, interval: 200 },
  );
  const phase = (await client.getExecution({ id: created.id })).execution?.closure?.phase;
  assert.equal(phase, WorkflowExecution_Phase.SUCCEEDED);

  const spans = inTrace();
  const byId = new Map(spans.map((s) => [s.spanContext().spanId, s]));
  const named = (scope: string, name: string, kind?: SpanKind) =>
    spans.filter(
      (s) =>
        s.instrumentationScope.name === scope && s.name === name && (kind === undefined || s.kind === kind),
    );
  /** Whether `ancestor` is `span` or one of its ancestors. */
  const descends = (span: ReadableSpan, ancestor: ReadableSpan): boolean => {
    for (let s: ReadableSpan | undefined = span; s; s = byId.get(parentOf(s)))
      if (s === ancestor) return true;
    return false;
  };

  // Every span of the trace hangs off the client's span: one tree, nothing orphaned.
  for (const s of spans)
    assert.ok(descends(s, root), `${s.instrumentationScope.name} ${s.name} reaches the root`);

  // Admin: the RPC, its database statements, the placement with its routing decision and CR create.
  const [server] = named(
    "@flotilla/runtime",
    "flotilla.admin.v1.AdminService/CreateExecution",
    SpanKind.SERVER,
  );
  assert.ok(server, "the admin's CreateExecution server span");
  assert.equal(parentOf(server), root.spanContext().spanId);
  assert.ok(
    spans.some((s) => s.instrumentationScope.name === "@flotilla/db" && descends(s, server)),
    "database statements of the create",
  );
  const [placement] = named("@flotilla/admin", "placement");
  assert.ok(placement && descends(placement, server));
  assert.equal(placement.attributes["flotilla.cluster"], "traced");
  const [decision] = named("@flotilla/admin", "routing decision");
  assert.ok(decision && parentOf(decision) === placement.spanContext().spanId);
  assert.equal(decision.attributes["flotilla.routing.chosen"], "traced");
  const [crCreate] = named("@flotilla/admin", "create WorkflowExecution", SpanKind.CLIENT);
  assert.ok(crCreate && parentOf(crCreate) === placement.spanContext().spanId);

  // Propeller: rounds continue the create (the CR's traceparent); one creates the pod.
  const rounds = named("@flotilla/propeller", "round");
  assert.ok(rounds.length >= 2, `rounds of the workflow (saw ${rounds.length})`);
  for (const r of rounds)
    assert.equal(parentOf(r), server.spanContext().spanId, "a round's parent is the create");
  const [podCreate] = named("@flotilla/propeller", "create Pod", SpanKind.CLIENT);
  assert.ok(podCreate, "the pod create");
  assert.ok(rounds.some((r) => descends(podCreate, r)));
  assert.equal(podCreate.attributes["flotilla.pod.result"], "created");

  // Resource manager: the Allocate the round made, served in the same trace.
  const allocates = spans.filter(
    (s) =>
      s.kind === SpanKind.SERVER &&
      s.attributes["rpc.service"] === "flotilla.resourcemanager.v1.ResourceManagerService" &&
      String(s.attributes["rpc.method"]).startsWith("Allocate"),
  );
  assert.ok(allocates.length >= 1, "the resource manager's Allocate server span");
  for (const a of allocates)
    assert.ok(
      rounds.some((r) => descends(a, r)),
      "Allocate joins a round",
    );

  // Admin again: the terminal event's ingestion is a child of the round that produced it and
  // links to the IngestEvents batch RPC it arrived in.
  assert.ok(rounds.some((r) => parentOf(terminal) === r.spanContext().spanId));
  assert.equal(terminal.links.length, 1);
  const batchRpc = exporter
    .getFinishedSpans()
    .find((s) => s.spanContext().spanId === terminal.links[0]?.context.spanId);
  assert.equal(batchRpc?.name, "flotilla.admin.v1.AdminService/IngestEvents");
  assert.equal(batchRpc?.kind, SpanKind.SERVER);
});

test("acquires of three traces coalesced into one AllocateBatch: a token batch span linked to each caller", async () => {
  const broker = createResourceManagerBroker(resourceManagerTransport(rm.url), { ttlMs: 30_000 });
  exporter.reset();
  const callers = await Promise.all(
    ["a", "b", "c"].map((holder) =>
      withSpan("@flotilla/e2e", `round ${holder}`, async (span) => {
        const outcome = await broker.acquire({
          resource: "warehouse",
          tenant: { project: "flotilla", domain: "development" },
          holder: `batch-${holder}`,
          tokens: 1,
        });
        assert.notEqual(outcome.outcome, "rejected");
        return span?.spanContext();
      }),
    ),
  );
  const spans = exporter.getFinishedSpans();
  const batches = spans.filter((s) => s.name === "token batch");
  assert.equal(batches.length, 1, "one batch for the three acquires");
  const [batch] = batches;
  assert.ok(batch);
  assert.deepEqual(
    batch.links.map((l) => l.context.spanId).sort(),
    callers.map((c) => c?.spanId).sort(),
    "linked to every caller's span",
  );
  assert.equal(batch.attributes["flotilla.batch.items"], 3);
  assert.ok(
    callers.some((c) => c?.spanId === parentOf(batch)),
    "the batch runs in the trace of the acquire that opened it",
  );
  const server = spans.find(
    (s) =>
      s.kind === SpanKind.SERVER &&
      s.name === "flotilla.resourcemanager.v1.ResourceManagerService/AllocateBatch",
  );
  assert.ok(server, "the resource manager served the batch");
  assert.equal(server.spanContext().traceId, batch.spanContext().traceId);
  for (const holder of ["a", "b", "c"])
    await broker.release({ resource: "warehouse", holder: `batch-${holder}`, leaseId: "" });
});
