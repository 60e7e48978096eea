/**
 * Tracing overhead benchmark: `npm run bench -- tracing [--quick] [--requests N] [--concurrency N]`.
 *
 * Two real admins (the `flotilla-admin` bin, each on its own fresh PostgreSQL database) place
 * executions on one sandbox cluster (simulated, in this process, kept healthy by heartbeats
 * sent from here): one with tracing off (no `OTEL_*`), one with tracing on — every request
 * sampled (`OTEL_TRACES_SAMPLER=always_on`) and exported over OTLP/HTTP protobuf to a receiver in
 * this process on 127.0.0.1. The same CreateExecution load (C concurrent callers, a workflow of
 * one task, each create resolved, stored, routed and its CR created on the cluster) goes to both
 * in alternating blocks, so load and machine noise fall on both alike. After a warm-up, the
 * latencies of N creates per admin are compared: p50, p90, p99 and the p99 ratio on/off (the aim:
 * at most 1.10). The receiver's span count confirms the traced admin exported. Prints a table,
 * then `BENCH {json}` as its last line.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { create } from "@bufbuild/protobuf";
import { ExecutionSpecSchema, WorkflowExecution_Phase } from "@flotilla/proto";
import {
  aTask,
  aWorkflow,
  adminTransport,
  createAdminClient,
  installCrd,
  kubeConfigFrom,
  type AdminClient,
} from "@flotilla/propeller";
import { startCluster } from "@flotilla/sandbox";
import { freePort, scratchDatabase, spawnBin, startOtlpReceiver, tempDir } from "@flotilla/testing";
import { registerClosure } from "../e2e/support/real-admin.js";

const argv = process.argv.slice(2);
const quick = argv.includes("--quick");
const flag = (name: string, fallback: number): number => {
  const i = argv.indexOf(`--${name}`);
  const value = i >= 0 ? Number(argv[i + 1]) : fallback;
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} needs a positive integer`);
  return value;
};
const REQUESTS = flag("requests", quick ? 60 : 600);
const CONCURRENCY = flag("concurrency", 4);
const WARMUP = quick ? 10 : 60;
const BLOCK = quick ? 10 : 50;
const CLUSTER = "bench";

interface BenchAdminProcess {
  readonly label: "off" | "on";
  readonly client: AdminClient;
  stop(): Promise<void>;
}

/** Starts the admin bin on a fresh database with `env` added to this process's environment. */
async function startAdminBin(
  label: "off" | "on",
  kubeconfig: string,
  env: Record<string, string | undefined>,
  dir: string,
): Promise<BenchAdminProcess> {
  const database = await scratchDatabase({ prefix: `flotilla_bench_tracing_${label}_` });
  const port = await freePort();
  const config = join(dir, `admin-${label}.json`);
  writeFileSync(
    config,
    JSON.stringify({
      server: { host: "127.0.0.1", port, shutdownGrace: "5s" },
      database: { url: database.url },
      blobStore: { url: pathToFileURL(join(dir, `blobs-${label}`)).href },
      clusters: [{ name: CLUSTER, kubeconfigInline: kubeconfig }],
    }),
  );
  let child;
  try {
    child = await spawnBin("flotilla-admin", ["--config", config], {
      readyLine: /^listening on /,
      env: { FLOTILLA_LOG_LEVEL: "warn", ...env },
      timeout: 60_000,
    });
  } catch (err) {
    await database.drop();
    throw err;
  }
  const running = child;
  let stopping: Promise<void> | undefined;
  return {
    label,
    client: createAdminClient(adminTransport(`http://127.0.0.1:${port}`)),
    stop() {
      stopping ??= (async () => {
        const status = await running.stop({ signal: "SIGTERM", grace: 10_000 });
        await database.drop();
        if (status.code !== 0) throw new Error(`admin (${label}) exited ${status.code ?? status.signal}`);
      })();
      return stopping;
    },
  };
}

/** Latency percentiles in ms (nearest rank). */
function percentiles(ms: number[]): { p50: number; p90: number; p99: number; max: number } {
  const s = [...ms].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] ?? 0;
  const r = (x: number) => Math.round(x * 100) / 100;
  return { p50: r(at(0.5)), p90: r(at(0.9)), p99: r(at(0.99)), max: r(s.at(-1) ?? 0) };
}

