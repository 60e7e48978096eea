#!/usr/bin/env node
// `npm start` (after `tsc -b`): starts the local demo with `flotctl demo start`, passing any
// extra arguments through. Until the CLI has its entry point (cli/dist/main.js), it says what the
// demo will be and exits 0.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const cliMain = join(root, "cli", "dist", "main.js");
const flotctl = join(root, "cli", "bin", "flotctl.js");

if (!existsSync(cliMain)) {
  console.log(`Flotilla is built, but the demo is not here yet (${join("cli", "dist", "main.js")} is missing).

When it lands, \`npm start\` will run \`flotctl demo start\`: an embedded admin (PGlite, no database to
install), several sandbox Kubernetes clusters with a propeller each, a resource manager, and sample
workflows, all as local processes. Meanwhile: \`npm test\` runs the test suite.`);
  process.exit(0);
}

const child = spawn(process.execPath, [flotctl, "demo", "start", ...process.argv.slice(2)], {
  cwd: root,
  stdio: "inherit",
});
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => child.kill(signal));
}
child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
