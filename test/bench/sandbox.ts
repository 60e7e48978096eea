/**
 * Sandbox benchmark: `npm run bench -- sandbox [--quick] [--cpu-prof] [--clients N] [--watchers N]`.
 *
 * Starts one simulated-mode cluster as its own process (the `flotilla-sandbox` bin, so the load
 * generator does not share its event loop) and measures, through @kubernetes/client-node as
 * propellers use it:
 *   1. pod creates/s with N concurrent clients (10,000 long-running pods; 1,000 with --quick),
 *   2. how long the kubelet takes to bind and run them all,
 *   3. pod get/s and full and paginated list latency with every pod live,
 *   4. watch fan-out: events/s delivered to W raw watch streams while pods churn,
 *   5. the sandbox process's RSS with every pod live.
 * Prints a table, then `BENCH {json}` as its last line. `--cpu-prof` writes a V8 CPU profile of
 * the sandbox process to `.flotilla/bench/sandbox-prof/` for finding API server hot spots.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { request, type IncomingMessage } from "node:http";
import { createInterface } from "node:readline";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { CoreV1Api, KubeConfig, Watch, type V1Pod } from "@kubernetes/client-node";
import { repoRoot, tempDir } from "@flotilla/testing";

const argv = process.argv.slice(2);
const quick = argv.includes("--quick");
const cpuProf = argv.includes("--cpu-prof");
const flag = (name: string, fallback: number): number => {
  const i = argv.indexOf(`--${name}`);
  const value = i >= 0 ? Number(argv[i + 1]) : fallback;
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} needs a positive integer`);
  return value;
};

const PODS = quick ? 1_000 : 10_000;
const CLIENTS = flag("clients", 16);
const WATCHERS = flag("watchers", 50);
const CHURN = quick ? 200 : 1_000;
const GETS = quick ? 2_000 : 5_000;
const FULL_LISTS = quick ? 10 : 5;
const NODES = 10;
const NAMESPACE = "bench";
const DEADLINE_MS = quick ? 5 * 60_000 : 20 * 60_000;

/** A phase of the benchmark that did not finish in time. */
class BenchTimeoutError extends Error {
  override readonly name = "BenchTimeoutError";
  constructor(
    readonly phase: string,
    readonly ms: number,
  ) {
    super(`${phase} did not finish within ${ms} ms`);
  }
}

const deadline = setTimeout(() => {
  process.stderr.write(`bench: sandbox benchmark exceeded ${DEADLINE_MS} ms, aborting\n`);
  process.exit(1);
}, DEADLINE_MS);
deadline.unref();

function podBody(name: string): V1Pod {
  return {
    metadata: {
      name,
      namespace: NAMESPACE,
      labels: { app: "bench", batch: name.startsWith("churn") ? "churn" : "base" },
      annotations: { "sandbox.flotilla.io/duration": "24h", "sandbox.flotilla.io/mode": "simulated" },
    },
    spec: {
      restartPolicy: "Never",
      terminationGracePeriodSeconds: 1,
      tolerations: [{ key: "flotilla.io/capacity-type", operator: "Exists" }],
      containers: [
        {
          name: "main",
          image: "busybox:1.36",
          command: ["sleep", "86400"],
          resources: { requests: { cpu: "5m", memory: "8Mi" } },
        },
      ],
    },
  };
}

/** Runs `total` jobs over `concurrency` workers; returns elapsed ms. */
async function concurrently(
  total: number,
  concurrency: number,
  job: (i: number, worker: number) => Promise<unknown>,
): Promise<number> {
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      for (let i = next++; i < total; i = next++) await job(i, worker);
    }),
  );
  return performance.now() - start;
}

/** Tracks pod phases from one client-node watch, as a propeller's informer would. */
class PhaseTracker {
  readonly phases = new Map<string, string>();
  private waiters: Array<() => void> = [];
  private controller?: AbortController;
  private stopped = false;

  constructor(private readonly kc: KubeConfig) {}

