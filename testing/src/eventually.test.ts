import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { EventuallyTimeoutError, eventually } from "./eventually.js";

describe("eventually", () => {
  it("returns the value once the assertion passes", async () => {
    let calls = 0;
    const value = await eventually(
      () => {
        calls++;
        assert.ok(calls >= 3, `only ${calls} calls`);
        return calls;
      },
      { interval: 1 },
    );
    assert.equal(value, 3);
    assert.equal(calls, 3);
  });

  it("awaits async assertions", async () => {
    let ready = false;
    setTimeout(() => (ready = true), 30);
    const result = await eventually(async () => {
      await Promise.resolve();
      assert.equal(ready, true);
      return "done";
    });
    assert.equal(result, "done");
  });

  it("rethrows the last error when the time is up", async () => {
    let calls = 0;
    const started = Date.now();
    await assert.rejects(
      eventually(
        () => {
          calls++;
          throw new Error(`failure ${calls}`);
        },
        { timeout: 120, interval: 10 },
      ),
      (err: unknown) => err instanceof Error && err.message === `failure ${calls}`,
    );
    assert.ok(calls > 1, `expected several attempts, got ${calls}`);
    assert.ok(Date.now() - started >= 120);
  });

  it("names what it waited for when given a message", async () => {
    await assert.rejects(
      eventually(() => assert.equal(1, 2), { timeout: 50, interval: 10, message: "pods to be running" }),
      (err: unknown) => {
        assert.ok(err instanceof EventuallyTimeoutError);
        assert.match(err.message, /^pods to be running: not true after 50 ms \(\d+ attempts\); last error: /);
        assert.ok(err.cause instanceof assert.AssertionError);
        return true;
      },
    );
  });

  it("abandons an attempt that hangs past the deadline", async () => {
    const started = Date.now();
    await assert.rejects(
      eventually(() => new Promise<never>(() => {}), { timeout: 80 }),
      /attempt still running when the time was up/,
    );
    assert.ok(Date.now() - started < 2000);
  });
});
