#!/usr/bin/env node
// `npm start` (after `tsc -b`): starts the local demo with `flotctl demo start`, passing any
// extra arguments through. Until the CLI has its demo command (cli/dist/commands/demo/start.js),
// it says what the demo will be and what already works, and exits 0.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const demoCommand = join(root, "cli", "dist", "commands", "demo", "start.js");
const flotctl = join(root, "cli", "bin", "flotctl.js");

if (!existsSync(demoCommand)) {
  console.log(`Flotilla is built, but \`flotctl demo\` is not here yet.

When it lands, \`npm start\` will run \`flotctl demo start\`: an embedded admin (PGlite, no database to
install), sandbox Kubernetes clusters east, west and secure with a propeller each, a resource
manager, and the workflows under examples/, all on this machine. Meanwhile \`npx flotctl --help\`
lists the commands that work today, and \`npm test\` runs the whole system end to end.`);
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
