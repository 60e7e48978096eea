/**
 * Propeller benchmark: `npm run bench -- propeller [--quick] [--only sweep|large|http]
 * [--workers N] [--sizes N,N,...] [--http-workflows N]`.
 *
 * `--large-sizes N,N,...` sets the node counts of the large case (default 20,000, 50,000 and
 * 100,000; 1,000 with --quick), run one after the other in the same process.
 *
 * Starts one simulated-mode sandbox cluster as its own process (the `flotilla-sandbox` bin, so
 * the API server and kubelet do not share the propeller's event loop or RSS) and one propeller
 * in this process, with a counting in-process admin. The RSS of the sweep is this process's:
 * the propeller plus the counting admin (a few counters) and the driver (the specs it creates);
 * `baselineRssMiB` is this process before the propeller started. Then:
 *   1. sweep: for 1,000, 5,000 and 10,000 concurrent workflows (100 with --quick, or --sizes) of
 *      10 simulated short pods each (a → b1..b8 → c), creates them all at once and measures
 *      round latency p50/p99 (exact, from the propeller's round observer), this process's peak
 *      RSS, and tasks/s until every workflow SUCCEEDED;
 *   2. large: for each large size, one workflow of 200 parallel chains of simulated 200 ms tasks
 *      (closure offloaded to the blob store) runs to completion; prints its wall time against
 *      its critical path (levels × 200 ms), the time per level, round p50/p99 and CPU per round
 *      of that run, the largest CR written and bytes per node, checks the CR stays under the
 *      sandbox's 1.5 MiB object limit, and compares time per level and CPU per round of the
 *      largest size with the smallest;
 *   3. http: the real admin (in this process, on PostgreSQL; `support/bench-admin.ts`) places
 *      H workflows (1,000; 30 with --quick) of the same 10-node shape on a second sandbox
 *      cluster, where the `flotilla-propeller` bin runs as its own process and reports events
 *      over HTTP; prints tasks/s until the admin shows every execution SUCCEEDED and the peak
 *      RSS of the propeller process alone (sampled from /proc, and its VmHWM).
 * `--pod-concurrency N` sets the in-process propeller's pod creates/deletes in flight per round
 * (default its own, 64). `--cpu-prof DIR` runs the sandbox processes with `node --cpu-prof --cpu-prof-dir DIR` (a
 * `.cpuprofile` each when they stop; profile this process with `node --cpu-prof` itself).
 * Prints a table, then `BENCH {json}` as its last line.
 */
import { create } from "@bufbuild/protobuf";
import { createRouterTransport } from "@connectrpc/connect";
import { KubeConfig } from "@kubernetes/client-node";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { openBlobStore } from "@flotilla/common";
import {
  AdminService,
  ClusterHeartbeatResponseSchema,
  EventResultSchema,
  ExecutionSpecSchema,
  ProjectSchema,
  EventResult_Outcome,
  IngestEventsResponseSchema,
  WorkflowExecution_Phase,
} from "@flotilla/proto";
import {
  DEFAULT_ROUND_WORKERS,
  RoundOutcome,
  aTask,
  aWorkflow,
  anExecutionSpec,
  createExecution,
  createLogger,
  installCrd,
  offloadClosure,
  startPropeller,
  type Propeller,
} from "@flotilla/propeller";
import { spawnBin, tempDir } from "@flotilla/testing";
import { startBenchAdmin, type BenchAdmin } from "./support/bench-admin.js";

const argv = process.argv.slice(2);
/** The large case runs this many parallel chains. */
const LARGE_CHAINS = 200;
const quick = argv.includes("--quick");
const onlyIdx = argv.indexOf("--only");
const only = onlyIdx >= 0 ? argv[onlyIdx + 1] : undefined;
if (only !== undefined && !["sweep", "large", "http"].includes(only))
  throw new Error("--only takes sweep, large or http");