  async start(resourceVersion: string): Promise<void> {
    this.controller = await new Watch(this.kc).watch(
      `/api/v1/namespaces/${NAMESPACE}/pods`,
      { resourceVersion, allowWatchBookmarks: false },
      (type: string, obj: V1Pod) => {
        const name = obj.metadata?.name ?? "";
        if (type === "DELETED") this.phases.delete(name);
        else this.phases.set(name, obj.status?.phase ?? "Pending");
        for (const w of this.waiters) w();
      },
      (err: unknown) => {
        if (err && !this.stopped)
          process.stderr.write(
            `bench: tracker watch ended: ${err instanceof Error ? err.message : JSON.stringify(err)}\n`,
          );
      },
    );
  }

  count(predicate: (name: string, phase: string) => boolean): number {
    let n = 0;
    for (const [name, phase] of this.phases) if (predicate(name, phase)) n++;
    return n;
  }

  /** Resolves when `condition` holds (checked on every event), or rejects after `ms`. */
  async until(phase: string, condition: () => boolean, ms: number): Promise<void> {
    const start = performance.now();
    while (!condition()) {
      if (performance.now() - start > ms) throw new BenchTimeoutError(phase, ms);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 250);
      });
      this.waiters = [];
    }
  }

  stop(): void {
    this.stopped = true;
    this.controller?.abort();
  }
}

/** A watcher's share of the churn that did not arrive: the fan-out check's failure. */
class FanOutIncompleteError extends Error {
  constructor(
    readonly watcher: number,
    readonly counts: { added: number; deleted: number; total: number },
    readonly expected: { added: number; deleted: number; total: number },
  ) {
    super(
      `watcher ${watcher} received ${JSON.stringify(counts)} watch events, expected ${JSON.stringify(expected)}`,
    );
    this.name = "FanOutIncompleteError";
  }
}

const ADDED = Buffer.from('{"type":"ADDED"');
const DELETED = Buffer.from('{"type":"DELETED"');

/**
 * A raw watch stream that counts events (newline-delimited JSON) and, by the line's leading
 * bytes, how many were ADDED and DELETED — enough to check each watcher got the whole churn
 * without decoding every object.
 */
class CountingWatcher {
  events = 0;
  added = 0;
  deleted = 0;
  private response?: IncomingMessage;
  /** The first bytes of the line being read, until there are enough to tell its type. */
  private head = Buffer.alloc(0);
  private classified = false;

  static open(server: string, resourceVersion: string): Promise<CountingWatcher> {
    const w = new CountingWatcher();
    const url = new URL(
      `/api/v1/namespaces/${NAMESPACE}/pods?watch=true&resourceVersion=${resourceVersion}`,
      server,
    );
    return new Promise((resolve, reject) => {
      const req = request(url, { agent: false }, (res) => {
        if (res.statusCode !== 200) return reject(new Error(`watch answered HTTP ${res.statusCode}`));
        w.response = res;
        res.on("data", (chunk: Buffer) => w.consume(chunk));
        resolve(w);
      });
      req.on("error", reject);
      req.end();
    });
  }

  close(): void {
    this.response?.destroy();
  }

  /** Counts the lines of one chunk; a line (and its type prefix) may span chunks. */
  private consume(chunk: Buffer): void {
    for (let pos = 0; pos < chunk.length;) {
      const newline = chunk.indexOf(10, pos);
      const end = newline < 0 ? chunk.length : newline;
      if (!this.classified) {
        const take = chunk.subarray(pos, Math.min(end, pos + DELETED.length - this.head.length));
        this.head = Buffer.concat([this.head, take]);
        if (this.head.length >= DELETED.length || newline >= 0) {
          if (this.head.subarray(0, ADDED.length).equals(ADDED)) this.added++;
          else if (this.head.subarray(0, DELETED.length).equals(DELETED)) this.deleted++;
          this.classified = true;
        }
      }
      if (newline < 0) return;
      this.events++;
      this.head = Buffer.alloc(0);
      this.classified = false;
      pos = newline + 1;
    }
  }
}

