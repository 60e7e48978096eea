#!/usr/bin/env node
// Measures flotctl cold start: wall time of `node bin/flotctl.js <args>` (default `--help`),
// N fresh processes (default 20), after one warm-up run that also refreshes the manifest.
// Usage: node cli/scripts/cold-start.mjs [--runs N] [-- args...]
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const argv = process.argv.slice(2);
const dash = argv.indexOf("--");
const args = dash >= 0 ? argv.slice(dash + 1) : ["--help"];
const runsAt = argv.indexOf("--runs");
const runs = runsAt >= 0 ? Number(argv[runsAt + 1]) : 20;
const bin = fileURLToPath(new URL("../bin/flotctl.js", import.meta.url));

const once = () => {
  const start = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [bin, ...args], { stdio: ["ignore", "ignore", "pipe"] });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.status !== 0) throw new Error(`flotctl ${args.join(" ")} exited ${r.status}: ${r.stderr}`);
  return ms;
};
once();
const times = Array.from({ length: runs }, once).sort((a, b) => a - b);
const q = (p) => times[Math.min(times.length - 1, Math.floor(p * times.length))];
const median =
  times.length % 2
    ? times[(times.length - 1) / 2]
    : (times[times.length / 2 - 1] + times[times.length / 2]) / 2;
const baseline = Array.from({ length: 5 }, () => {
  const start = process.hrtime.bigint();
  spawnSync(process.execPath, ["-e", "0"]);
  return Number(process.hrtime.bigint() - start) / 1e6;
}).sort((a, b) => a - b)[2];
console.log(
  `flotctl ${args.join(" ")}: ${runs} runs, median ${median.toFixed(0)} ms, min ${times[0].toFixed(0)} ms, p90 ${q(0.9).toFixed(0)} ms, max ${times[times.length - 1].toFixed(0)} ms (bare node: ${baseline.toFixed(0)} ms)`,
);
console.log(
  `BENCH ${JSON.stringify({ name: "flotctl-cold-start", args, runs, medianMs: Math.round(median), minMs: Math.round(times[0]), p90Ms: Math.round(q(0.9)), nodeBaselineMs: Math.round(baseline) })}`,
);
