/**
 * Propeller benchmark:
 * `npm run bench -- propeller [--quick] [--only sweep|large] [--workers N] [--sizes N,N,...]`.
 *
 * Starts one simulated-mode sandbox cluster as its own process (the `flotilla-sandbox` bin, so
 * the API server and kubelet do not share the propeller's event loop or RSS) and one propeller
 * in this process, with a counting in-process admin. Then:
 *   1. sweep: for 1,000, 5,000 and 10,000 concurrent workflows (200 and 1,000 with --quick, or --sizes) of
 *      10 simulated short pods each (a → b1..b8 → c), creates them all at once and measures
 *      round latency p50/p99 (exact, from the propeller's round observer), this process's peak
 *      RSS, and tasks/s until every workflow SUCCEEDED;
 *   2. large: one 20,000-node workflow (2,000 with --quick; 200 chains, closure offloaded to the
 *      blob store) runs to completion; prints the largest CR written and bytes per node, and
 *      checks it stays under the sandbox's 1.5 MiB object limit.
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

const argv = process.argv.slice(2);
const quick = argv.includes("--quick");
const onlyIdx = argv.indexOf("--only");
const only = onlyIdx >= 0 ? argv[onlyIdx + 1] : undefined;
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
      ? [200, 1_000]
      : [1_000, 5_000, 10_000];
const LARGE_NODES = quick ? 2_000 : 20_000;
const LARGE_CHAINS = 200;
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

async function main(): Promise<void> {
  const dir = tempDir({ prefix: "bench-propeller-" });
  const blobRoot = pathToFileURL(join(dir.path, "blobs")).href;
  const sandbox = await spawnBin(
    "flotilla-sandbox",
    [
      "--clusters",
      "bench",
      "--state-dir",
      join(dir.path, "sandbox"),
      "--mode",
      "simulated",
      "--nodes",
      "10",
      "--pods-per-node",
      "20000",
    ],
    { readyLine: /^ready$/, timeout: 60_000 },
  );
  const kubeconfig = readFileSync(join(dir.path, "sandbox", "kubeconfig"), "utf8");
  const kc = new KubeConfig();
  kc.loadFromString(kubeconfig);
  await installCrd(kc);

  let latencies: number[] = [];
  let shortCircuits = 0;
  let largestCr = { bytes: 0, encoding: "", key: "" };
  const admin = countingAdmin();
  const propeller: Propeller = await startPropeller({
    kubeconfig,
    clusterId: "bench",
    admin: { transport: admin.transport },
    workers: WORKERS,
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
  let large:
    | {
        nodes: number;
        seconds: number;
        largestCrBytes: number;
        encoding: string;
        bytesPerNode: number;
        underLimit: boolean;
      }
    | undefined;
  try {
    if (only !== "large") {
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
      const closure = wf.closure();
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

    if (only !== "sweep") {
      const sim = aTask("chain").simulated("200ms").build();
      const wf = aWorkflow("large");
      const perChain = Math.ceil(LARGE_NODES / LARGE_CHAINS);
      let count = 0;
      for (let l = 0; l < perChain && count < LARGE_NODES; l++) {
        for (let c = 0; c < LARGE_CHAINS && count < LARGE_NODES; c++) {
          wf.withNode(`n${l}-${c}`, sim, {}, l === 0 ? [] : [`n${l - 1}-${c}`]);
          count++;
        }
      }
      const spec = anExecutionSpec({ name: "large", closure: wf.closure(), blobRoot, project: "bench" });
      const store = openBlobStore(blobRoot);
      await offloadClosure(spec, store, store.join(blobRoot, "closures", `large-${LARGE_NODES}.pb`));
      largestCr = { bytes: 0, encoding: "", key: "" };
      const started = performance.now();
      await createExecution(kc, spec);
      await waitAllSucceeded(admin, new Set(["large"]), quick ? 10 * 60_000 : 40 * 60_000);
      const seconds = (performance.now() - started) / 1000;
      large = {
        nodes: LARGE_NODES,
        seconds: Math.round(seconds),
        largestCrBytes: largestCr.bytes,
        encoding: largestCr.encoding,
        bytesPerNode: Math.round((largestCr.bytes / LARGE_NODES) * 10) / 10,
        underLimit: largestCr.bytes < SANDBOX_OBJECT_LIMIT,
      };
      console.log(
        `large workflow: ${LARGE_NODES} nodes SUCCEEDED in ${large.seconds}s; largest CR written ${largestCr.bytes} bytes ` +
          `(${largestCr.encoding}), ${large.bytesPerNode} bytes/node, limit ${SANDBOX_OBJECT_LIMIT}: ${large.underLimit ? "OK" : "EXCEEDED"}`,
      );
    }
  } finally {
    await propeller.stop();
    await sandbox.stop();
    await dir.cleanup();
  }

  console.log("");
  console.log(
    "| workflows | tasks | time (s) | tasks/s | round p50 (ms) | round p99 (ms) | peak RSS (MiB) | CPU ms/round |",
  );
  console.log("|---:|---:|---:|---:|---:|---:|---:|---:|");
  for (const r of rows) {
    console.log(
      `| ${r.workflows} | ${r.tasks} | ${r.seconds} | ${r.tasksPerSecond} | ${r.roundP50Ms} | ${r.roundP99Ms} | ${r.peakRssMiB} | ${r.cpuMsPerRound} |`,
    );
  }
  console.log(
    `BENCH ${JSON.stringify({ bench: "propeller", quick, workers: WORKERS, sweep: rows, large, events: admin.events() })}`,
  );
  if (large && !large.underLimit) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