/** The sandbox bin as a child process (node flags such as --cpu-prof need a direct spawn). */
class SandboxProcess {
  private readonly exited: Promise<number | null>;
  private constructor(private readonly child: ChildProcess) {
    this.exited = new Promise((resolve) => child.once("exit", (code) => resolve(code)));
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  /** Starts `flotilla-sandbox args` under `nodeFlags`; resolves once it prints `ready`. */
  static async start(nodeFlags: string[], args: string[]): Promise<SandboxProcess> {
    const bin = join(repoRoot, "sandbox", "bin", "flotilla-sandbox.js");
    const child = spawn(process.execPath, [...nodeFlags, bin, ...args], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    const proc = new SandboxProcess(child);
    const lines = createInterface({ input: child.stdout });
    await new Promise<void>((resolve, reject) => {
      lines.on("line", (line) => {
        if (line === "ready") resolve();
      });
      void proc.exited.then((code) =>
        reject(new Error(`flotilla-sandbox exited with ${code} before it was ready`)),
      );
    });
    return proc;
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code (null when killed). */
  async stop(graceMs: number): Promise<number | null> {
    if (this.child.exitCode !== null) return this.child.exitCode;
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), graceMs);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }
}

function rssOf(pid: number): { rssMiB: number; peakMiB: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return { rssMiB: Math.round(kb("VmRSS") / 1024), peakMiB: Math.round(kb("VmHWM") / 1024) };
}

const round = (n: number, digits = 0) => Number(n.toFixed(digits));

/** CPU seconds (user+system) used so far by process `pid`, from /proc (100 ticks/s). */
function cpuSecondsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** CPU seconds used so far by this (load generator) process. */
function ownCpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

async function main(): Promise<void> {
  const dir = tempDir({ prefix: "flotilla-bench-sandbox-" });
  const profDir = join(repoRoot, ".flotilla", "bench", "sandbox-prof");
  if (cpuProf) mkdirSync(profDir, { recursive: true });
  let sandbox: SandboxProcess | undefined;
  try {
    sandbox = await SandboxProcess.start(cpuProf ? ["--cpu-prof", `--cpu-prof-dir=${profDir}`] : [], [
      ...["--clusters", "bench", "--state-dir", dir.path, "--mode", "simulated"],
      ...["--nodes", String(NODES), "--pods-per-node", String(Math.ceil((PODS + CHURN) / NODES) + 50)],
    ]);
    const kc = new KubeConfig();
    kc.loadFromFile(join(dir.path, "kubeconfig"));
    const server = kc.getCurrentCluster()?.server ?? "";
    const clients = Array.from({ length: CLIENTS }, () => kc.makeApiClient(CoreV1Api));
    const core = clients[0] ?? kc.makeApiClient(CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: NAMESPACE } } });
    const rv0 =
      (await core.listNamespacedPod({ namespace: NAMESPACE, limit: 1 })).metadata?.resourceVersion ?? "0";
    const tracker = new PhaseTracker(kc);
    await tracker.start(rv0);

    // 1+2. Creates with N concurrent clients; the kubelet binds and runs them meanwhile.
    const created0 = performance.now();
    const cpu0 = { sandbox: cpuSecondsOf(sandbox.pid), bench: ownCpuSeconds() };
    const createMs = await concurrently(PODS, CLIENTS, (i, worker) =>
      (clients[worker] ?? core).createNamespacedPod({ namespace: NAMESPACE, body: podBody(`pod-${i}`) }),
    );
    const createCpu = {
      sandbox: (cpuSecondsOf(sandbox.pid) - cpu0.sandbox) / (createMs / 1000),
      bench: (ownCpuSeconds() - cpu0.bench) / (createMs / 1000),
    };
    const runningTimeout = quick ? 120_000 : 600_000;
    await tracker.until(
      "all pods Running",
      () => tracker.count((_, p) => p === "Running") >= PODS,
      runningTimeout,
    );
    const allRunningMs = performance.now() - created0;
    const afterCreateMs = allRunningMs - createMs;

    // 3. Reads with every pod live.
    const getMs = await concurrently(GETS, CLIENTS, (i, worker) =>
      (clients[worker] ?? core).readNamespacedPod({ namespace: NAMESPACE, name: `pod-${(i * 7919) % PODS}` }),
    );
    let listed = 0;
    const fullListMs = await concurrently(FULL_LISTS, 1, async () => {
      listed = (await core.listNamespacedPod({ namespace: NAMESPACE })).items.length;
    });
    if (listed !== PODS) throw new Error(`list returned ${listed} pods, expected ${PODS}`);
    // The same list as raw HTTP (no client-node decoding): the server's share of a list.
    let rawListBytes = 0;
    const rawListMs = await concurrently(FULL_LISTS, 1, async () => {
      const response = await fetch(`${server}/api/v1/namespaces/${NAMESPACE}/pods`);
      rawListBytes = (await response.arrayBuffer()).byteLength;
    });
    const pagedStart = performance.now();
    let pages = 0;
    let pagedItems = 0;
    for (let cont: string | undefined = undefined; ;) {
      const page = await core.listNamespacedPod({
        namespace: NAMESPACE,
        limit: 500,
        ...(cont ? { _continue: cont } : {}),
      });
      pages++;
      pagedItems += page.items.length;
      cont = page.metadata?._continue;
      if (!cont) break;
    }
    const pagedListMs = performance.now() - pagedStart;
    if (pagedItems !== PODS) throw new Error(`paginated list returned ${pagedItems} pods, expected ${PODS}`);
    const labelListStart = performance.now();
    await core.listNamespacedPod({ namespace: NAMESPACE, labelSelector: "batch=churn" });
    const selectorListMs = performance.now() - labelListStart;

    // 5. Memory with every pod live.
    const liveMemory = rssOf(sandbox.pid);

    // 4. Watch fan-out while pods churn: delete CHURN pods (graceful: the kubelet stops them
    // and confirms), create CHURN new ones (bound and started by the kubelet).
    const rv1 =
      (await core.listNamespacedPod({ namespace: NAMESPACE, limit: 1 })).metadata?.resourceVersion ?? "0";
    const watchers = await Promise.all(
      Array.from({ length: WATCHERS }, () => CountingWatcher.open(server, rv1)),
    );
    const churn0 = performance.now();
    await Promise.all([
      concurrently(CHURN, Math.max(1, CLIENTS / 2), (i, worker) =>
        (clients[worker] ?? core).deleteNamespacedPod({ namespace: NAMESPACE, name: `pod-${i}` }),
      ),
      concurrently(CHURN, Math.max(1, CLIENTS / 2), (i, worker) =>
        (clients[CLIENTS - 1 - worker] ?? core).createNamespacedPod({
          namespace: NAMESPACE,
          body: podBody(`churn-${i}`),
        }),
      ),
    ]);
    await tracker.until(
      "churn settled",
      () =>
        tracker.count((name) => name.startsWith("pod-") && Number(name.slice(4)) < CHURN) === 0 &&
        tracker.count((name, phase) => name.startsWith("churn-") && phase === "Running") >= CHURN,
      runningTimeout,
    );
    const churnSettledMs = performance.now() - churn0;
    // Every watcher must see every event: wait for the slowest to catch up with the fastest.
    const catchUp0 = performance.now();
    let fanOutLagMs = 0;
    for (;;) {
      const counts = watchers.map((w) => w.events);
      const max = Math.max(...counts);
      const whole = watchers.every((w) => w.added >= CHURN && w.deleted >= CHURN);
      if (whole && Math.min(...counts) === max) break;
      // Past a minute, the check below names the watcher that fell short.
      if (performance.now() - catchUp0 > 60_000) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
      fanOutLagMs = performance.now() - catchUp0;
    }
    const churnMs = performance.now() - churn0;
    // The watches start after every initial pod exists, so each must carry exactly the churn:
    // CHURN pods added, CHURN deleted, and as many events in all as every other watcher.
    const expected = { added: CHURN, deleted: CHURN, total: Math.max(...watchers.map((w) => w.events)) };
    for (const [i, w] of watchers.entries()) {
      const counts = { added: w.added, deleted: w.deleted, total: w.events };
      if (
        counts.added !== expected.added ||
        counts.deleted !== expected.deleted ||
        counts.total !== expected.total
      )
        throw new FanOutIncompleteError(i, counts, expected);
    }
    const eventsPerWatcher = watchers[0]?.events ?? 0;
    const delivered = watchers.reduce((sum, w) => sum + w.events, 0);
    for (const w of watchers) w.close();
    tracker.stop();
    const afterChurnMemory = rssOf(sandbox.pid);

    const result = {
      quick,
      pods: PODS,
      nodes: NODES,
      clients: CLIENTS,
      createPerSec: round((PODS / createMs) * 1000),
      createMs: round(createMs),
      allRunningMs: round(allRunningMs),
      kubeletTailMs: round(afterCreateMs),
      bindRunPerSec: round((PODS / allRunningMs) * 1000),
      getPerSec: round((GETS / getMs) * 1000),
      fullListMs: round(fullListMs / FULL_LISTS),
      fullListPerSec: round((FULL_LISTS / fullListMs) * 1000, 1),
      rawListMs: round(rawListMs / FULL_LISTS),
      rawListMiB: round(rawListBytes / 2 ** 20, 1),
      pagedListMs: round(pagedListMs),
      pagedListPages: pages,
      selectorListMs: round(selectorListMs),
      watchers: WATCHERS,
      churnPods: CHURN,
      churnSettledMs: round(churnSettledMs),
      eventsPerWatcher,
      watchEventsDelivered: delivered,
      watchEventsPerWatcher: eventsPerWatcher,
      fanOutVerified: { watchers: WATCHERS, addedEach: CHURN, deletedEach: CHURN },
      watchEventsPerSec: round((delivered / churnMs) * 1000),
      fanOutLagMs: round(fanOutLagMs),
      rssMiB: liveMemory.rssMiB,
      peakRssMiB: Math.max(liveMemory.peakMiB, afterChurnMemory.peakMiB),
      rssAfterChurnMiB: afterChurnMemory.rssMiB,
      sandboxCpuDuringCreate: round(createCpu.sandbox, 2),
      benchCpuDuringCreate: round(createCpu.bench, 2),
    };

    const rows: Array<[string, string]> = [
      [`create ${PODS} pods (${CLIENTS} clients)`, `${result.createPerSec} pods/s (${result.createMs} ms)`],
      [
        "CPU cores busy during create",
        `sandbox ${result.sandboxCpuDuringCreate}, load generator ${result.benchCpuDuringCreate}`,
      ],
      [
        "kubelet: all pods Running",
        `${result.allRunningMs} ms after first create (${result.kubeletTailMs} ms after last)`,
      ],
      ["bind+run throughput", `${result.bindRunPerSec} pods/s`],
      [`get pod (${CLIENTS} clients)`, `${result.getPerSec} req/s`],
      [`list ${PODS} pods`, `${result.fullListMs} ms per full list (${result.fullListPerSec} lists/s)`],
      [`  same list, raw HTTP (no decoding)`, `${result.rawListMs} ms for ${result.rawListMiB} MiB`],
      [`paginated list (limit 500)`, `${result.pagedListMs} ms for ${pages} pages`],
      ["label-selected list (0 matches)", `${result.selectorListMs} ms`],
      [
        `watch fan-out (${WATCHERS} watchers, churn ${CHURN}+${CHURN})`,
        `${result.watchEventsPerSec} events/s delivered`,
      ],
      [
        "events per watcher / total",
        `${eventsPerWatcher} / ${delivered} (each: ${CHURN} added, ${CHURN} deleted, verified)`,
      ],
      ["churn settled / fan-out lag", `${result.churnSettledMs} ms / ${result.fanOutLagMs} ms`],
      [`sandbox RSS with ${PODS} live pods`, `${result.rssMiB} MiB (peak ${result.peakRssMiB} MiB)`],
    ];
    const width = Math.max(...rows.map(([k]) => k.length));
    process.stdout.write(`sandbox benchmark${quick ? " (quick)" : ""}\n`);
    for (const [k, v] of rows) process.stdout.write(`  ${k.padEnd(width)}  ${v}\n`);
    const code = await sandbox.stop(30_000);
    sandbox = undefined;
    if (code !== 0) throw new Error(`sandbox exited with code ${code}`);
    if (cpuProf) process.stdout.write(`  CPU profile of the sandbox process written to ${profDir}\n`);
    process.stdout.write(`BENCH ${JSON.stringify(result)}\n`);
  } finally {
    await sandbox?.stop(10_000);
    await dir.cleanup();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
