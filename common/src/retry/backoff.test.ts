import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AbortedError, backoffCeiling, backoffDelay, retry, sleep } from "./backoff.js";

describe("backoff", () => {
  it("draws uniformly under a ceiling that grows by the factor up to the cap", () => {
    const options = { initialMs: 100, maxMs: 1000 };
    assert.deepEqual(
      [0, 1, 2, 3, 4, 50].map((n) => backoffCeiling(n, options)),
      [100, 200, 400, 800, 1000, 1000],
    );
    assert.equal(
      backoffDelay(3, options, () => 0),
      0,
    );
    assert.equal(
      backoffDelay(3, options, () => 0.5),
      400,
    );
    assert.equal(
      backoffDelay(3, options, () => 0.999999),
      799,
    );
    assert.equal(backoffCeiling(2, { ...options, factor: 3 }), 900);
  });

  it("retries until success, with the delays it announced", async () => {
    const delays: number[] = [];
    const value = await retry(
      (attempt) => (attempt < 3 ? Promise.reject(new Error(`fail ${attempt}`)) : Promise.resolve(attempt)),
      { initialMs: 4, maxMs: 8, random: () => 0.5, onRetry: (_e, _a, d) => delays.push(d) },
    );
    assert.equal(value, 3);
    assert.deepEqual(delays, [2, 4, 4]);
  });

  it("gives up after the retries or when shouldRetry says no", async () => {
    let calls = 0;
    await assert.rejects(
      retry(() => Promise.reject(new Error(`n${++calls}`)), { initialMs: 1, maxMs: 1, retries: 2 }),
      /n3/,
    );
    calls = 0;
    await assert.rejects(
      retry(() => Promise.reject(new Error(`n${++calls}`)), {
        initialMs: 1,
        maxMs: 1,
        shouldRetry: () => false,
      }),
      /n1/,
    );
  });

  it("stops waiting as soon as the signal aborts", async () => {
    const controller = new AbortController();
    const started = Date.now();
    const waiting = sleep(60_000, controller.signal);
    controller.abort(new Error("stopping"));
    await assert.rejects(
      waiting,
      (err: unknown) => err instanceof AbortedError && err.message === "stopping",
    );
    assert.ok(Date.now() - started < 1000);
    await assert.rejects(
      retry(() => Promise.reject(new Error("down")), {
        initialMs: 60_000,
        maxMs: 60_000,
        signal: AbortSignal.timeout(20),
      }),
      AbortedError,
    );
  });
});
