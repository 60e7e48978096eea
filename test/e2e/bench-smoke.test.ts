/**
 * Every benchmark runs once with `--quick` so none of them rots: exit code 0 and a parseable
 * `BENCH {json}` last line. Figures are not asserted (the machine's load decides them). A new
 * `test/bench/<name>.ts` is covered without touching this file.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { repoRoot } from "@flotilla/testing";

const sources = join(repoRoot, "test", "bench");
const compiled = join(repoRoot, "test", "dist", "bench");
const benchmarks = readdirSync(sources)
  .filter((f) => f.endsWith(".ts"))
  .map((f) => f.replace(/\.ts$/, ""))
  .sort();

/** Runs `node <file> --quick`; resolves with its exit code and output. */
function runQuick(
  file: string,
): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--enable-source-maps", file, "--quick"], {
      cwd: repoRoot,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.once("error", reject);
    child.once("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

describe("benchmarks, once each with --quick", () => {
  it("finds every benchmark compiled", () => {
    assert.ok(benchmarks.length > 0, `no benchmark sources in ${sources}`);
    const built = new Set(readdirSync(compiled).filter((f) => f.endsWith(".js")));
    for (const name of benchmarks)
      assert.ok(built.has(`${name}.js`), `${name}.js is not built in ${compiled}`);
  });

  for (const name of benchmarks) {
    it(`${name} exits 0 and prints a BENCH line last`, { timeout: 5 * 60_000 }, async () => {
      const run = await runQuick(join(compiled, `${name}.js`));
      const tail = `stdout tail:\n${run.stdout.slice(-2000)}\nstderr tail:\n${run.stderr.slice(-2000)}`;
      assert.equal(run.code, 0, `${name} --quick exited ${run.code ?? run.signal}\n${tail}`);
      const last = run.stdout.trimEnd().split("\n").at(-1) ?? "";
      const match = /^BENCH (\{.*\})$/.exec(last);
      assert.ok(match?.[1], `${name}'s last line is not BENCH {json}: ${last}\n${tail}`);
      const figures: unknown = JSON.parse(match[1]);
      assert.equal(typeof figures, "object");
      assert.notEqual(figures, null);
    });
  }
});
