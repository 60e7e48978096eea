/**
 * Admin event ingestion benchmark: `npm run bench -- admin-events [--quick] [--producers N] [--batch N]`.
 *
 * Runs on real PostgreSQL (`FLOTILLA_TEST_DATABASE_URL`, default
 * postgres://postgres@127.0.0.1:5432/postgres) in a fresh database that is dropped afterwards:
 *   1. raw: P concurrent connections each INSERT single event-sized rows (autocommit) into a
 *      plain table of the same database — the floor a naive per-event write path would reach;
 *   1b. physical limit: the same rows as step 2 (every event, serialized) inserted with the same
 *      concurrency in transactions of B rows, no logic, repeated for as long as step 1 — the most this write shape can reach on
 *      this database; ingestion is reported as a ratio to it;
 *   2. ingest: P concurrent producers (propellers) send every event of E executions (workflow,
 *      node and task events, in per-execution order, interleaved across executions) in batches
 *      of B through the admin's EventManager — the same code path IngestEvents runs — with the
 *      phase rules, idempotency check, node/task derivation and the event log in one transaction
 *      per batch;
 *   3. the same again over the wire: IngestEvents through Connect (binary, HTTP/2) against the
 *      admin listening on 127.0.0.1, one client per producer.
 * Then it re-sends everything (all must come back DUPLICATE), and drives fresh executions with
 * the same histories out of order (every window of 3 events reversed: some come back REJECTED)
 * and with duplicates (every event sent twice: exactly half DUPLICATE), reporting each one's
 * rate and outcomes; replay == stored state is checked for a sample of each. Prints a table, then `BENCH {json}` as its last line.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isDeepStrictEqual } from "node:util";
import { create, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { migrate, openDatabase } from "@flotilla/db";
import {
  AdminService,
  EventResult_Outcome,
  EventSchema,
  ExecutionSpecSchema,
  IdentifierSchema,
  LaunchPlanSpecSchema,
  NodeExecution_Phase,
  ProjectSchema,
  ResourceType,
  TaskExecution_Phase,
  TaskTemplateSchema,
  WorkflowExecution_Phase,
  WorkflowTemplateSchema,
  type Event,
} from "@flotilla/proto";
import { createClient } from "@connectrpc/connect";
import { Http2SessionManager, createConnectTransport } from "@connectrpc/connect-node";
import {
  ADMIN_MIGRATIONS_DIR,
  resolveAdminConfig,
  silentLogger,
  startAdmin,
  type ExecutionPlacer,
} from "@flotilla/admin";
import { scratchDatabase } from "@flotilla/testing";

const argv = process.argv.slice(2);
const quick = argv.includes("--quick");
// Keep the database afterwards (its name is printed) to inspect plans with EXPLAIN.
const keepDb = argv.includes("--keep-db");
const flag = (name: string, fallback: number): number => {
  const i = argv.indexOf(`--${name}`);
  const value = i >= 0 ? Number(argv[i + 1]) : fallback;
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} needs a positive integer`);
  return value;
};
const PRODUCERS = flag("producers", 4);
const BATCH = flag("batch", 250);
const EXECUTIONS = flag("executions", quick ? 60 : 240);
const NODES = flag("nodes", quick ? 6 : 10);
const RAW_SECONDS = quick ? 3 : 8;
const CLUSTER = "bench";
const PROJECT = "bench";
const DOMAIN = "development";

const id = (type: ResourceType, name: string) =>
  create(IdentifierSchema, { resourceType: type, project: PROJECT, domain: DOMAIN, name, version: "v1" });

// The event history one propeller emits for one execution: workflow RUNNING, then per node
// QUEUED/RUNNING, task QUEUED/RUNNING/RUNNING(v1)/SUCCEEDED, node SUCCEEDED, then SUCCEEDING/SUCCEEDED.
function history(name: string, nodes: number, t0: number): Event[] {
  const executionId = { project: PROJECT, domain: DOMAIN, name };
  let t = t0;
  const at = () => timestampFromMs(t++);
  const wf = (eventId: string, phase: WorkflowExecution_Phase, v: number) =>
    create(EventSchema, {
      event: {
        case: "workflowEvent",
        value: { eventId, producerCluster: CLUSTER, executionId, phase, phaseVersion: v, occurredAt: at() },
      },
    });
  const node = (eventId: string, nodeId: string, phase: NodeExecution_Phase, v: number) =>
    create(EventSchema, {
      event: {
        case: "nodeEvent",
        value: {
          eventId,
          producerCluster: CLUSTER,
          id: { executionId, nodeId },
          phase,
          phaseVersion: v,
          occurredAt: at(),
          inputUri: `file:///bench/${name}/${nodeId}/inputs.pb`,
        },
      },
    });
  const task = (eventId: string, nodeId: string, phase: TaskExecution_Phase, v: number) =>
    create(EventSchema, {
      event: {
        case: "taskEvent",
        value: {
          eventId,
          producerCluster: CLUSTER,
          id: {
            taskId: id(ResourceType.TASK, "work"),
            nodeExecutionId: { executionId, nodeId },
            retryAttempt: 0,
          },
          phase,
          phaseVersion: v,
          occurredAt: at(),
          podName: `${name}-${nodeId}-0`,
          taskType: "container",
          logs: [{ uri: `http://logs.example/${name}/${nodeId}`, name: "Kubernetes Logs" }],
        },
      },
    });
  const events: Event[] = [wf(`${name}/w/1`, WorkflowExecution_Phase.RUNNING, 1)];
  for (let n = 0; n < nodes; n++) {
    const nodeId = `n${n}`;
    events.push(
      node(`${name}/${nodeId}/q`, nodeId, NodeExecution_Phase.QUEUED, 1),
      node(`${name}/${nodeId}/r`, nodeId, NodeExecution_Phase.RUNNING, 2),
      task(`${name}/${nodeId}/t/q`, nodeId, TaskExecution_Phase.QUEUED, 0),
      task(`${name}/${nodeId}/t/r0`, nodeId, TaskExecution_Phase.RUNNING, 0),
      task(`${name}/${nodeId}/t/r1`, nodeId, TaskExecution_Phase.RUNNING, 1),
      task(`${name}/${nodeId}/t/s`, nodeId, TaskExecution_Phase.SUCCEEDED, 0),
      node(`${name}/${nodeId}/s`, nodeId, NodeExecution_Phase.SUCCEEDED, 3),
    );
  }
  events.push(
    wf(`${name}/w/2`, WorkflowExecution_Phase.SUCCEEDING, 2),
    wf(`${name}/w/3`, WorkflowExecution_Phase.SUCCEEDED, 3),
  );
  return events;
}

// Interleaves the histories of several executions, keeping each one's order.
function interleave(histories: Event[][]): Event[] {
  const out: Event[] = [];
  const cursors = histories.map(() => 0);
  let left = histories.reduce((n, h) => n + h.length, 0);
  while (left > 0) {
    for (const [i, h] of histories.entries()) {
      if (cursors[i] < h.length) {
        out.push(h[cursors[i]++]);
        left--;
      }
    }
  }
  return out;
}

/** How a producer's history reaches the admin: as emitted, locally reordered, or re-sent. */
type Delivery = "in-order" | "out-of-order" | "duplicates";
const DELIVERIES: Delivery[] = ["in-order", "out-of-order", "duplicates"];