/** Whether this run includes `part`. */
const wants = (part: "sweep" | "large" | "http"): boolean => only === undefined || only === part;
const workersIdx = argv.indexOf("--workers");
const WORKERS = workersIdx >= 0 ? Number(argv[workersIdx + 1]) : DEFAULT_ROUND_WORKERS;
const sizesIdx = argv.indexOf("--sizes");
const SIZES =
  sizesIdx >= 0
    ? (argv[sizesIdx + 1] ?? "").split(",").map((v) => {
        const n = Number(v);
        if (!Number.isInteger(n) || n < 1) throw new Error(`--sizes needs positive integers, got "${v}"`);
        return n;
      })
    : quick
      ? [100]
      : [1_000, 5_000, 10_000];
const largeSizesIdx = argv.indexOf("--large-sizes");
const LARGE_SIZES =
  largeSizesIdx >= 0
    ? (argv[largeSizesIdx + 1] ?? "").split(",").map((v) => {
        const n = Number(v);
        if (!Number.isInteger(n) || n < LARGE_CHAINS)
          throw new Error(`--large-sizes needs integers of at least ${LARGE_CHAINS}, got "${v}"`);
        return n;
      })
    : quick
      ? [1_000]
      : [20_000, 50_000, 100_000];
const httpIdx = argv.indexOf("--http-workflows");
const HTTP_WORKFLOWS = httpIdx >= 0 ? Number(argv[httpIdx + 1]) : quick ? 30 : 1_000;
if (!Number.isInteger(HTTP_WORKFLOWS) || HTTP_WORKFLOWS < 1)
  throw new Error("--http-workflows needs a positive integer");
const podConcurrencyIdx = argv.indexOf("--pod-concurrency");
const POD_CONCURRENCY = podConcurrencyIdx >= 0 ? Number(argv[podConcurrencyIdx + 1]) : undefined;
if (POD_CONCURRENCY !== undefined && !(Number.isInteger(POD_CONCURRENCY) && POD_CONCURRENCY >= 1))
  throw new Error("--pod-concurrency needs a positive integer");
const cpuProfIdx = argv.indexOf("--cpu-prof");
const CPU_PROF_DIR = cpuProfIdx >= 0 ? argv[cpuProfIdx + 1] : undefined;
if (cpuProfIdx >= 0 && !CPU_PROF_DIR) throw new Error("--cpu-prof needs a directory");
const LARGE_TASK_SECONDS = 0.2;
const SANDBOX_OBJECT_LIMIT = 1_572_864;
const TASK_DURATION = "1s";

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

/**
 * An admin that acknowledges everything and only counts; it also tracks which executions
 * reached a terminal phase, so the bench waits on events instead of listing 10,000 CRs a second
 * (which would load the API server and this process more than the propeller does).
 */
function countingAdmin() {
  let events = 0;
  const succeeded = new Set<string>();
  const failed = new Map<string, string>();
  const transport = createRouterTransport(({ service }) => {
    service(AdminService, {
      ingestEvents: (req) => {
        events += req.events.length;
        for (const e of req.events) {
          if (e.event.case !== "workflowEvent") continue;
          const name = e.event.value.executionId?.name ?? "";
          if (e.event.value.phase === WorkflowExecution_Phase.SUCCEEDED) succeeded.add(name);
          else if (
            e.event.value.phase === WorkflowExecution_Phase.FAILED ||
            e.event.value.phase === WorkflowExecution_Phase.ABORTED
          ) {
            failed.set(name, JSON.stringify(e.event.value.outputResult.value ?? e.event.value.message));
          }
        }
        return create(IngestEventsResponseSchema, {
          results: req.events.map((_, index) =>
            create(EventResultSchema, { index, outcome: EventResult_Outcome.ACCEPTED }),
          ),
        });
      },
      clusterHeartbeat: () => create(ClusterHeartbeatResponseSchema, {}),
    });
  });
  return { transport, events: () => events, succeeded, failed };
}

