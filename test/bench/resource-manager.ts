/**
 * Resource manager benchmark:
 *   `npm run bench -- resource-manager [--quick] [--workers N] [--clients N]`.
 *
 * Runs on real PostgreSQL (`FLOTILLA_TEST_DATABASE_URL`, default
 * postgres://postgres@127.0.0.1:5432/postgres), each scenario in a fresh database dropped after:
 *   A. core throughput: the ResourceManager (in-memory decision loop + write-ahead group commit
 *      to PostgreSQL) in this process; W holders cycle allocate -> release on an uncontended pool.
 *      Every reply waits for its decision to be durable. Headline decisions/s and latency.
 *   B. core contention: the acceptance shape (limit 20, 5 tenants, caps 8, 500 holders holding
 *      5-15 ms, polling while queued): grants/s, Jain's index of token-time, violations.
 *   C. RPC throughput: the `flotilla-resource-manager` bin as its own process, C clients over
 *      Connect/HTTP2 cycling allocate -> release on an uncontended pool.
 *   D. RPC contention (the long version of the kill -9 test's load, without the kills): 500
 *      holders, limit 20, caps 8, an observer sampling GetPoolStatus.
 * Over-allocation is checked independently of the server's accounting: a running count from
 * grant/end events (A, B), the holders' own view from replies (all), and status samples (C, D);
 * the cap rule (no tenant above its cap while another tenant that is under its cap waits) from
 * events (B) and samples after warm-up (D). Latency and A/C throughput exclude a warm-up (2 s,
 * 0.5 s with --quick). Prints a table, then `BENCH {json}` as its last line.
 */
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { create } from "@bufbuild/protobuf";
import { openDatabase } from "@flotilla/db";
import { AllocateRequestSchema } from "@flotilla/proto";
import { spawnBin, tempDir } from "@flotilla/testing";
import {
  PostgresStateRepository,
  ResourceManager,
  createResourceManagerClient,
  createResourceManagerMetrics,
  migrateResourceManager,
  type AllocateOutcome,
  type AllocatorObserver,
  type PoolConfig,
} from "@flotilla/resource-manager";

