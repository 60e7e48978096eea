/**
 * `flotilla-sandbox --clusters east,west,secure --state-dir DIR [--mode process|simulated] [--port-base N]
 *                  [--nodes N] [--pods-per-node N]`
 *
 * Starts one sandbox cluster (API server + simulated kubelet) per name on 127.0.0.1, writes
 * `DIR/kubeconfig` with one context per cluster (context = cluster name), prints one
 * `cluster <name> <url>` line per cluster and then `ready` on its own line. SIGTERM or SIGINT
 * stops every cluster (killing the pods' processes) and exits 0. Exit codes (the runtime's
 * `runMain`): 0 after a clean stop, 1 when a cluster fails to start or stop, 2 on a usage
 * error. `--nodes`/`--pods-per-node` size each cluster (default: the kubelet's 3 nodes of 110
 * pods; every third node is spot). Failures are logged as JSON lines on stderr.
 */
import { mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { isDnsLabel } from "@flotilla/common";
import { type Logger, runMain, UsageError } from "@flotilla/runtime";
import { startCluster, writeKubeconfig, type NodeSpec, type SandboxCluster } from "./index.js";

const USAGE =
  "usage: flotilla-sandbox --clusters NAME[,NAME...] --state-dir DIR [--mode process|simulated] [--port-base N] [--nodes N] [--pods-per-node N]";

/** The parsed command line. */
interface SandboxArgs {
  clusters: string[];
  stateDir: string;
  mode: "process" | "simulated";
  /** First port; cluster i listens on portBase + i. Undefined: any free port. */
  portBase: number | undefined;
  /** Node count per cluster; undefined: the kubelet's default topology. */
  nodes: number | undefined;
  /** Pod capacity of each node; undefined: 110. */
  podsPerNode: number | undefined;
}

/** Parses and validates the bin's arguments. Throws UsageError naming the problem. */
function parseSandboxArgs(argv: readonly string[]): SandboxArgs {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        clusters: { type: "string" },
        "state-dir": { type: "string" },
        mode: { type: "string", default: "simulated" },
        "port-base": { type: "string" },
        nodes: { type: "string" },
        "pods-per-node": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  if (values.help) throw new UsageError("help requested");
  const clusters = (values.clusters ?? "")
    .split(",")
    .map((c) => c.trim())
    .filter((c) => c !== "");
  if (clusters.length === 0) throw new UsageError("--clusters needs at least one cluster name");
  for (const name of clusters) {
    if (!isDnsLabel(name))
      throw new UsageError(`cluster name ${JSON.stringify(name)} must be a DNS label (a-z, 0-9, '-')`);
  }
  const duplicate = clusters.find((c, i) => clusters.indexOf(c) !== i);
  if (duplicate) throw new UsageError(`cluster ${duplicate} is listed twice`);
  if (!values["state-dir"]) throw new UsageError("--state-dir is required");
  const mode = values.mode;
  if (mode !== "process" && mode !== "simulated")
    throw new UsageError(`--mode must be process or simulated, not ${JSON.stringify(mode)}`);
  let portBase: number | undefined;
  if (values["port-base"] !== undefined) {
    portBase = Number(values["port-base"]);
    if (!Number.isInteger(portBase) || portBase < 1 || portBase + clusters.length - 1 > 65535) {
      throw new UsageError(
        `--port-base must be a port number leaving room for ${clusters.length} cluster(s)`,
      );
    }
  }
  const count = (flag: string, text: string | undefined, max: number): number | undefined => {
    if (text === undefined) return undefined;
    const n = Number(text);
    if (!Number.isInteger(n) || n < 1 || n > max)
      throw new UsageError(`--${flag} must be an integer from 1 to ${max}`);
    return n;
  };
  return {
    clusters,
    stateDir: resolve(values["state-dir"]),
    mode,
    portBase,
    nodes: count("nodes", values.nodes, 1000),
    podsPerNode: count("pods-per-node", values["pods-per-node"], 100_000),
  };
}

/**
 * Starts every cluster of `args` and writes the combined kubeconfig. On failure, stops the
 * clusters already started and rethrows. Returns the running clusters in argument order.
 */
async function startSandbox(args: SandboxArgs, logger: Logger): Promise<SandboxCluster[]> {
  await mkdir(args.stateDir, { recursive: true });
  const started: SandboxCluster[] = [];
  try {
    for (const [i, name] of args.clusters.entries()) {
      started.push(
        await startCluster({
          name,
          mode: args.mode,
          stateDir: args.stateDir,
          logger,
          ...nodeOptions(name, args),
          ...(args.portBase !== undefined ? { port: args.portBase + i } : {}),
        }),
      );
    }
    await writeKubeconfig(
      started.map((c) => ({ name: c.name, url: c.url })),
      join(args.stateDir, "kubeconfig"),
    );
    return started;
  } catch (err) {
    await Promise.allSettled(started.map((c) => c.stop()));
    throw err;
  }
}

/** Node specs for `--nodes`/`--pods-per-node`: `<cluster>-node-<i>`, every third one spot. */
function nodeOptions(cluster: string, args: SandboxArgs): { nodes?: NodeSpec[] } {
  if (args.nodes === undefined && args.podsPerNode === undefined) return {};
  const specs = Array.from({ length: args.nodes ?? 3 }, (_, i): NodeSpec => ({
    name: `${cluster}-node-${i + 1}`,
    capacityType: (i + 1) % 3 === 0 ? "spot" : "on-demand",
    ...(args.podsPerNode !== undefined ? { pods: args.podsPerNode } : {}),
  }));
  return { nodes: specs };
}

void runMain("flotilla-sandbox", async ({ argv, logger }) => {
  let args: SandboxArgs;
  try {
    args = parseSandboxArgs(argv);
  } catch (err) {
    if (err instanceof UsageError) throw new UsageError(`${err.message}\n${USAGE}`);
    throw err;
  }
  const clusters = await startSandbox(args, logger);
  // runMain installs its SIGTERM/SIGINT handlers once this function has returned (a microtask
  // later); the lines are written after that, so a client that signals as soon as it reads
  // `ready` gets a clean stop. Other programs (the demo, tests) parse these lines: keep their form.
  setImmediate(() => {
    for (const c of clusters) process.stdout.write(`cluster ${c.name} ${c.url}\n`);
    process.stdout.write(`kubeconfig ${join(args.stateDir, "kubeconfig")}\nready\n`);
  });
  return {
    async stop() {
      const results = await Promise.allSettled(clusters.map((c) => c.stop()));
      const failed = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
      if (failed.length > 0) {
        throw new AggregateError(
          failed.map((f) => f.reason as unknown),
          `${failed.length} of ${clusters.length} cluster(s) failed to stop`,
        );
      }
    },
  };
});