async function main(): Promise<void> {
  const dir = tempDir({ prefix: "flotilla-bench-tracing-" });
  const receiver = await startOtlpReceiver();
  const cluster = await startCluster({ name: CLUSTER, mode: "simulated" });
  await installCrd(kubeConfigFrom(cluster.kubeconfig));
  const noOtel = Object.fromEntries(
    Object.keys(process.env)
      .filter((k) => k.startsWith("OTEL_"))
      .map((k) => [k, undefined]),
  );
  const started = await Promise.allSettled([
    startAdminBin("off", cluster.kubeconfig, noOtel, dir.path),
    startAdminBin(
      "on",
      cluster.kubeconfig,
      {
        ...noOtel,
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf",
        OTEL_TRACES_SAMPLER: "always_on",
        OTEL_SERVICE_NAME: "flotilla-admin-bench",
      },
      dir.path,
    ),
  ]);
  const admins = started.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
  const failed = started.find((r) => r.status === "rejected");
  if (failed) {
    await Promise.allSettled(admins.map((a) => a.stop()));
    await receiver.close();
    await cluster.stop();
    throw failed.reason;
  }
  const heartbeat = () =>
    Promise.all(
      admins.map((a) => a.client.clusterHeartbeat({ cluster: CLUSTER, propellerVersion: "bench" })),
    );
  const beating = setInterval(() => void heartbeat().catch(() => undefined), 5_000);
  try {
    await heartbeat();
    const task = aTask("noop").simulated("1s").build();
    const workflowIds = await Promise.all(
      admins.map((a) =>
        registerClosure(a.client, aWorkflow("traced-bench").withNode("noop", task).closure()),
      ),
    );
    let seq = 0;
    /** Sends `n` creates to `admin`, CONCURRENCY at a time; returns each latency in ms. */
    const load = async (index: number, n: number): Promise<number[]> => {
      const admin = admins[index];
      const workflowId = workflowIds[index];
      if (!admin || !workflowId) throw new Error(`no admin ${index}`);
      const latencies: number[] = [];
      let left = n;
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (left > 0) {
            left--;
            const name = `b${(seq++).toString(36)}`;
            const started = performance.now();
            const res = await admin.client.createExecution({
              project: workflowId.project,
              domain: workflowId.domain,
              name,
              spec: create(ExecutionSpecSchema, { target: { case: "workflow", value: workflowId } }),
            });
            latencies.push(performance.now() - started);
            if (!res.id) throw new Error(`CreateExecution ${name} answered no id`);
          }
        }),
      );
      return latencies;
    };
    await load(0, WARMUP);
    await load(1, WARMUP);
    const latencies: [number[], number[]] = [[], []];
    for (let done = 0; done < REQUESTS; done += BLOCK) {
      const n = Math.min(BLOCK, REQUESTS - done);
      // Alternate which admin goes first, so neither always follows the other's block.
      const order = (done / BLOCK) % 2 === 0 ? [0, 1] : [1, 0];
      for (const i of order) latencies[i]?.push(...(await load(i, n)));
    }
    // Every create was placed on the cluster (not queued): the CR-create path was measured.
    for (const [i, admin] of admins.entries()) {
      const list = await admin.client.listExecutions({
        project: workflowIds[i]?.project ?? "",
        domain: workflowIds[i]?.domain ?? "",
        pageSize: 1,
      });
      const sample = list.executions[0];
      if (!sample?.closure?.cluster)
        throw new Error(
          `admin ${admin.label}: execution ${sample?.id?.name} was not placed (phase ${WorkflowExecution_Phase[sample?.closure?.phase ?? 0]})`,
        );
    }
    const off = percentiles(latencies[0]);
    const on = percentiles(latencies[1]);
    await admins[1]?.stop();
    const exported = receiver.spans.length;
    const createSpans = receiver.spans.filter(
      (s) => s.name === "flotilla.admin.v1.AdminService/CreateExecution" && s.kind === 2,
    ).length;
    await admins[0]?.stop();
    const p99Ratio = Math.round((on.p99 / off.p99) * 1000) / 1000;
    const p50Ratio = Math.round((on.p50 / off.p50) * 1000) / 1000;
    console.log(`CreateExecution latency, ${REQUESTS} per admin, ${CONCURRENCY} concurrent callers (ms)`);
    console.log(`tracing   p50      p90      p99      max`);
    for (const [label, p] of [
      ["off", off],
      ["on", on],
    ] as const)
      console.log(
        `${label.padEnd(9)} ${String(p.p50).padEnd(8)} ${String(p.p90).padEnd(8)} ${String(p.p99).padEnd(8)} ${p.max}`,
      );
    console.log(`p99 on/off: ${p99Ratio} (aim <= 1.10); p50 on/off: ${p50Ratio}`);
    console.log(`exported: ${exported} spans, ${createSpans} CreateExecution server spans`);
    if (createSpans < REQUESTS + WARMUP)
      throw new Error(
        `the traced admin exported ${createSpans} CreateExecution spans for ${REQUESTS + WARMUP} creates`,
      );
    console.log(
      `BENCH ${JSON.stringify({
        bench: "tracing",
        quick,
        requests: REQUESTS,
        concurrency: CONCURRENCY,
        off,
        on,
        p99Ratio,
        p50Ratio,
        exportedSpans: exported,
      })}`,
    );
  } finally {
    clearInterval(beating);
    await Promise.allSettled(admins.map((a) => a.stop()));
    await receiver.close();
    await cluster.stop();
    await dir.cleanup();
  }
}

await main();