const argv = process.argv.slice(2);
const quick = argv.includes("--quick");
const flag = (name: string, fallback: number): number => {
  const i = argv.indexOf(`--${name}`);
  const value = i >= 0 ? Number(argv[i + 1]) : fallback;
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} needs a positive integer`);
  return value;
};
const SERVER_URL = process.env.FLOTILLA_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const WORKERS = flag("workers", 2000);
const CLIENTS = flag("clients", 128);
const PHASE_MS = quick ? 3_000 : 15_000;
const LONG_MS = quick ? 5_000 : 60_000;
const TENANTS = 5;
const LIMIT = 20;
const CAP = 8;
const HOLDERS = 500;
const DEADLINE_MS = quick ? 3 * 60_000 : 10 * 60_000;

const deadline = setTimeout(() => {
  process.stderr.write(`bench: resource-manager benchmark exceeded ${DEADLINE_MS} ms, aborting\n`);
  process.exit(1);
}, DEADLINE_MS);
deadline.unref();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round = (x: number): number => Math.round(x * 1000) / 1000;

/** Warm-up excluded from every figure (JIT, first connections, first batches). */
const WARMUP_MS = quick ? 500 : 2_000;

/** Latency samples after the warm-up; `seconds()` is the measured window so far. */
class Latencies {
  private values = new Float64Array(1 << 16);
  private n = 0;
  private readonly measureFrom = performance.now() + WARMUP_MS;
  seconds(): number {
    return Math.max(0.001, (performance.now() - this.measureFrom) / 1000);
  }
  add(ms: number): void {
    if (performance.now() < this.measureFrom) return;
    if (this.n === this.values.length) {
      const bigger = new Float64Array(this.values.length * 2);
      bigger.set(this.values);
      this.values = bigger;
    }
    this.values[this.n++] = ms;
  }
  get count(): number {
    return this.n;
  }
  summary(): { p50: number; p99: number; max: number } {
    const sorted = this.values.slice(0, this.n).sort();
    const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;
    return { p50: round(at(0.5)), p99: round(at(0.99)), max: round(sorted[sorted.length - 1] ?? 0) };
  }
}

function jain(xs: number[]): number {
  const sum = xs.reduce((a, b) => a + b, 0);
  const squares = xs.reduce((a, b) => a + b * b, 0);
  return squares === 0 ? 1 : Math.round(((sum * sum) / (xs.length * squares)) * 10_000) / 10_000;
}

async function withScratchDatabase<T>(fn: (url: string) => Promise<T>): Promise<T> {
  const name = `flotilla_bench_rm_${randomBytes(4).toString("hex")}`;
  const admin = new pg.Client({ connectionString: SERVER_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(SERVER_URL);
  url.pathname = `/${name}`;
  try {
    return await fn(url.toString());
  } finally {
    const drop = new pg.Client({ connectionString: SERVER_URL });
    await drop.connect();
    await drop.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await drop.end();
  }
}

/**
 * Independent event-derived checks: a running token count (limit) and, per tenant, tokens and
 * waiting requests (cap rule: a grant may leave a tenant above its cap only if no other tenant
 * under its cap is waiting). All requests are 1 token.
 */
class EventChecker implements AllocatorObserver {
  violations = 0;
  private live = 0;
  private readonly held = new Map<string, number>();
  private readonly waiting = new Map<string, Set<string>>();
  constructor(
    private readonly limit: number,
    private readonly cap: number,
  ) {}
  onQueued(request: { project: string; holder: string }): void {
    let set = this.waiting.get(request.project);
    if (!set) this.waiting.set(request.project, (set = new Set()));
    set.add(request.holder);
  }
  onQueuedEnded(request: { project: string; holder: string }): void {
    this.waiting.get(request.project)?.delete(request.holder);
  }
  onGrant(lease: { project: string; holder: string; tokens: number }): void {
    this.waiting.get(lease.project)?.delete(lease.holder);
    this.live += lease.tokens;
    const mine = (this.held.get(lease.project) ?? 0) + lease.tokens;
    this.held.set(lease.project, mine);
    if (this.live > this.limit) this.violations++;
    if (mine > this.cap) {
      for (const [project, set] of this.waiting) {
        if (project !== lease.project && set.size > 0 && (this.held.get(project) ?? 0) < this.cap) {
          this.violations++;
          break;
        }
      }
    }
  }
  onLeaseEnded(lease: { project: string; tokens: number }): void {
    this.live -= lease.tokens;
    this.held.set(lease.project, (this.held.get(lease.project) ?? 0) - lease.tokens);
  }
}

async function inProcessManager(url: string, pool: PoolConfig, checker: EventChecker) {
  const db = await openDatabase({ url, poolSize: 4 });
  await migrateResourceManager(db);
  const metrics = createResourceManagerMetrics({ defaultMetrics: false });
  let batches = 0;
  let changes = 0;
  const observer: AllocatorObserver = {
    onGrant: (l, w) => (metrics.observer.onGrant?.(l, w), checker.onGrant(l)),
    onQueued: (q) => (metrics.observer.onQueued?.(q), checker.onQueued(q)),
    onLeaseEnded: (l, r) => (metrics.observer.onLeaseEnded?.(l, r), checker.onLeaseEnded(l)),
    onQueuedEnded: (q, r) => (metrics.observer.onQueuedEnded?.(q, r), checker.onQueuedEnded(q)),
  };
  const manager = new ResourceManager({
    repository: new PostgresStateRepository(db),
    configPools: [pool],
    instance: "bench",
    advertiseUrl: "http://bench.invalid",
    metrics: {
      ...metrics,
      observer,
      committed(size, seconds) {
        batches++;
        changes += size;
        metrics.committed(size, seconds);
      },
    },
  });
  await manager.activate();
  return {
    manager,
    batchStats: () => ({ batches, meanBatch: round(changes / Math.max(1, batches)) }),
    close: async () => {
      manager.stop();
      await db.close();
    },
  };
}

async function coreThroughput(url: string) {
  const checker = new EventChecker(1_000_000, 1_000_000);
  const rm = await inProcessManager(
    url,
    { resource: "warehouse", limit: 1_000_000, defaultTtlMs: 60_000 },
    checker,
  );
  const latencies = new Latencies();
  let stop = false;
  await Promise.all(
    Array.from({ length: WORKERS }, async (_, w) => {
      for (let n = 0; !stop; n++) {
        const holder = `w${w}-${n}`;
        let t0 = performance.now();
        const outcome = await rm.manager.allocate({
          resource: "warehouse",
          project: `tenant-${w % TENANTS}`,
          domain: "prod",
          holder,
          tokens: 1,
          wait: true,
        });
        latencies.add(performance.now() - t0);
        if (outcome.status !== "granted") throw new Error(`uncontended allocate was ${outcome.status}`);
        t0 = performance.now();
        await rm.manager.release("warehouse", holder);
        latencies.add(performance.now() - t0);
      }
    }).concat(sleep(PHASE_MS).then(() => void (stop = true))),
  );
  const seconds = latencies.seconds();
  const stats = rm.batchStats();
  await rm.close();
  return {
    decisionsPerSecond: Math.round(latencies.count / seconds),
    ...latencies.summary(),
    ...stats,
    overAllocations: checker.violations,
  };
}

async function coreContention(url: string) {
  const checker = new EventChecker(LIMIT, CAP);
  const rm = await inProcessManager(
    url,
    {
      resource: "warehouse",
      limit: LIMIT,
      defaultCap: { tokens: CAP },
      allowBorrowing: true,
      defaultTtlMs: 60_000,
    },
    checker,
  );
  const latencies = new Latencies();
  const tokenTime = new Array<number>(TENANTS).fill(0);
  let grants = 0;
  let polls = 0;
  let held = 0;
  let maxHeld = 0;
  let stop = false;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: HOLDERS }, async (_, w) => {
      const tenant = w % TENANTS;
      for (let n = 0; !stop; n++) {
        const request = {
          resource: "warehouse",
          project: `tenant-${tenant}`,
          domain: "prod",
          holder: `w${w}-${n}`,
          tokens: 1,
          wait: true,
        };
        let outcome: AllocateOutcome;
        for (;;) {
          const t0 = performance.now();
          outcome = await rm.manager.allocate(request);
          latencies.add(performance.now() - t0);
          if (outcome.status !== "queued" || stop) break;
          polls++;
          await sleep(Math.min(200, 2 + outcome.position));
        }
        if (outcome.status !== "granted") {
          await rm.manager.release("warehouse", request.holder);
          return;
        }
        grants++;
        held++;
        maxHeld = Math.max(maxHeld, held);
        const from = performance.now();
        await sleep(5 + ((w + n) % 11));
        tokenTime[tenant] = (tokenTime[tenant] ?? 0) + (performance.now() - from);
        held--;
        const t0 = performance.now();
        await rm.manager.release("warehouse", request.holder);
        latencies.add(performance.now() - t0);
      }
    }).concat(sleep(PHASE_MS).then(() => void (stop = true))),
  );
  const seconds = (performance.now() - started) / 1000;
  await rm.close();
  return {
    grantsPerSecond: Math.round(grants / seconds),
    pollsPerSecond: Math.round(polls / seconds),
    ...latencies.summary(),
    jainIndex: jain(tokenTime),
    maxHeldByHolders: maxHeld,
    overAllocations: checker.violations + (maxHeld > LIMIT ? 1 : 0),
  };
}

async function withBin<T>(url: string, poolYaml: string[], fn: (baseUrl: string) => Promise<T>): Promise<T> {
  const dir = tempDir({ prefix: "rm-bench-" });
  const config = join(dir.path, "rm.yaml");
  writeFileSync(config, ["pools:", ...poolYaml].join("\n") + "\n");
  const bin = await spawnBin(
    "flotilla-resource-manager",
    ["--config", config, "--host", "127.0.0.1", "--port", "0", "--database-url", url],
    { readyLine: /listening on (http:\/\/\S+)/ },
  );
  try {
    const baseUrl = bin.ready?.[1];
    if (!baseUrl) throw new Error("resource manager did not report its URL");
    const until = Date.now() + 30_000;
    while ((await fetch(`${baseUrl}/readyz`).catch(() => undefined))?.status !== 200) {
      if (Date.now() > until) throw new Error("resource manager did not become leader within 30 s");
      await sleep(100);
    }
    return await fn(baseUrl);
  } finally {
    await bin.stop();
    await dir.cleanup();
  }
}

async function rpcThroughput(url: string) {
  return withBin(
    url,
    ["  - resource: warehouse", "    limit: 1000000", "    defaultTtl: 60s"],
    async (baseUrl) => {
      const client = createResourceManagerClient(baseUrl);
      const latencies = new Latencies();
      let stop = false;
      await Promise.all(
        Array.from({ length: CLIENTS }, async (_, w) => {
          for (let n = 0; !stop; n++) {
            let t0 = performance.now();
            const res = await client.allocate(
              create(AllocateRequestSchema, {
                resource: "warehouse",
                tenant: { project: `tenant-${w % TENANTS}`, domain: "prod" },
                holder: `c${w}-${n}`,
                tokens: 1,
                wait: true,
              }),
            );
            latencies.add(performance.now() - t0);
            if (res.outcome.case !== "granted")
              throw new Error(`uncontended allocate was ${res.outcome.case}`);
            t0 = performance.now();
            await client.release({ leaseId: res.outcome.value.lease?.leaseId ?? "" });
            latencies.add(performance.now() - t0);
          }
        }).concat(sleep(PHASE_MS).then(() => void (stop = true))),
      );
      return {
        decisionsPerSecond: Math.round(latencies.count / latencies.seconds()),
        ...latencies.summary(),
      };
    },
  );
}

async function rpcContention(url: string) {
  const pool = [
    "  - resource: warehouse",
    `    limit: ${LIMIT}`,
    `    defaultCap: ${CAP}`,
    "    defaultTtl: 60s",
  ];
  return withBin(url, pool, async (baseUrl) => {
    const client = createResourceManagerClient(baseUrl);
    const observerClient = createResourceManagerClient(baseUrl);
    const latencies = new Latencies();
    const tokenTime = new Array<number>(TENANTS).fill(0);
    let grants = 0;
    let held = 0;
    let maxHeld = 0;
    let violations = 0;
    let samples = 0;
    let stop = false;
    const started = performance.now();
    const observer = (async () => {
      while (!stop) {
        const s = await observerClient.getPoolStatus({ resource: "warehouse" });
        samples++;
        if (s.inUse > LIMIT) violations++;
        if (performance.now() - started > 1_500) {
          const projects = s.tenants.filter((x) => x.tenant?.domain === "");
          for (const over of projects.filter((x) => x.inUse > x.cap)) {
            if (projects.some((x) => x !== over && x.queuedRequests > 0 && x.inUse < x.cap)) violations++;
          }
        }
        await sleep(20);
      }
    })();
    await Promise.all(
      Array.from({ length: HOLDERS }, async (_, w) => {
        const tenant = w % TENANTS;
        for (let n = 0; !stop; n++) {
          const request = create(AllocateRequestSchema, {
            resource: "warehouse",
            tenant: { project: `tenant-${tenant}`, domain: "prod" },
            holder: `h${w}-${n}`,
            tokens: 1,
            wait: true,
          });
          let leaseId = "";
          while (!stop) {
            const t0 = performance.now();
            const res = await client.allocate(request);
            latencies.add(performance.now() - t0);
            if (res.outcome.case === "granted") {
              leaseId = res.outcome.value.lease?.leaseId ?? "";
              break;
            }
            const position = res.outcome.case === "queued" ? res.outcome.value.position : 1;
            await sleep(Math.min(2000, 100 + position * 10));
          }
          if (!leaseId) {
            await client.release({ resource: "warehouse", holder: request.holder });
            return;
          }
          grants++;
          held++;
          maxHeld = Math.max(maxHeld, held);
          if (held > LIMIT) violations++;
          const from = performance.now();
          await sleep(200 + ((w * 7 + n * 13) % 300));
          tokenTime[tenant] = (tokenTime[tenant] ?? 0) + (performance.now() - from);
          held--;
          const t0 = performance.now();
          await client.release({ leaseId });
          latencies.add(performance.now() - t0);
        }
      }).concat(sleep(LONG_MS).then(() => void (stop = true))),
    );
    await observer;
    const seconds = (performance.now() - started) / 1000;
    return {
      seconds: round(seconds),
      grantsPerSecond: Math.round(grants / seconds),
      ...latencies.summary(),
      jainIndex: jain(tokenTime),
      maxHeldByHolders: maxHeld,
      observerSamples: samples,
      overAllocations: violations,
    };
  });
}

async function main(): Promise<void> {
  const a = await withScratchDatabase(coreThroughput);
  const b = await withScratchDatabase(coreContention);
  const c = await withScratchDatabase(rpcThroughput);
  const d = await withScratchDatabase(rpcContention);
  const mode = quick ? "quick" : "full";
  console.log(`resource-manager benchmark on PostgreSQL (${mode})`);
  console.log(
    `A core throughput   ${WORKERS} holders: ${a.decisionsPerSecond} decisions/s (allocate+release, durable), ` +
      `p50 ${a.p50} ms, p99 ${a.p99} ms, max ${a.max} ms; ${a.batches} commits of ${a.meanBatch} changes; ` +
      `over-allocations ${a.overAllocations}`,
  );
  console.log(
    `B core contention   ${HOLDERS} holders, limit ${LIMIT}, caps ${CAP}: ${b.grantsPerSecond} grants/s, ` +
      `${b.pollsPerSecond} polls/s, p50 ${b.p50} ms, p99 ${b.p99} ms, Jain ${b.jainIndex}, ` +
      `max held ${b.maxHeldByHolders}, violations ${b.overAllocations}`,
  );
  console.log(
    `C RPC throughput    ${CLIENTS} clients: ${c.decisionsPerSecond} decisions/s, p50 ${c.p50} ms, p99 ${c.p99} ms, max ${c.max} ms`,
  );
  console.log(
    `D RPC contention    ${HOLDERS} holders for ${d.seconds} s: ${d.grantsPerSecond} grants/s, p50 ${d.p50} ms, ` +
      `p99 ${d.p99} ms, Jain ${d.jainIndex}, max held ${d.maxHeldByHolders}, ${d.observerSamples} observer samples, ` +
      `violations ${d.overAllocations}`,
  );
  const overAllocations = a.overAllocations + b.overAllocations + d.overAllocations;
  if (overAllocations !== 0) process.exitCode = 1;
  const result = {
    name: "resource-manager",
    mode,
    decisionsPerSecond: a.decisionsPerSecond,
    p50Ms: a.p50,
    p99Ms: a.p99,
    overAllocations,
    coreThroughput: a,
    coreContention: b,
    rpcThroughput: c,
    rpcContention: d,
  };
  console.log(`BENCH ${JSON.stringify(result)}`);
}

await main();
