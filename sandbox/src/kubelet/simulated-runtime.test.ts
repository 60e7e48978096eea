import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { V1Container, V1Pod } from "@kubernetes/client-node";
import { exitWithCode } from "./pod-status.js";
import { createSimulatedRuntime } from "./simulated-runtime.js";

const container: V1Container = { name: "main", image: "busybox" };
const pod: V1Pod = { metadata: { name: "p" }, spec: { containers: [container] } };

describe("simulated runtime", () => {
  it("runs for the planned duration, logs, then exits as planned", async () => {
    const runtime = createSimulatedRuntime(() => ({ durationMs: 80, exit: exitWithCode(4), log: "working" }));
    let output = "";
    const started = Date.now();
    const handle = await runtime.start({
      pod,
      container,
      workDir: "/nonexistent",
      env: {},
      onOutput: (t) => (output += t),
    });
    assert.equal(output, "working\n");
    assert.deepEqual(await handle.exited, { exitCode: 4, reason: "Error" });
    assert.ok(Date.now() - started >= 70, "ended too early");
  });

  it("ends at once when stopped or OOM-killed", async () => {
    const runtime = createSimulatedRuntime(() => ({ durationMs: 60_000, exit: exitWithCode(0) }));
    const start = () =>
      runtime.start({
        pod,
        container,
        workDir: "/x",
        env: {},
        onOutput: () => undefined,
      });
    assert.equal((await (await start()).stop(1000)).exitCode, 143);
    assert.equal((await (await start()).stop(0)).exitCode, 137);
    assert.deepEqual(await (await start()).oomKill(), { exitCode: 137, reason: "OOMKilled", signal: 9 });
  });
});
