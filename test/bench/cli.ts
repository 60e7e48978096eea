/**
 * flotctl cold-start benchmark: `npm run bench -- cli [--runs N]`.
 *
 * Runs `flotctl --help` and `flotctl get executions --help` N times each (15 by default, after
 * one warm-up that fills the OS file cache) as new Node processes, the way a shell runs the
 * installed bin, and prints the median, p90 and max wall time of each. The aim is a median of at
 * most 0.30 s for `flotctl --help`. Prints a table, then `BENCH {json}` as its last line.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { repoRoot } from "@flotilla/testing";

const argv = process.argv.slice(2);
const runsIdx = argv.indexOf("--runs");
const RUNS = runsIdx >= 0 ? Number(argv[runsIdx + 1]) : 15;
if (!Number.isInteger(RUNS) || RUNS < 1) throw new Error("--runs needs a positive integer");
const bin = join(repoRoot, "cli", "bin", "flotctl.js");

function timeOnce(args: string[]): number {
  const started = performance.now();
  const result = spawnSync(process.execPath, [bin, ...args], { encoding: "utf8" });
  const ms = performance.now() - started;
  if (result.status !== 0)
    throw new Error(`flotctl ${args.join(" ")} exited ${result.status}: ${result.stderr}`);
  return ms;
}

function at(sorted: number[], p: number): number {
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0);
}

const rows = [["--help"], ["get", "executions", "--help"]].map((args) => {
  timeOnce(args);
  const times = Array.from({ length: RUNS }, () => timeOnce(args)).sort((a, b) => a - b);
  return {
    command: `flotctl ${args.join(" ")}`,
    medianMs: at(times, 0.5),
    p90Ms: at(times, 0.9),
    maxMs: at(times, 1),
  };
});

console.log(`| command (${RUNS} cold starts) | median (ms) | p90 (ms) | max (ms) |`);
console.log("|---|---:|---:|---:|");
for (const r of rows) console.log(`| ${r.command} | ${r.medianMs} | ${r.p90Ms} | ${r.maxMs} |`);
console.log(`BENCH ${JSON.stringify({ bench: "cli", runs: RUNS, rows })}`);
