/**
 * Notification benchmark: `npm run bench -- notifications [--quick] [--messages N]`.
 *
 * On a fresh PostgreSQL database, N executions (one webhook notification each) reach SUCCEEDED
 * through IngestEvents while no dispatcher runs, so the outbox fills in the transactions of the
 * phase changes; the same is measured for N executions without notifications, which gives the
 * cost of writing the outbox. Then one admin with a dispatcher drains the outbox into a local
 * receiver, and, for a second outbox of N, two admins on the same database drain it together:
 * delivered messages per second, and requests per idempotency key (must be 1). Prints the
 * figures, then `BENCH {json}`.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { createClient, type Client } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import {
  ADMIN_MIGRATIONS_DIR,
  resolveAdminConfig,
  silentLogger,
  startAdmin,
  type RunningAdmin,
} from "@flotilla/admin";
import { migrate, openDatabase, type Database } from "@flotilla/db";
import {
  AdminService,
  EventResult_Outcome,
  EventSchema,
  NotificationSchema,
  ProjectSchema,
  ResourceType,
  WorkflowExecution_Phase as W,
  type Event,
  type Notification,
} from "@flotilla/proto";
import { scratchDatabase, startHttpRecorder, type HttpRecorder } from "@flotilla/testing";

const argv = process.argv.slice(2);
const quick = argv.includes("--quick");
const nIdx = argv.indexOf("--messages");
const N = nIdx >= 0 ? Number(argv[nIdx + 1]) : quick ? 100 : 2000;
const P = "bench";
const D = "development";
const SECRET = "bench-signing-secret-0123";
const EVENT_BATCH = 200;

const placed = () => ({
  placer: {
    place: () => Promise.resolve({ state: "placed" as const, cluster: "alpha", reason: "Bench" }),
    terminate: () => Promise.resolve(),
  },
  handlers: {},
  start: () => Promise.resolve(),
  stop: () => Promise.resolve(),
});

async function admin(db: Database, blobUrl: string, dispatcher: boolean): Promise<RunningAdmin> {
  const config = resolveAdminConfig({
    server: { host: "127.0.0.1", port: 0 },
    blobStore: { url: blobUrl },
    notifications: {
      enabled: dispatcher,
      pollInterval: "100ms",
      batchSize: 50,
      webhook: { signingSecret: SECRET, allowHttp: true },
    },
  });
  return startAdmin(config, { database: db, logger: silentLogger, routing: placed });
}

const id = (resourceType: ResourceType, name: string) => ({
  resourceType,
  project: P,
  domain: D,
  name,
  version: "v1",
});

/** Creates `names` as executions of workflow "w" with `notifications`. */
async function createExecutions(
  c: Client<typeof AdminService>,
  names: string[],
  notifications: Notification[],
) {
  for (const name of names)
    await c.createExecution({
      project: P,
      domain: D,
      name,
      spec: { target: { case: "workflow", value: id(ResourceType.WORKFLOW, "w") }, notifications },
    });
}

function workflowEvent(name: string, eventId: string, phase: W, phaseVersion: number): Event {
  return create(EventSchema, {
    event: {
      case: "workflowEvent",
      value: {
        eventId,
        producerCluster: "alpha",
        executionId: { project: P, domain: D, name },
        phase,
        phaseVersion,
        occurredAt: timestampFromMs(Date.now()),
      },
    },
  });
}

/** Drives every execution RUNNING → SUCCEEDED through IngestEvents; returns the elapsed ms. */
async function succeed(c: Client<typeof AdminService>, names: string[]): Promise<number> {
  const start = performance.now();
  for (let i = 0; i < names.length; i += EVENT_BATCH / 2) {
    const events = names
      .slice(i, i + EVENT_BATCH / 2)
      .flatMap((n) => [workflowEvent(n, `${n}-r`, W.RUNNING, 1), workflowEvent(n, `${n}-s`, W.SUCCEEDED, 2)]);
    const { results } = await c.ingestEvents({ producerCluster: "alpha", events });
    if (results.some((r) => r.outcome !== EventResult_Outcome.ACCEPTED))
      throw new Error("an event was not accepted");
  }
  return performance.now() - start;
}

