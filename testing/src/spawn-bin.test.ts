import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";
import { eventually } from "./eventually.js";
import {
  BinNotFoundError,
  SpawnBinExitedError,
  SpawnBinTimeoutError,
  resolveBin,
  spawnBin,
} from "./spawn-bin.js";

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/bin/${name}`, import.meta.url));

function isAlive(pid: number): boolean {
  try {
    // A killed grandchild may linger as a zombie until its new parent reaps it: that is dead.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

describe("spawnBin", () => {
  it("waits for the ready line, passes env, captures both streams, and stops the child", async () => {
    const bin = await spawnBin(fixture("ready-then-wait.mjs"), [], {
      env: { MARKER: "blue" },
      readyLine: /listening on (127\.0\.0\.1:\d+)/,
    });
    assert.equal(bin.ready?.[1], "127.0.0.1:12345");
    assert.ok(isAlive(bin.pid));
    await eventually(() => assert.deepEqual(bin.stderr, ["starting with MARKER=blue"]));
    assert.match(bin.output(), /listening on/);
    const status = await bin.stop();
    assert.deepEqual(status, { code: 0, signal: null });
    assert.equal(isAlive(bin.pid), false);
  });

  it("kills a child that ignores SIGTERM, and its grandchild, with SIGKILL to the group", async () => {
    const bin = await spawnBin(fixture("stubborn.mjs"), [], { readyLine: /^ready$/ });
    const grandchild = Number((await bin.waitForLine(/^grandchild=(\d+)$/))[1]);
    assert.ok(isAlive(grandchild));
    const status = await bin.stop({ grace: 300 });
    assert.deepEqual(status, { code: null, signal: "SIGKILL" });
    assert.ok(bin.stdout.includes("ignoring SIGTERM"));
    assert.equal(isAlive(bin.pid), false);
    await eventually(() => assert.equal(isAlive(grandchild), false, `grandchild ${grandchild} still alive`));
  });

  it("stops the child when the test ends", async (t) => {
    let pid = 0;
    await t.test("inner", async (inner) => {
      const bin = await spawnBin(fixture("ready-then-wait.mjs"), [], { readyLine: /listening/, t: inner });
      pid = bin.pid;
    });
    await eventually(() => assert.equal(isAlive(pid), false));
  });

  it("reports the exit even while a grandchild holds its output open, and stop() still kills the group", async () => {
    const bin = await spawnBin(fixture("exits-leaving-grandchild.mjs"));
    const status = await bin.exited;
    assert.deepEqual(status, { code: 0, signal: null });
    const grandchild = Number((await bin.waitForLine(/^grandchild=(\d+)$/))[1]);
    assert.ok(isAlive(grandchild));
    await bin.stop();
    await eventually(() => assert.equal(isAlive(grandchild), false, `grandchild ${grandchild} still alive`));
  });

  it("rejects with the output when the child exits before its ready line", async () => {
    await assert.rejects(spawnBin(fixture("fails-early.mjs"), [], { readyLine: /ready/ }), (err: unknown) => {
      assert.ok(err instanceof SpawnBinExitedError);
      assert.deepEqual(err.status, { code: 2, signal: null });
      assert.match(err.message, /config file \/nope\.yaml not found/);
      return true;
    });
  });

  it("rejects, and stops the child, when the ready line does not come in time", async () => {
    await assert.rejects(
      // Long enough for the fixture to start and print its grandchild on a loaded 2-core machine.
      spawnBin(fixture("stubborn.mjs"), [], { readyLine: /never printed/, timeout: 2_000 }),
      (err: unknown) => {
        assert.ok(err instanceof SpawnBinTimeoutError);
        assert.match(err.output, /^grandchild=\d+$/m);
        const grandchild = Number(/^grandchild=(\d+)$/m.exec(err.output)![1]);
        return grandchild > 0;
      },
    );
  });

  it("resolves names from node_modules/.bin and reports where it looked", () => {
    assert.match(resolveBin("tsc"), /typescript[/\\]bin[/\\]tsc$/);
    assert.throws(
      () => resolveBin("no-such-flotilla-bin"),
      (err: unknown) =>
        err instanceof BinNotFoundError &&
        err.searched.some((p) => p.endsWith("node_modules/.bin/no-such-flotilla-bin")),
    );
  });

  it("runs a resolved JavaScript bin with this Node", async () => {
    const bin = await spawnBin("tsc", ["--version"]);
    const status = await bin.exited;
    assert.equal(status.code, 0);
    assert.match(bin.stdout.join("\n"), /^Version 5\.9\./);
  });
});