async function waitAllSucceeded(
  admin: ReturnType<typeof countingAdmin>,
  names: Set<string>,
  deadlineMs: number,
): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    for (const n of names) {
      const why = admin.failed.get(n);
      if (why !== undefined) throw new Error(`workflow ${n} did not succeed: ${why}`);
    }
    const pending = [...names].filter((n) => !admin.succeeded.has(n)).length;
    if (pending === 0) return;
    if (Date.now() > deadline) throw new Error(`${pending} workflows did not finish in ${deadlineMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function createAll(
  kc: KubeConfig,
  specs: Parameters<typeof createExecution>[1][],
  concurrency = 32,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < specs.length) {
        const spec = specs[next++];
        if (spec) await createExecution(kc, spec);
      }
    }),
  );
}

interface SweepRow {
  workflows: number;
  tasks: number;
  seconds: number;
  tasksPerSecond: number;
  roundP50Ms: number;
  roundP99Ms: number;
  rounds: number;
  shortCircuits: number;
  peakRssMiB: number;
  /** CPU time of this process (propeller + the small driver) during the sweep. */
  cpuSeconds: number;
  cpuMsPerRound: number;
}

/**
 * Starts a simulated sandbox cluster `name` as its own process (state under `stateDir`) with the
 * workflow CRD installed; returns the process, its kubeconfig (text and path) and a client config.
 */
async function startSandbox(stateDir: string, name: string) {
  const bin = await spawnBin(
    "flotilla-sandbox",
    [
      "--clusters",
      name,
      "--state-dir",
      stateDir,
      "--mode",
      "simulated",
      "--nodes",
      "10",
      "--pods-per-node",
      "20000",
    ],
    {
      readyLine: /^ready$/,
      timeout: 60_000,
      nodeArgs: CPU_PROF_DIR ? ["--cpu-prof", "--cpu-prof-dir", CPU_PROF_DIR] : [],
    },
  );
  const kubeconfigPath = join(stateDir, "kubeconfig");
  const kubeconfig = readFileSync(kubeconfigPath, "utf8");
  const kc = new KubeConfig();
  kc.loadFromString(kubeconfig);
  await installCrd(kc);
  return { bin, kubeconfig, kubeconfigPath, kc };
}

/** The 10-node shape every sweep workflow has: a → b1..b8 → c, simulated 1 s pods. */
function tenNodeWorkflow() {
  const sim = aTask("sim").simulated(TASK_DURATION).build();
  const wf = aWorkflow("ten");
  wf.withNode("a", sim);
  for (let i = 1; i <= 8; i++) wf.withNode(`b${i}`, sim, {}, ["a"]);
  wf.withNode(
    "c",
    sim,
    {},
    Array.from({ length: 8 }, (_, i) => `b${i + 1}`),
  );
  return { task: sim, closure: wf.closure() };
}

interface LargeRow {
  nodes: number;
  levels: number;
  seconds: number;
  /** levels × the task duration: the fastest the workflow can finish. */
  criticalPathSeconds: number;
  /** Whether it finished within 2× its critical path + 60 s (the acceptance bound). */
  withinBound: boolean;
  secondsPerLevel: number;
  roundP50Ms: number;
  roundP99Ms: number;
  rounds: number;
  cpuSeconds: number;
  cpuMsPerRound: number;
  /** CPU per level of the workflow: unlike per round, independent of how rounds split a level. */
  cpuMsPerLevel: number;
  largestCrBytes: number;
  encoding: string;
  bytesPerNode: number;
  underLimit: boolean;
}

/** The sweep and the large workflow with the propeller in this process and a counting admin. */
async function inProcess(dir: string) {
  const blobRoot = pathToFileURL(join(dir, "blobs")).href;
  const baselineRss = process.memoryUsage().rss;
  const { bin: sandbox, kubeconfig, kc } = await startSandbox(join(dir, "sandbox"), "bench");

  let latencies: number[] = [];
  let shortCircuits = 0;
  let largestCr = { bytes: 0, encoding: "", key: "" };
  const admin = countingAdmin();
  const propeller: Propeller = await startPropeller({
    kubeconfig,
    clusterId: "bench",
    admin: { transport: admin.transport },
    workers: WORKERS,
    ...(POD_CONCURRENCY !== undefined ? { executor: { podConcurrency: POD_CONCURRENCY } } : {}),
    leaderElection: false,
    processMetrics: false,
    events: { capacity: 500_000, batchSize: 1000 },
    logger: createLogger({ component: "propeller" }),
    observer: {
      onRound(outcome, seconds) {
        if (outcome === RoundOutcome.shortCircuit) shortCircuits++;
        else latencies.push(seconds * 1000);
      },
      onStatusWritten(key, bytes, encoding) {
        if (bytes > largestCr.bytes) largestCr = { bytes, encoding, key };
      },
    },
  });

  const rows: SweepRow[] = [];
  const large: LargeRow[] = [];

  /** One large workflow of `nodes` nodes (200 chains of 200 ms tasks) run to completion. */
  async function runLarge(nodes: number): Promise<LargeRow> {
    const sim = aTask("chain")
      .simulated(`${LARGE_TASK_SECONDS * 1000}ms`)
      .build();
    const wf = aWorkflow("large");
    const levels = Math.ceil(nodes / LARGE_CHAINS);
    let count = 0;
    for (let l = 0; l < levels && count < nodes; l++) {
      for (let c = 0; c < LARGE_CHAINS && count < nodes; c++) {
        wf.withNode(`n${l}-${c}`, sim, {}, l === 0 ? [] : [`n${l - 1}-${c}`]);
        count++;
      }
    }
    const name = `large-${nodes}`;
    const spec = anExecutionSpec({ name, closure: wf.closure(), blobRoot, project: "bench" });
    const store = openBlobStore(blobRoot);
    await offloadClosure(spec, store, store.join(blobRoot, "closures", `${name}.pb`));
    largestCr = { bytes: 0, encoding: "", key: "" };
    latencies = [];
    shortCircuits = 0;
    const started = performance.now();
    const cpu0 = process.cpuUsage();
    await createExecution(kc, spec);
    await waitAllSucceeded(admin, new Set([name]), quick ? 10 * 60_000 : 40 * 60_000);
    const seconds = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const sorted = [...latencies].sort((a, b) => a - b);
    const criticalPathSeconds = Math.round(levels * LARGE_TASK_SECONDS * 10) / 10;
    const row: LargeRow = {
      nodes,
      levels,
      seconds: Math.round(seconds * 10) / 10,
      criticalPathSeconds,
      withinBound: seconds <= 2 * criticalPathSeconds + 60,
      secondsPerLevel: Math.round((seconds / levels) * 1000) / 1000,
      roundP50Ms: Math.round(percentile(sorted, 50) * 10) / 10,
      roundP99Ms: Math.round(percentile(sorted, 99) * 10) / 10,
      rounds: latencies.length,
      cpuSeconds: Math.round((cpu.user + cpu.system) / 1e5) / 10,
      cpuMsPerRound: Math.round(((cpu.user + cpu.system) / 1000 / Math.max(1, latencies.length)) * 100) / 100,
      cpuMsPerLevel: Math.round((cpu.user + cpu.system) / 1000 / levels),
      largestCrBytes: largestCr.bytes,
      encoding: largestCr.encoding,
      bytesPerNode: Math.round((largestCr.bytes / nodes) * 10) / 10,
      underLimit: largestCr.bytes < SANDBOX_OBJECT_LIMIT,
    };
    console.log(
      `large workflow: ${nodes} nodes (${levels} levels) SUCCEEDED in ${row.seconds}s ` +
        `(critical path ${criticalPathSeconds}s, bound 2x+60s: ${row.withinBound ? "OK" : "MISSED"}), ` +
        `${row.secondsPerLevel} s/level, round p50 ${row.roundP50Ms} ms p99 ${row.roundP99Ms} ms, ` +
        `${row.rounds} rounds + ${shortCircuits} short-circuited, CPU ${row.cpuSeconds}s (${row.cpuMsPerRound} ms/round, ${row.cpuMsPerLevel} ms/level); ` +
        `largest CR written ${row.largestCrBytes} bytes (${row.encoding}), ${row.bytesPerNode} bytes/node, ` +
        `limit ${SANDBOX_OBJECT_LIMIT}: ${row.underLimit ? "OK" : "EXCEEDED"}`,
    );
    return row;
  }
  try {
    if (wants("sweep")) {
      const { closure } = tenNodeWorkflow();
      for (const n of SIZES) {
        latencies = [];
        shortCircuits = 0;
        const names = Array.from({ length: n }, (_, i) => `w${n}-${i}`);
        const specs = names.map((name) => anExecutionSpec({ name, closure, blobRoot, project: "bench" }));
        let peakRss = process.memoryUsage().rss;
        const sampler = setInterval(() => {
          peakRss = Math.max(peakRss, process.memoryUsage().rss);
        }, 500);
        const started = performance.now();
        const cpu0 = process.cpuUsage();
        await createAll(kc, specs);
        await waitAllSucceeded(admin, new Set(names), quick ? 10 * 60_000 : 30 * 60_000);
        const seconds = (performance.now() - started) / 1000;
        const cpu = process.cpuUsage(cpu0);
        clearInterval(sampler);
        peakRss = Math.max(peakRss, process.memoryUsage().rss);
        const sorted = [...latencies].sort((a, b) => a - b);
        const row: SweepRow = {
          workflows: n,
          tasks: n * 10,
          seconds: Math.round(seconds * 10) / 10,
          tasksPerSecond: Math.round((n * 10) / seconds),
          roundP50Ms: Math.round(percentile(sorted, 50) * 10) / 10,
          roundP99Ms: Math.round(percentile(sorted, 99) * 10) / 10,
          rounds: latencies.length,
          shortCircuits,
          peakRssMiB: Math.round(peakRss / 1024 / 1024),
          cpuSeconds: Math.round((cpu.user + cpu.system) / 1e5) / 10,
          cpuMsPerRound:
            Math.round(((cpu.user + cpu.system) / 1000 / Math.max(1, latencies.length)) * 100) / 100,
        };
        rows.push(row);
        const w = await propeller.metrics.crUpdateLatency.get();
        const sum = w.values.find((v) => v.metricName?.endsWith("_sum"))?.value ?? 0;
        const cnt = w.values.find((v) => v.metricName?.endsWith("_count"))?.value ?? 0;
        console.log(`  CR writes: ${cnt}, mean ${cnt ? Math.round((sum / cnt) * 1000 * 10) / 10 : 0} ms`);
        console.log(
          `sweep ${n} workflows: ${row.seconds}s, ${row.tasksPerSecond} tasks/s, round p50 ${row.roundP50Ms} ms p99 ${row.roundP99Ms} ms, ` +
            `${row.rounds} rounds + ${row.shortCircuits} short-circuited, peak RSS ${row.peakRssMiB} MiB, ` +
            `CPU ${row.cpuSeconds}s (${row.cpuMsPerRound} ms/round)`,
        );
      }
    }

    if (wants("large")) {
      for (const nodes of LARGE_SIZES) large.push(await runLarge(nodes));
    }
  } finally {
    await propeller.stop();
    await sandbox.stop();
  }
  return { rows, large, events: admin.events(), baselineRssMiB: Math.round(baselineRss / 1024 / 1024) };
}

/** RSS of process `pid` now and its peak so far (VmHWM), in bytes, from /proc. */
function rssOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) * 1024;
  return { rss: kb("VmRSS"), peak: kb("VmHWM") };
}

/**
 * H workflows through the real admin: it places them on a sandbox cluster of their own, where
 * the propeller bin (its own process, so its RSS is its alone) reports events over HTTP.
 */
async function againstRealAdmin(dir: string) {
  const { bin: sandbox, kubeconfig, kubeconfigPath } = await startSandbox(join(dir, "sandbox-http"), "http");
  const admin = await startBenchAdmin([{ name: "http", kubeconfigInline: kubeconfig }]);
  try {
    const propeller = await spawnBin(
      "flotilla-propeller",
      [
        "--kubeconfig",
        kubeconfigPath,
        "--cluster-id",
        "http",
        "--admin-url",
        admin.url,
        "--blob-store",
        admin.blobUrl,
        "--workers",
        String(WORKERS),
        "--no-leader-election",
      ],
      { readyLine: /propeller ready/, timeout: 60_000 },
    );
    try {
      const a = admin.admin;
      const { task, closure } = tenNodeWorkflow();
      const template = closure.primary?.template;
      if (!template?.id) throw new Error("the workflow closure has no template id");
      const { project, domain } = template.id;
      await a.projects.register(create(ProjectSchema, { id: project }));
      await a.tasks.create(task);
      await a.workflows.create(template);
      const spec = create(ExecutionSpecSchema, { target: { case: "workflow", value: template.id } });
      const names = Array.from({ length: HTTP_WORKFLOWS }, (_, i) => `h${i}`);
      let peakRss = rssOf(propeller.pid).rss;
      const sampler = setInterval(() => {
        peakRss = Math.max(peakRss, rssOf(propeller.pid).rss);
      }, 250);
      const started = performance.now();
      try {
        let next = 0;
        await Promise.all(
          Array.from({ length: 16 }, async () => {
            for (let name = names[next++]; name !== undefined; name = names[next++])
              await a.executionManager.create(project, domain, name, spec);
          }),
        );
        await waitAdminSucceeded(a, project, domain, names.length, quick ? 10 * 60_000 : 30 * 60_000);
      } finally {
        clearInterval(sampler);
      }
      const seconds = (performance.now() - started) / 1000;
      const { rss, peak } = rssOf(propeller.pid);
      return {
        workflows: HTTP_WORKFLOWS,
        tasks: HTTP_WORKFLOWS * 10,
        seconds: Math.round(seconds * 10) / 10,
        tasksPerSecond: Math.round((HTTP_WORKFLOWS * 10) / seconds),
        propellerPeakRssMiB: Math.round(Math.max(peakRss, rss) / 1024 / 1024),
        propellerVmHwmMiB: Math.round(peak / 1024 / 1024),
      };
    } finally {
      await propeller.stop();
    }
  } finally {
    await admin.stop();
    await sandbox.stop();
  }
}

/** Waits until the admin lists `count` SUCCEEDED executions; fails on a failed one or timeout. */
async function waitAdminSucceeded(
  admin: BenchAdmin["admin"],
  project: string,
  domain: string,
  count: number,
  deadlineMs: number,
): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  const countIn = async (phases: WorkflowExecution_Phase[]): Promise<number> => {
    let n = 0;
    for (let pageToken = ""; ;) {
      const page = await admin.executionManager.list(
        project,
        domain,
        { phases },
        { key: "name", ascending: true },
        { pageSize: 1000, pageToken },
      );
      n += page.items.length;
      pageToken = page.nextPageToken;
      if (!pageToken) return n;
    }
  };
  for (;;) {
    const failed = await countIn([
      WorkflowExecution_Phase.FAILED,
      WorkflowExecution_Phase.ABORTED,
      WorkflowExecution_Phase.TIMED_OUT,
    ]);
    if (failed > 0) throw new Error(`${failed} executions did not succeed on the real admin`);
    const succeeded = await countIn([WorkflowExecution_Phase.SUCCEEDED]);
    if (succeeded === count) return;
    if (Date.now() > deadline)
      throw new Error(`${count - succeeded} executions did not finish on the real admin in ${deadlineMs} ms`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function main(): Promise<void> {
  const dir = tempDir({ prefix: "bench-propeller-" });
  let local: Awaited<ReturnType<typeof inProcess>> | undefined;
  let http: Awaited<ReturnType<typeof againstRealAdmin>> | undefined;
  try {
    if (wants("sweep") || wants("large")) local = await inProcess(dir.path);
    if (wants("http")) http = await againstRealAdmin(dir.path);
  } finally {
    await dir.cleanup();
  }
  const rows = local?.rows ?? [];
  const large = local?.large ?? [];
  const smallest = large.reduce<LargeRow | undefined>((a, r) => (a && a.nodes <= r.nodes ? a : r), undefined);
  const biggest = large.reduce<LargeRow | undefined>((a, r) => (a && a.nodes >= r.nodes ? a : r), undefined);
  const largeRatios =
    smallest && biggest && smallest !== biggest
      ? {
          from: smallest.nodes,
          to: biggest.nodes,
          secondsPerLevel: Math.round((biggest.secondsPerLevel / smallest.secondsPerLevel) * 100) / 100,
          cpuMsPerRound:
            Math.round((biggest.cpuMsPerRound / Math.max(0.01, smallest.cpuMsPerRound)) * 100) / 100,
          cpuMsPerLevel:
            Math.round((biggest.cpuMsPerLevel / Math.max(1, smallest.cpuMsPerLevel)) * 100) / 100,
        }
      : null;
  if (http)
    console.log(
      `real admin over HTTP, propeller as its own process: ${http.workflows} workflows in ${http.seconds}s, ` +
        `${http.tasksPerSecond} tasks/s, propeller peak RSS ${http.propellerPeakRssMiB} MiB (VmHWM ${http.propellerVmHwmMiB} MiB)`,
    );
  console.log("");
  console.log(
    "| run | workflows | tasks | time (s) | tasks/s | round p50 (ms) | round p99 (ms) | peak RSS (MiB) | CPU ms/round |",
  );
  console.log("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
  for (const r of rows) {
    console.log(
      `| in-process | ${r.workflows} | ${r.tasks} | ${r.seconds} | ${r.tasksPerSecond} | ${r.roundP50Ms} | ${r.roundP99Ms} | ${r.peakRssMiB} | ${r.cpuMsPerRound} |`,
    );
  }
  if (http)
    console.log(
      `| real admin, HTTP | ${http.workflows} | ${http.tasks} | ${http.seconds} | ${http.tasksPerSecond} | | | ${http.propellerPeakRssMiB} (propeller alone) | |`,
    );
  if (large.length > 0) {
    console.log("");
    console.log(
      "| large nodes | levels | time (s) | critical path (s) | s/level | round p50 (ms) | round p99 (ms) | CPU ms/round | CPU ms/level | largest CR (bytes) |",
    );
    console.log("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (const l of large)
      console.log(
        `| ${l.nodes} | ${l.levels} | ${l.seconds} | ${l.criticalPathSeconds} | ${l.secondsPerLevel} | ${l.roundP50Ms} | ${l.roundP99Ms} | ${l.cpuMsPerRound} | ${l.cpuMsPerLevel} | ${l.largestCrBytes} (${l.encoding}) |`,
      );
    if (largeRatios)
      console.log(
        `${largeRatios.to} vs ${largeRatios.from} nodes: time per level ×${largeRatios.secondsPerLevel}, ` +
          `CPU per round ×${largeRatios.cpuMsPerRound}, CPU per level ×${largeRatios.cpuMsPerLevel}`,
      );
  }
  if (local)
    console.log(
      `in-process RSS is this process (propeller + counting admin + driver); before the propeller: ${local.baselineRssMiB} MiB`,
    );
  console.log(
    `BENCH ${JSON.stringify({
      bench: "propeller",
      quick,
      workers: WORKERS,
      sweep: rows,
      baselineRssMiB: local?.baselineRssMiB ?? null,
      large,
      largeRatios,
      events: local?.events ?? null,
      realAdminHttp: http ?? null,
    })}`,
  );
  if (large.some((l) => !l.underLimit)) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
