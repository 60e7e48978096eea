// `npm start`'s own path: scripts/start.mjs runs `flotctl demo start` in the foreground, prints the
// ready banner with the endpoints and the commands to try, and a Ctrl-C (SIGINT) stops every
// component and exits 0. (test/e2e/demo.test.ts drives a detached demo through its features.)
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { repoRoot, spawnBin, tempDir } from "@flotilla/testing";

const dir = tempDir({ prefix: "flotilla-demo-fg-" });

test("the start script runs the demo in the foreground until SIGINT, then stops every component", async () => {
  const demoDir = join(dir.path, "demo");
  const start = await spawnBin(
    join(repoRoot, "scripts", "start.mjs"),
    ["--dir", demoDir, "--admin-port", "0", "--rm-port", "0", "--timeout", "120s"],
    { readyLine: /^Flotilla demo is ready in [\d.]+s/, timeout: 240_000, env: { HOME: dir.path } },
  );
  await start.waitForLine(/stops them\.$/);
  const out = start.stdout.join("\n");
  for (const line of [
    /^ {2}admin\s+http:\/\/127\.0\.0\.1:\d+/m,
    /^ {2}resource manager\s+http:\/\/127\.0\.0\.1:\d+/m,
    /^ {2}cluster east\s+http:\/\/127\.0\.0\.1:\d+/m,
    /^ {2}cluster west\s+http:\/\/127\.0\.0\.1:\d+/m,
    /^ {2}cluster secure\s+http:\/\/127\.0\.0\.1:\d+.*dedicated to regulated projects/m,
    /^ {2}npx flotctl create execution -p ml -d development --launch-plan hello-world-lp/m,
    /^ {2}npx flotctl watch execution hello-1/m,
    /^ {2}npx flotctl get executions/m,
  ]) {
    assert.match(out, line);
  }
  const state = JSON.parse(await readFile(join(demoDir, "demo.json"), "utf8")) as {
    phase: string;
    components: Array<{ name: string; pid: number }>;
  };
  assert.equal(state.phase, "ready");
  assert.equal(state.components.length, 6);

  // Ctrl-C in a terminal reaches the whole foreground group; here only the script gets it and
  // must pass it on.
  process.kill(start.pid, "SIGINT");
  const exit = await start.exited;
  assert.equal(exit.code, 0, start.output());
  assert.match(start.output(), /demo stopped \(received SIGINT\)/);
  for (const c of state.components) {
    assert.throws(() => process.kill(c.pid, 0), `${c.name} (pid ${c.pid}) still runs`);
  }
  const after = JSON.parse(await readFile(join(demoDir, "demo.json"), "utf8")) as { phase: string };
  assert.equal(after.phase, "stopped");
});
