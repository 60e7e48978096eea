#!/usr/bin/env node
// `npm start` (after `tsc -b`): runs `flotctl demo start` in the foreground, passing any extra
// arguments through (`npm start -- --detach`), and exits with its code. Ctrl-C stops the demo.
import { spawn } from "node:child_process";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const flotctl = join(root, "cli", "bin", "flotctl.js");

const child = spawn(process.execPath, [flotctl, "demo", "start", ...process.argv.slice(2)], {
  cwd: root,
  stdio: "inherit",
});
// In a terminal, Ctrl-C reaches the whole process group; a signal sent to this process alone is
// passed on so the demo still stops cleanly.
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => child.kill(signal));
}
child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
