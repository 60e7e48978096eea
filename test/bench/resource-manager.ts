/**
 * Resource manager benchmark:
 *   `npm run bench -- resource-manager [--quick] [--only A,C,E] [--workers N]
 *    [--batch-callers N] [--batch-size N]`.
 *
 * Runs on real PostgreSQL (`FLOTILLA_TEST_DATABASE_URL`, default
 * postgres://postgres@127.0.0.1:5432/postgres), each scenario in a fresh database dropped after:
 *   A. core throughput: the ResourceManager (in-memory decision loop + write-ahead group commit
 *      to PostgreSQL) in this process; W holders cycle allocate -> release on an uncontended pool
 *      (limit 1,000,000, no RPC). Every reply waits for its decision to be durable. Reported as
 *      `coreDecisionsPerSecond`: the ceiling of the core, not what a client sees.
 *   B. core contention: the acceptance shape (limit 20, 5 tenants, caps 8, 500 holders holding
 *      5-15 ms, polling while queued): grants/s, Jain's index of token-time, violations.
 *   C. RPC unary under E's contention: the `flotilla-resource-manager` bin as its own process,
 *      K x N holders (E's peak demand) each cycling Allocate(wait=false) -> Release over
 *      Connect/HTTP2 on E's pool (limit 3/4 of that demand).
 *   D. RPC contention (the long version of the kill -9 test's load, without the kills): 500
 *      holders, limit 20, caps 8, an observer sampling GetPoolStatus.
 *   E. RPC batch (the headline `decisionsPerSecond`): the bin as its own process, K callers (a
 *      propeller round each) cycling AllocateBatch of N holders -> ReleaseBatch of the granted
 *      leases, on a pool whose limit (3/4 of the peak demand) is reached now and then, so some
 *      items are REJECTED (wait=false). Decisions/s counts grants and releases; REJECTED items
 *      are counted apart (`rejectedPerSecond`); latency per decision is its batch's.
 * Over-allocation is checked independently of the server's accounting: a running count from
 * grant/end events (A, B), the holders' own view from replies (B, D), status samples (D), and
 * the granted tokens in the database sampled through a connection of its own, plus nothing left
 * granted once every caller has released (C, E); the cap rule
 * (no tenant above its cap while another tenant that is under its cap waits) from events (B)
 * and samples after warm-up (D). Latency and A/C/E throughput exclude a warm-up (2 s, 0.5 s with
 * --quick). `--only` runs a subset (for comparing C and E). Prints a table, then
 * `BENCH {json}` as its last line.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { create } from "@bufbuild/protobuf";
import { openDatabase } from "@flotilla/db";
import { AllocateRequestSchema, type AllocateRequest } from "@flotilla/proto";
import { scratchDatabase, spawnBin, tempDir } from "@flotilla/testing";
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
const WORKERS = flag("workers", 2000);
const BATCH_CALLERS = flag("batch-callers", quick ? 8 : 16);
const BATCH_SIZE = flag("batch-size", quick ? 50 : 100);
const ONLY = (() => {
  const i = argv.indexOf("--only");
  const list = i >= 0 ? (argv[i + 1] ?? "").toUpperCase().split(",") : ["A", "B", "C", "D", "E"];
  if (list.some((x) => !["A", "B", "C", "D", "E"].includes(x))) throw new Error("--only takes letters A-E");
  return new Set(list);
})();
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
  /** True once the warm-up is over. */
  measuring(): boolean {
    return performance.now() >= this.measureFrom;
  }
  /** Records `ms` for `times` decisions (a batch's items share its latency). */
  add(ms: number, times = 1): void {
    if (performance.now() < this.measureFrom) return;
    while (this.n + times > this.values.length) {
      const bigger = new Float64Array(this.values.length * 2);
      bigger.set(this.values);
      this.values = bigger;
    }
    this.values.fill(ms, this.n, this.n + times);
    this.n += times;
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
  const scratch = await scratchDatabase({ prefix: "flotilla_bench_rm_" });
  try {
    return await fn(scratch.url);
  } finally {
    await scratch.drop();
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

/** Peak demand of C and E: every batch caller's items, or as many unary holders at once. */
const DEMAND = BATCH_CALLERS * BATCH_SIZE;
/** C's and E's pool limit: 3/4 of the peak demand, so both meet the same contention. */
const CONTENDED_LIMIT = Math.floor((DEMAND * 3) / 4);
const CONTENDED_POOL = ["  - resource: warehouse", `    limit: ${CONTENDED_LIMIT}`, "    defaultTtl: 60s"];

/** Decisions after the warm-up, by kind: a REJECTED item is an answer, not a grant. */
class Tally {
  grants = 0;
  rejected = 0;
  releases = 0;
  constructor(private readonly latencies: Latencies) {}
  count(kind: "grants" | "rejected" | "releases", n = 1): void {
    if (this.latencies.measuring()) this[kind] += n;
  }
  /** Per-second figures over the measured window; decisions are grants and releases only. */
  rates() {
    const seconds = this.latencies.seconds();
    return {
      decisionsPerSecond: Math.round((this.grants + this.releases) / seconds),
      grantsPerSecond: Math.round(this.grants / seconds),
      rejectedPerSecond: Math.round(this.rejected / seconds),
      rejectedShare: round(this.rejected / Math.max(1, this.grants + this.rejected)),
    };
  }
}

/**
 * Runs `fn` while sampling the granted tokens in the database through a connection of its own
 * (every group commit is one statement, so each sample is a state the leader made durable)
 * until `fn` settles, calls still in flight after the phase ended included. Afterwards nothing
 * may stay granted.
 */
async function withDurableSampler<T>(url: string, limit: number, fn: () => Promise<T>) {
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  let violations = 0;
  let samples = 0;
  let maxDurable = 0;
  const grantedTokens = async (): Promise<number> => {
    const { rows } = await db.query<{ tokens: number }>(
      "SELECT coalesce(sum(tokens), 0)::int AS tokens FROM rm_holders WHERE state = 'granted'",
    );
    return rows[0]?.tokens ?? 0;
  };
  let done = false;
  const sampler = (async () => {
    while (!done) {
      const tokens = await grantedTokens();
      samples++;
      maxDurable = Math.max(maxDurable, tokens);
      if (tokens > limit) violations++;
      await sleep(10);
    }
  })();
  try {
    const result = await fn().finally(() => void (done = true));
    await sampler;
    // Every caller released what it held before stopping: nothing may stay granted.
    const leaked = await grantedTokens();
    return {
      result,
      maxDurableGranted: maxDurable,
      databaseSamples: samples,
      leakedTokens: leaked,
      overAllocations: violations + (leaked > 0 ? 1 : 0),
    };
  } finally {
    await db.end();
  }
}

/**
 * C's and E's shared frame: the bin on the contended pool, `count` workers running `loop` until
 * the phase ends (`stopped()`), the database sampled meanwhile. Returns the rates, latency and
 * durable checks.
 */
async function contended(url: string, count: number, loop: (run: ContendedWorker) => Promise<void>) {
  return withBin(url, CONTENDED_POOL, async (baseUrl) => {
    const client = createResourceManagerClient(baseUrl);
    const latencies = new Latencies();
    const tally = new Tally(latencies);
    let stop = false;
    const { result, ...checks } = await withDurableSampler(url, CONTENDED_LIMIT, async () => {
      await Promise.all(
        Array.from({ length: count }, (_, w) =>
          loop({ client, w, latencies, tally, stopped: () => stop }),
        ).concat(sleep(PHASE_MS).then(() => void (stop = true))),
      );
      return tally.rates();
    });
    return { limit: CONTENDED_LIMIT, ...result, ...latencies.summary(), ...checks };
  });
}

/** What one worker of {@link contended} gets. */
interface ContendedWorker {
  client: ReturnType<typeof createResourceManagerClient>;
  w: number;
  latencies: Latencies;
  tally: Tally;
  stopped: () => boolean;
}

async function rpcUnaryContended(url: string) {
  const run = await contended(url, DEMAND, async ({ client, w, latencies, tally, stopped }) => {
    for (let n = 0; !stopped(); n++) {
      let t0 = performance.now();
      const res = await client.allocate(
        create(AllocateRequestSchema, {
          resource: "warehouse",
          tenant: { project: `tenant-${w % TENANTS}`, domain: "prod" },
          holder: `c${w}-${n}`,
          tokens: 1,
          wait: false,
        }),
      );
      latencies.add(performance.now() - t0);
      if (res.outcome.case === "rejected") {
        tally.count("rejected");
        continue;
      }
      if (res.outcome.case !== "granted") throw new Error(`wait=false allocate was ${res.outcome.case}`);
      tally.count("grants");
      t0 = performance.now();
      const released = await client.release({ leaseId: res.outcome.value.lease?.leaseId ?? "" });
      latencies.add(performance.now() - t0);
      if (released.releasedTokens !== 1) throw new Error("a granted lease was not released");
      tally.count("releases");
    }
  });
  return { clients: DEMAND, ...run };
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

async function rpcBatchThroughput(url: string) {
  const run = await contended(url, BATCH_CALLERS, async ({ client, w, latencies, tally, stopped }) => {
    for (let n = 0; !stopped(); n++) {
      const requests: AllocateRequest[] = Array.from({ length: BATCH_SIZE }, (_, i) =>
        create(AllocateRequestSchema, {
          resource: "warehouse",
          tenant: { project: `tenant-${(w + i) % TENANTS}`, domain: "prod" },
          holder: `b${w}-${n}-${i}`,
          tokens: 1,
          wait: false,
        }),
      );
      let t0 = performance.now();
      const res = await client.allocateBatch({ requests });
      latencies.add(performance.now() - t0, BATCH_SIZE);
      const leaseIds: string[] = [];
      for (const item of res.results) {
        if (item.result.case !== "response")
          throw new Error(`batch item failed: ${item.result.value?.message}`);
        const outcome = item.result.value.outcome;
        if (outcome.case === "granted") leaseIds.push(outcome.value.lease?.leaseId ?? "");
        else if (outcome.case === "rejected") tally.count("rejected");
        else throw new Error(`wait=false item was ${outcome.case}`);
      }
      tally.count("grants", leaseIds.length);
      if (leaseIds.length === 0) continue;
      t0 = performance.now();
      const released = await client.releaseBatch({
        requests: leaseIds.map((leaseId) => ({ leaseId })),
      });
      latencies.add(performance.now() - t0, leaseIds.length);
      for (const item of released.results) {
        if (item.result.case !== "response" || item.result.value.releasedTokens !== 1)
          throw new Error("a granted lease was not released");
      }
      tally.count("releases", leaseIds.length);
    }
  });
  return { callers: BATCH_CALLERS, batchSize: BATCH_SIZE, ...run };
}

async function main(): Promise<void> {
  const run = <T>(letter: string, fn: (url: string) => Promise<T>): Promise<T | undefined> =>
    ONLY.has(letter) ? withScratchDatabase(fn) : Promise.resolve(undefined);
  const a = await run("A", coreThroughput);
  const b = await run("B", coreContention);
  const c = await run("C", rpcUnaryContended);
  const d = await run("D", rpcContention);
  const e = await run("E", rpcBatchThroughput);
  const mode = quick ? "quick" : "full";
  console.log(`resource-manager benchmark on PostgreSQL (${mode})`);
  if (a)
    console.log(
      `A core throughput   ${WORKERS} holders: ${a.decisionsPerSecond} decisions/s (allocate+release, durable), ` +
        `p50 ${a.p50} ms, p99 ${a.p99} ms, max ${a.max} ms; ${a.batches} commits of ${a.meanBatch} changes; ` +
        `over-allocations ${a.overAllocations}`,
    );
  if (b)
    console.log(
      `B core contention   ${HOLDERS} holders, limit ${LIMIT}, caps ${CAP}: ${b.grantsPerSecond} grants/s, ` +
        `${b.pollsPerSecond} polls/s, p50 ${b.p50} ms, p99 ${b.p99} ms, Jain ${b.jainIndex}, ` +
        `max held ${b.maxHeldByHolders}, violations ${b.overAllocations}`,
    );
  if (c)
    console.log(
      `C RPC unary         ${c.clients} clients, limit ${c.limit}: ${c.decisionsPerSecond} decisions/s ` +
        `(${c.grantsPerSecond} grants/s + releases; ${c.rejectedPerSecond} rejected/s apart, ${c.rejectedShare} of asks), ` +
        `p50 ${c.p50} ms, p99 ${c.p99} ms, max ${c.max} ms; max durably granted ${c.maxDurableGranted}, ` +
        `leaked ${c.leakedTokens}, violations ${c.overAllocations}`,
    );
  if (d)
    console.log(
      `D RPC contention    ${HOLDERS} holders for ${d.seconds} s: ${d.grantsPerSecond} grants/s, p50 ${d.p50} ms, ` +
        `p99 ${d.p99} ms, Jain ${d.jainIndex}, max held ${d.maxHeldByHolders}, ${d.observerSamples} observer samples, ` +
        `violations ${d.overAllocations}`,
    );
  if (e)
    console.log(
      `E RPC batch         ${e.callers} callers x ${e.batchSize} items, limit ${e.limit}: ${e.decisionsPerSecond} decisions/s ` +
        `(${e.grantsPerSecond} grants/s + releases; ${e.rejectedPerSecond} rejected/s apart, ${e.rejectedShare} of asks), ` +
        `per decision p50 ${e.p50} ms, p99 ${e.p99} ms, max ${e.max} ms; max durably granted ${e.maxDurableGranted} ` +
        `(${e.databaseSamples} database samples), leaked ${e.leakedTokens}, violations ${e.overAllocations}`,
    );
  const overAllocations =
    (a?.overAllocations ?? 0) +
    (b?.overAllocations ?? 0) +
    (c?.overAllocations ?? 0) +
    (d?.overAllocations ?? 0) +
    (e?.overAllocations ?? 0);
  if (c && e) {
    console.log(
      `RPC allocate+release through the bin on PostgreSQL, same pool (limit ${e.limit}) and demand (${DEMAND} holders): ` +
        `batch ${e.decisionsPerSecond} decisions/s (p99 ${e.p99} ms per decision) vs unary ${c.decisionsPerSecond} ` +
        `decisions/s (p99 ${c.p99} ms); over-allocations ${overAllocations}`,
    );
  }
  if (overAllocations !== 0) process.exitCode = 1;
  // The headline is what a client sees: allocate+release decisions through the bin's batch
  // RPCs under contention, REJECTED answers apart; the in-process core figure has its own name.
  const result = {
    name: "resource-manager",
    mode,
    decisionsPerSecond: e?.decisionsPerSecond ?? null,
    grantsPerSecond: e?.grantsPerSecond ?? null,
    rejectedPerSecond: e?.rejectedPerSecond ?? null,
    p50Ms: e?.p50 ?? null,
    p99Ms: e?.p99 ?? null,
    rpcUnaryDecisionsPerSecond: c?.decisionsPerSecond ?? null,
    rpcUnaryGrantsPerSecond: c?.grantsPerSecond ?? null,
    rpcUnaryRejectedPerSecond: c?.rejectedPerSecond ?? null,
    rpcUnaryP99Ms: c?.p99 ?? null,
    coreDecisionsPerSecond: a?.decisionsPerSecond ?? null,
    coreP99Ms: a?.p99 ?? null,
    overAllocations,
    coreThroughput: a ?? null,
    coreContention: b ?? null,
    rpcUnaryContended: c ?? null,
    rpcContention: d ?? null,
    rpcBatchThroughput: e ?? null,
  };
  console.log(`BENCH ${JSON.stringify(result)}`);
}

await main();