/** Waits until `rec` accepted `count` requests; returns the elapsed ms since `start`. */
async function drained(rec: HttpRecorder, count: number, start: number): Promise<number> {
  const deadline = start + 300_000;
  while (rec.requests.length < count) {
    if (performance.now() > deadline) throw new Error(`only ${rec.requests.length} of ${count} delivered`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return performance.now() - start;
}

function maxPerKey(rec: HttpRecorder): number {
  const counts = new Map<string, number>();
  for (const r of rec.requests) {
    const key = (JSON.parse(r.body) as { idempotencyKey: string }).idempotencyKey;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return Math.max(...counts.values());
}

async function main(): Promise<void> {
  const scratch = await scratchDatabase({ prefix: "flotilla_bench_notify_" });
  const blobDir = mkdtempSync(join(tmpdir(), "flotilla-bench-notify-"));
  const db = await openDatabase({ url: scratch.url, poolSize: 8 });
  const rec = await startHttpRecorder();
  const running: RunningAdmin[] = [];
  try {
    await migrate(db, { dir: ADMIN_MIGRATIONS_DIR });
    const blobUrl = pathToFileURL(blobDir).href;
    const writer = await admin(db, blobUrl, false);
    running.push(writer);
    const c = createClient(AdminService, createConnectTransport({ baseUrl: writer.url, httpVersion: "1.1" }));
    await c.registerProject({ project: create(ProjectSchema, { id: P, name: P }) });
    await c.createTask({
      template: { id: id(ResourceType.TASK, "t"), type: "container", container: { image: "x" } },
    });
    await c.createWorkflow({
      template: {
        id: id(ResourceType.WORKFLOW, "w"),
        nodes: [
          { id: "a", target: { case: "taskNode", value: { referenceId: id(ResourceType.TASK, "t") } } },
        ],
      },
    });
    const hook = [
      create(NotificationSchema, {
        phases: [W.SUCCEEDED],
        type: { case: "webhook", value: { url: `${rec.url}/hook` } },
      }),
    ];
    const names = (prefix: string) => Array.from({ length: N }, (_, i) => `${prefix}${i}`);

    await createExecutions(c, names("plain-"), []);
    const plainMs = await succeed(c, names("plain-"));
    await createExecutions(c, names("one-"), hook);
    const withOutboxMs = await succeed(c, names("one-"));
    await createExecutions(c, names("two-"), hook);
    await succeed(c, names("two-"));

    // One dispatcher drains the first outbox of N (the second one waits for it: batch order).
    let start = performance.now();
    running.push(await admin(db, blobUrl, true));
    const oneMs = await drained(rec, N, start);
    // Then a second dispatcher joins for the rest.
    start = performance.now();
    const remaining = 2 * N - rec.requests.length;
    running.push(await admin(db, blobUrl, true));
    const twoMs = await drained(rec, 2 * N, start);
    const figures = {
      messages: N,
      ingestTerminalPerSecondWithoutNotifications: Math.round(N / (plainMs / 1000)),
      ingestTerminalPerSecondWithOutbox: Math.round(N / (withOutboxMs / 1000)),
      deliveredPerSecondOneAdmin: Math.round(N / (oneMs / 1000)),
      deliveredPerSecondTwoAdmins: Math.round(remaining / (twoMs / 1000)),
      maxRequestsPerKey: maxPerKey(rec),
    };
    console.log(
      `executions made terminal per second: ${figures.ingestTerminalPerSecondWithoutNotifications} without notifications, ${figures.ingestTerminalPerSecondWithOutbox} writing one outbox row each`,
    );
    console.log(
      `webhooks delivered per second: ${figures.deliveredPerSecondOneAdmin} (one admin), ${figures.deliveredPerSecondTwoAdmins} (two admins); most requests for one key: ${figures.maxRequestsPerKey}`,
    );
    console.log(
      `BENCH ${JSON.stringify({ bench: "notifications", quick, database: "PostgreSQL", ...figures })}`,
    );
  } finally {
    for (const a of running.reverse()) await a.stop();
    await rec.close();
    await db.close();
    await scratch.drop();
    rmSync(blobDir, { recursive: true, force: true });
  }
}

await main();