/**
 * One execution's history as delivered: `out-of-order` reverses every window of 3 events (as
 * retried batches crossing each other would), so some events arrive after a later phase and
 * are REJECTED; `duplicates` sends every event again right after its successor (a lost ack).
 */
function delivered(events: Event[], delivery: Delivery): Event[] {
  if (delivery === "in-order") return events;
  if (delivery === "out-of-order") {
    const out: Event[] = [];
    for (let i = 0; i < events.length; i += 3) out.push(...events.slice(i, i + 3).reverse());
    return out;
  }
  return events.flatMap((e, i) => (i === 0 ? [e] : [e, events[i - 1]])).concat(events.slice(-1));
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function main(): Promise<void> {
  const scratch = await scratchDatabase({ prefix: "flotilla_bench_" });
  const blobDir = mkdtempSync(join(tmpdir(), "flotilla-bench-blobs-"));
  const db = await openDatabase({ url: scratch.url, poolSize: PRODUCERS + 2 });
  try {
    await migrate(db, { dir: ADMIN_MIGRATIONS_DIR });

    // 1. Raw single-row INSERT rate of the same database.
    await db.query(
      `CREATE TABLE bench_raw (seq bigserial PRIMARY KEY, execution_pk bigint NOT NULL, event_id text NOT NULL,
         kind smallint NOT NULL, source text NOT NULL, payload bytea NOT NULL, recorded_at timestamptz NOT NULL DEFAULT now())`,
    );
    const payload = Buffer.alloc(220, 7);
    let rawCount = 0;
    const rawDeadline = Date.now() + RAW_SECONDS * 1000;
    const rawStart = process.hrtime.bigint();
    await Promise.all(
      Array.from({ length: PRODUCERS }, (_, w) =>
        (async () => {
          for (let i = 0; Date.now() < rawDeadline; i++) {
            await db.query(
              "INSERT INTO bench_raw (execution_pk, event_id, kind, source, payload) VALUES ($1, $2, 3, $3, $4)",
              [w, `raw-${w}-${i}`, CLUSTER, payload],
            );
            rawCount++;
          }
        })(),
      ),
    );
    const rawSeconds = Number(process.hrtime.bigint() - rawStart) / 1e9;
    const rawRate = rawCount / rawSeconds;

    // Each producer owns a disjoint share of the executions (like one propeller per cluster).
    const t0 = Date.UTC(2026, 0, 1);
    const streamsOf = (prefix: string, delivery: Delivery) =>
      Array.from({ length: PRODUCERS }, (_, p) =>
        interleave(
          Array.from({ length: EXECUTIONS }, (_, i) => `${prefix}${i}`)
            .filter((_, i) => i % PRODUCERS === p)
            .map((n) => delivered(history(n, NODES, t0), delivery)),
        ),
      );
    const streams = streamsOf("e", "in-order");
    const totalEvents = streams.reduce((n, s) => n + s.length, 0);

    // 1b. The physical limit: the same rows (the in-order events, serialized) in transactions of
    // BATCH rows, same concurrency, no logic — what the database allows this write shape at most.
    // The rows are sent again (as new rows) until RAW_SECONDS have passed, so the figure is not
    // one short burst.
    const physicalPayloads = streams.map((stream) =>
      stream.map((e) => Buffer.from(toBinary(EventSchema, e))),
    );
    let physicalRows = 0;
    const physicalDeadline = Date.now() + RAW_SECONDS * 1000;
    const physicalStart = process.hrtime.bigint();
    await Promise.all(
      streams.map(async (stream, p) => {
        for (let round = 0, i = 0; Date.now() < physicalDeadline; i += BATCH) {
          if (i >= stream.length) [round, i] = [round + 1, 0];
          const rows = stream.slice(i, i + BATCH);
          await db.transaction((tx) =>
            tx.query(
              `INSERT INTO bench_raw (execution_pk, event_id, kind, source, payload)
               SELECT $1, e, 3, $2, pl FROM unnest($3::text[], $4::bytea[]) AS t(e, pl)`,
              [
                p,
                CLUSTER,
                rows.map((e) => `physical-${round}-${String(e.event.value?.eventId)}`),
                physicalPayloads[p]?.slice(i, i + BATCH),
              ],
            ),
          );
          physicalRows += rows.length;
        }
      }),
    );
    const physicalSeconds = Number(process.hrtime.bigint() - physicalStart) / 1e9;
    const physicalRate = physicalRows / physicalSeconds;

    // 2. Ingestion through the admin's EventManager.
    const placer: ExecutionPlacer = {
      place: () => Promise.resolve({ state: "placed", cluster: CLUSTER, reason: "Bench" }),
      terminate: () => Promise.resolve(),
    };
    const config = resolveAdminConfig({ blobStore: { url: `file://${blobDir}` } });
    const running = await startAdmin(
      { ...config, server: { ...config.server, host: "127.0.0.1", port: 0 } },
      {
        database: db,
        logger: silentLogger,
        routing: () => ({ placer, handlers: {}, start: async () => {}, stop: async () => {} }),
      },
    );
    const a = running.admin;
    await a.projects.register(create(ProjectSchema, { id: PROJECT }));
    await a.tasks.create(
      create(TaskTemplateSchema, {
        id: id(ResourceType.TASK, "work"),
        type: "container",
        container: { image: "busybox:1.36" },
      }),
    );
    await a.workflows.create(
      create(WorkflowTemplateSchema, {
        id: id(ResourceType.WORKFLOW, "wf"),
        nodes: [
          { id: "n0", target: { case: "taskNode", value: { referenceId: id(ResourceType.TASK, "work") } } },
        ],
      }),
    );
    await a.launchPlans.create(
      id(ResourceType.LAUNCH_PLAN, "lp"),
      create(LaunchPlanSpecSchema, { workflowId: id(ResourceType.WORKFLOW, "wf") }),
    );
    const spec = create(ExecutionSpecSchema, {
      target: { case: "launchPlan", value: id(ResourceType.LAUNCH_PLAN, "lp") },
    });
    const createExecutions = async (prefix: string): Promise<string[]> => {
      const names = Array.from({ length: EXECUTIONS }, (_, i) => `${prefix}${i}`);
      for (let i = 0; i < names.length; i += 8) {
        await Promise.all(
          names.slice(i, i + 8).map((n) => a.executionManager.create(PROJECT, DOMAIN, n, spec)),
        );
      }
      return names;
    };
    /** Sends every stream through the EventManager in batches of BATCH, one producer each. */
    const ingestAll = async (all: Event[][]) => {
      const tally = { accepted: 0, duplicate: 0, rejected: 0, batchMs: [] as number[] };
      const start = process.hrtime.bigint();
      await Promise.all(
        all.map(async (stream) => {
          for (let i = 0; i < stream.length; i += BATCH) {
            const s = process.hrtime.bigint();
            const results = await a.events.ingest(CLUSTER, stream.slice(i, i + BATCH));
            tally.batchMs.push(Number(process.hrtime.bigint() - s) / 1e6);
            for (const r of results) {
              if (r.outcome === EventResult_Outcome.ACCEPTED) tally.accepted++;
              else if (r.outcome === EventResult_Outcome.DUPLICATE) tally.duplicate++;
              else tally.rejected++;
            }
          }
        }),
      );
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      const events = all.reduce((n, s) => n + s.length, 0);
      tally.batchMs.sort((x, y) => x - y);
      return { ...tally, events, seconds, eventsPerSecond: events / seconds };
    };
    /** Replay must equal the stored state, whatever order or multiplicity the events came in. */
    const checkReplay = async (names: string[], mustSucceed: boolean): Promise<number> => {
      const sample = names.filter((_, i) => i % Math.max(1, Math.floor(names.length / 10)) === 0);
      for (const n of sample) {
        const key = { project: PROJECT, domain: DOMAIN, name: n };
        const [replayed, stored] = await Promise.all([a.events.replay(key), a.events.stored(key)]);
        if (!isDeepStrictEqual(replayed, stored))
          throw new Error(`replay of ${n} differs from its stored state`);
        if (mustSucceed && stored.execution.phase !== WorkflowExecution_Phase.SUCCEEDED)
          throw new Error(`${n} did not reach SUCCEEDED`);
      }
      return sample.length;
    };

    const createStart = process.hrtime.bigint();
    const names = await createExecutions("e");
    const createSeconds = Number(process.hrtime.bigint() - createStart) / 1e9;
    const inOrder = await ingestAll(streams);
    const { accepted, batchMs: latencies } = inOrder;
    const ingestSeconds = inOrder.seconds;
    const ingestRate = inOrder.eventsPerSecond;
    if (accepted !== totalEvents)
      throw new Error(`${totalEvents - accepted} events were not accepted on first delivery`);

    // Re-delivery must be a no-op; replay must equal stored state.
    const redelivery = await ingestAll(streams);
    const dupRate = redelivery.eventsPerSecond;
    const duplicates = redelivery.duplicate;
    if (duplicates !== totalEvents) throw new Error(`re-delivery: ${duplicates}/${totalEvents} duplicates`);
    let replayChecked = await checkReplay(names, true);

    // The same histories delivered out of order and with duplicates, each on fresh executions:
    // the rate, and how many events got each outcome.
    const summarize = (run: Awaited<ReturnType<typeof ingestAll>>) => ({
      events: run.events,
      eventsPerSecond: Math.round(run.eventsPerSecond),
      accepted: run.accepted,
      duplicate: run.duplicate,
      rejected: run.rejected,
      batchP50Ms: Number(percentile(run.batchMs, 50).toFixed(2)),
      batchP95Ms: Number(percentile(run.batchMs, 95).toFixed(2)),
      ratioToPhysical: Number((run.eventsPerSecond / physicalRate).toFixed(3)),
    });
    const byDelivery: Record<string, ReturnType<typeof summarize>> = { "in-order": summarize(inOrder) };
    for (const delivery of DELIVERIES.filter((d) => d !== "in-order")) {
      const prefix = delivery === "out-of-order" ? "o" : "d";
      const deliveredNames = await createExecutions(prefix);
      const run = await ingestAll(streamsOf(prefix, delivery));
      if (run.accepted + run.duplicate + run.rejected !== run.events)
        throw new Error(
          `${delivery}: ${run.events} events, ${run.accepted + run.duplicate + run.rejected} answers`,
        );
      if (
        delivery === "duplicates" &&
        (run.accepted !== totalEvents || run.duplicate !== run.events - totalEvents)
      )
        throw new Error(`duplicates: ${run.accepted} accepted, ${run.duplicate} duplicate of ${run.events}`);
      if (delivery === "out-of-order" && run.rejected === 0)
        throw new Error("out-of-order: no event was rejected, so the history was not out of order");
      replayChecked += await checkReplay(deliveredNames, delivery === "duplicates");
      byDelivery[delivery] = summarize(run);
    }
    const logRows = Number(
      (await db.query<{ n: string }>("SELECT count(*) AS n FROM execution_events")).rows[0].n,
    );

    // 3. The same over the wire: IngestEvents via Connect (binary, HTTP/2), one client per producer.
    const rpcNames = Array.from({ length: EXECUTIONS }, (_, i) => `r${i}`);
    for (let i = 0; i < rpcNames.length; i += 8) {
      await Promise.all(
        rpcNames.slice(i, i + 8).map((n) => a.executionManager.create(PROJECT, DOMAIN, n, spec)),
      );
    }
    const rpcStreams = Array.from({ length: PRODUCERS }, (_, p) =>
      interleave(rpcNames.filter((_, i) => i % PRODUCERS === p).map((n) => history(n, NODES, t0))),
    );
    const sessions = rpcStreams.map(() => new Http2SessionManager(running.url));
    let rpcAccepted = 0;
    const rpcStart = process.hrtime.bigint();
    await Promise.all(
      rpcStreams.map(async (stream, p) => {
        const client = createClient(
          AdminService,
          createConnectTransport({
            baseUrl: running.url,
            httpVersion: "2",
            useBinaryFormat: true,
            sessionManager: sessions[p],
          }),
        );
        for (let i = 0; i < stream.length; i += BATCH) {
          const { results } = await client.ingestEvents({
            producerCluster: CLUSTER,
            events: stream.slice(i, i + BATCH),
          });
          rpcAccepted += results.filter((r) => r.outcome === EventResult_Outcome.ACCEPTED).length;
        }
      }),
    );
    const rpcSeconds = Number(process.hrtime.bigint() - rpcStart) / 1e9;
    for (const s of sessions) s.abort();
    const rpcTotal = rpcStreams.reduce((n, s) => n + s.length, 0);
    if (rpcAccepted !== rpcTotal) throw new Error(`over the wire: ${rpcAccepted}/${rpcTotal} accepted`);
    const rpcRate = rpcTotal / rpcSeconds;

    // Where the time goes: mean latency per repository operation (from admin's own histogram).
    const perOperation = new Map<string, { sum: number; count: number }>();
    for (const v of (await a.metrics.dbQueryDuration.get()).values) {
      const op = String(v.labels.operation);
      const entry = perOperation.get(op) ?? { sum: 0, count: 0 };
      if (v.metricName?.endsWith("_sum")) entry.sum = v.value;
      if (v.metricName?.endsWith("_count")) entry.count = v.value;
      perOperation.set(op, entry);
    }
    const ratio = ingestRate / rawRate;
    const row = (k: string, v: string) => console.log(`${k.padEnd(44)} ${v}`);
    console.log(
      `admin-events on PostgreSQL (${quick ? "quick" : "full"}): ${PRODUCERS} producers, batches of ${BATCH}`,
    );
    row(
      "raw single-row INSERTs (same DB, same concurrency)",
      `${rawRate.toFixed(0)} rows/s (${rawCount} in ${rawSeconds.toFixed(1)} s)`,
    );
    row(
      "executions created",
      `${EXECUTIONS} in ${createSeconds.toFixed(1)} s (${(EXECUTIONS / createSeconds).toFixed(0)}/s)`,
    );
    row(
      "events ingested (accepted)",
      `${accepted} of ${totalEvents} (${EXECUTIONS} executions x ${NODES} nodes)`,
    );
    row("ingestion rate", `${ingestRate.toFixed(0)} events/s in ${ingestSeconds.toFixed(2)} s`);
    row(
      "batch latency p50 / p95 / max",
      `${percentile(latencies, 50).toFixed(1)} / ${percentile(latencies, 95).toFixed(1)} / ${latencies.at(-1)!.toFixed(1)} ms`,
    );
    row("re-delivery (all duplicates)", `${dupRate.toFixed(0)} events/s`);
    row(
      "event log rows",
      `${logRows} (in-order, out-of-order, duplicates; ${3 * EXECUTIONS} admin "created" events)`,
    );
    row("replay == stored (sampled executions)", `${replayChecked} checked`);
    for (const [op, { sum, count }] of [...perOperation].filter(([o]) =>
      /events|node_|task_|lock_many|update_states/.test(o),
    )) {
      row(`  db ${op}`, `${count} calls, mean ${((sum / Math.max(1, count)) * 1000).toFixed(2)} ms`);
    }
    row(
      "IngestEvents over Connect/HTTP2 (binary)",
      `${rpcRate.toFixed(0)} events/s (${rpcTotal} in ${rpcSeconds.toFixed(2)} s)`,
    );
    row("ratio over the wire / raw INSERT", `${(rpcRate / rawRate).toFixed(2)}`);
    row("ratio ingest / raw INSERT", `${ratio.toFixed(2)} (target >= 1.0)`);
    row(
      "physical limit: same rows, batched txns",
      `${physicalRate.toFixed(0)} rows/s (${physicalRows} in ${physicalSeconds.toFixed(2)} s, ${BATCH} per transaction)`,
    );
    row("ratio ingest / physical limit", `${(ingestRate / physicalRate).toFixed(3)}`);
    for (const [delivery, r] of Object.entries(byDelivery)) {
      row(
        `  ${delivery} histories`,
        `${r.eventsPerSecond} events/s (${r.ratioToPhysical} of physical): ${r.accepted} accepted, ` +
          `${r.duplicate} duplicate, ${r.rejected} rejected of ${r.events}; batch p50 ${r.batchP50Ms} ms`,
      );
    }
    console.log(
      "BENCH " +
        JSON.stringify({
          bench: "admin-events",
          quick,
          producers: PRODUCERS,
          batch: BATCH,
          executions: EXECUTIONS,
          events: totalEvents,
          eventsPerSecond: Math.round(ingestRate),
          rpcEventsPerSecond: Math.round(rpcRate),
          rawInsertsPerSecond: Math.round(rawRate),
          ratio: Number(ratio.toFixed(3)),
          physicalRowsPerSecond: Math.round(physicalRate),
          ratioToPhysical: Number((ingestRate / physicalRate).toFixed(3)),
          deliveries: byDelivery,
          batchP50Ms: Number(percentile(latencies, 50).toFixed(2)),
          batchP95Ms: Number(percentile(latencies, 95).toFixed(2)),
          duplicateEventsPerSecond: Math.round(dupRate),
          replayChecked,
          targetMet: ratio >= 1,
        }),
    );
    await running.stop();
  } finally {
    await db.close();
    if (keepDb) console.error(`kept database ${scratch.name}`);
    else await scratch.drop();
    rmSync(blobDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
