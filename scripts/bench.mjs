#!/usr/bin/env node
// `npm run bench -- <name> [--quick] [...]` runs test/bench/<name>.ts (compiled to
// test/dist/bench/<name>.js; test/bench/support/ is shared code, not a benchmark). A benchmark
// prints its figures; its last line is `BENCH {json}`.
import { spawn } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const [name, ...rest] = process.argv.slice(2);
const dir = join(root, "test", "dist", "bench");
const available = existsSync(dir)
  ? readdirSync(dir)
      .filter((f) => f.endsWith(".js") && !f.includes(".test."))
      .map((f) => f.replace(/\.js$/, ""))
  : [];
if (!name || !available.includes(name)) {
  console.error(`usage: npm run bench -- <name> [--quick]\navailable: ${available.join(", ") || "(none)"}`);
  process.exit(2);
}
const child = spawn(process.execPath, ["--enable-source-maps", join(dir, `${name}.js`), ...rest], {
  cwd: root,
  stdio: "inherit",
});
child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
