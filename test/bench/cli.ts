/**
 * flotctl benchmark: `npm run bench -- cli [--quick] [--runs N]`.
 *
 * Starts the real admin (in this process, on PostgreSQL, a free 127.0.0.1 port; see
 * `support/bench-admin.ts`), registers project `bench` and the hello-world launch plan through
 * `flotctl` itself, then times each command as a new Node process the way a shell runs the
 * installed bin, pointed at the admin with `FLOTILLA_ADMIN` (and `FLOTILLA_PROJECT`/`_DOMAIN`,
 * a fresh `HOME` so no user config file applies):
 *   `flotctl --help`, `flotctl get executions --help`, `flotctl get executions` (a list),
 *   `flotctl create execution --launchplan hello-world-lp`, `flotctl get executions <name>`.
 * There is no warm-up: each command's first run is reported on its own (`firstMs`, cold file
 * cache for that command's modules), then the median, p90 and max of the next N runs (15; 3 with
 * --quick). The aim is a median of at most 0.30 s for `flotctl --help`. Prints a table, then
 * `BENCH {json}` as its last line.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { repoRoot, tempDir } from "@flotilla/testing";
import { startBenchAdmin } from "./support/bench-admin.js";

const argv = process.argv.slice(2);
const quick = argv.includes("--quick");
const runsIdx = argv.indexOf("--runs");
const RUNS = runsIdx >= 0 ? Number(argv[runsIdx + 1]) : quick ? 3 : 15;
if (!Number.isInteger(RUNS) || RUNS < 1) throw new Error("--runs needs a positive integer");
const bin = join(repoRoot, "cli", "bin", "flotctl.js");

/** A flotctl run that did not exit 0: the benchmark stops with its output. */
class FlotctlFailedError extends Error {
  constructor(
    readonly args: string[],
    readonly code: number | null,
    readonly stderr: string,
  ) {
    super(`flotctl ${args.join(" ")} exited ${code}: ${stderr}`);
    this.name = "FlotctlFailedError";
  }
}

/**
 * Runs flotctl once as a new process (asynchronously: the admin answering it lives in this
 * process's event loop) and returns its wall time in ms and its stdout.
 */
function flotctl(args: string[], env: NodeJS.ProcessEnv): Promise<{ ms: number; stdout: string }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [bin, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.once("error", reject);
    child.once("close", (code) => {
      const ms = performance.now() - started;
      if (code === 0) resolve({ ms, stdout });
      else reject(new FlotctlFailedError(args, code, stderr));
    });
  });
}

function at(sorted: number[], p: number): number {
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0);
}

async function main(): Promise<void> {
  const home = tempDir({ prefix: "bench-cli-" });
  const admin = await startBenchAdmin();
  try {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      HOME: home.path,
      FLOTILLA_ADMIN: admin.url,
      FLOTILLA_PROJECT: "bench",
      FLOTILLA_DOMAIN: "development",
      NO_COLOR: "1",
    };
    await flotctl(["create", "project", "bench"], env);
    await flotctl(
      ["register", "files", join(repoRoot, "examples", "hello-world.yaml"), "--version", "v1"],
      env,
    );
    let created = 0;
    const commands: { label: string; args: () => string[]; check?: (stdout: string) => void }[] = [
      { label: "flotctl --help", args: () => ["--help"] },
      { label: "flotctl get executions --help", args: () => ["get", "executions", "--help"] },
      {
        label: "flotctl create execution --launchplan hello-world-lp",
        args: () => [
          "create",
          "execution",
          "--launchplan",
          "hello-world-lp",
          "--name",
          `cli-${created++}`,
          "-o",
          "json",
        ],
        check: (stdout) => {
          if (!/"name":\s*"cli-\d+"/.test(stdout)) throw new Error(`create execution printed ${stdout}`);
        },
      },
      {
        label: "flotctl get executions (list)",
        args: () => ["get", "executions"],
        check: (stdout) => {
          if (!stdout.includes("cli-0")) throw new Error(`get executions did not list cli-0:\n${stdout}`);
        },
      },
      {
        label: "flotctl get executions cli-0",
        args: () => ["get", "executions", "cli-0", "-o", "yaml"],
        check: (stdout) => {
          if (!/name: cli-0/.test(stdout)) throw new Error(`get executions cli-0 printed ${stdout}`);
        },
      },
    ];
    const rows = [];
    for (const command of commands) {
      const first = await flotctl(command.args(), env);
      command.check?.(first.stdout);
      const times: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        const run = await flotctl(command.args(), env);
        command.check?.(run.stdout);
        times.push(run.ms);
      }
      times.sort((a, b) => a - b);
      rows.push({
        command: command.label,
        firstMs: Math.round(first.ms),
        medianMs: at(times, 0.5),
        p90Ms: at(times, 0.9),
        maxMs: at(times, 1),
      });
    }
    console.log(
      `| command (first run, then ${RUNS} cold starts) | first (ms) | median (ms) | p90 (ms) | max (ms) |`,
    );
    console.log("|---|---:|---:|---:|---:|");
    for (const r of rows)
      console.log(`| ${r.command} | ${r.firstMs} | ${r.medianMs} | ${r.p90Ms} | ${r.maxMs} |`);
    console.log(
      `BENCH ${JSON.stringify({ bench: "cli", quick, runs: RUNS, admin: "in-process, PostgreSQL", rows })}`,
    );
  } finally {
    await admin.stop();
    await home.cleanup();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
