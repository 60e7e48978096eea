#!/usr/bin/env node
// Runs every workspace's compiled tests with node's built-in test runner.
// Test files are the compiled form (dist/**/*.test.js) of each co-located *.test.ts; a compiled
// test whose source no longer exists is ignored, so a stale dist/ never runs deleted tests.
// Usage: node scripts/run-tests.mjs [--unit] [--only <substring>]...
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const args = process.argv.slice(2);
const unitOnly = args.includes("--unit");
const only = args.flatMap((a, i) => (args[i - 1] === "--only" ? [a] : []));

const workspaces = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).workspaces;

function walk(dir, out) {
  if (!existsSync(dir)) return out;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) walk(path, out);
    else if (entry.name.endsWith(".test.js")) out.push(path);
  }
  return out;
}

function sourceOf(pkgDir, compiled, rootDir) {
  const rel = relative(join(pkgDir, "dist"), compiled).replace(/\.js$/, "");
  return [".ts", ".tsx"].map((ext) => join(pkgDir, rootDir, rel + ext)).find((p) => existsSync(p));
}

const files = [];
for (const ws of workspaces) {
  if (unitOnly && ws === "test") continue;
  const pkgDir = join(root, ws);
  const tsconfig = JSON.parse(readFileSync(join(pkgDir, "tsconfig.json"), "utf8"));
  const rootDir = tsconfig.compilerOptions?.rootDir ?? ".";
  for (const compiled of walk(join(pkgDir, "dist"), [])) {
    if (!sourceOf(pkgDir, compiled, rootDir)) continue;
    if (only.length && !only.some((o) => compiled.includes(o))) continue;
    files.push(relative(root, compiled));
  }
}
files.sort();
if (files.length === 0) {
  console.error("run-tests: no test files found (did the build run?)");
  process.exit(1);
}

const concurrency = process.env.FLOTILLA_TEST_CONCURRENCY ?? "2";
const child = spawn(
  process.execPath,
  [
    "--enable-source-maps",
    "--test",
    "--test-reporter=spec",
    `--test-concurrency=${concurrency}`,
    "--test-timeout=600000",
    ...files,
  ],
  { cwd: root, stdio: "inherit" },
);
child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
