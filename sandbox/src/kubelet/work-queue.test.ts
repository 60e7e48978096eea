import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { LatestWinsWriter, RequestPool } from "./work-queue.js";

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe("RequestPool", () => {
  it("never runs more than its limit at once, in FIFO order", async () => {
    const pool = new RequestPool(2);
    let active = 0;
    let peak = 0;
    const order: number[] = [];
    await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        pool.run(async () => {
          active++;
          peak = Math.max(peak, active);
          order.push(i);
          await new Promise((r) => setImmediate(r));
          active--;
        }),
      ),
    );
    assert.equal(peak, 2);
    assert.deepEqual(order, [0, 1, 2, 3, 4, 5]);
  });

  it("frees the slot when a job fails", async () => {
    const pool = new RequestPool(1);
    await assert.rejects(
      pool.run(() => Promise.reject(new Error("boom"))),
      /boom/,
    );
    assert.equal(await pool.run(() => Promise.resolve(7)), 7);
  });
});

describe("LatestWinsWriter", () => {
  it("runs only the newest of the writes queued behind an in-flight one, and resolves every caller", async () => {
    const errors: unknown[] = [];
    const writer = new LatestWinsWriter((_k, e) => errors.push(e));
    const ran: string[] = [];
    const gate = deferred();
    const first = writer.submit("pod", async () => {
      ran.push("first");
      await gate.promise;
    });
    const second = writer.submit("pod", async () => void ran.push("second"));
    const third = writer.submit("pod", async () => void ran.push("third"));
    const other = writer.submit("other", async () => void ran.push("other"));
    await other;
    gate.resolve();
    await Promise.all([first, second, third]);
    assert.deepEqual(ran, ["first", "other", "third"]);
    assert.deepEqual(errors, []);
  });

  it("reports failures and keeps going", async () => {
    const errors: unknown[] = [];
    const writer = new LatestWinsWriter((key, e) => errors.push([key, (e as Error).message]));
    await writer.submit("pod", () => Promise.reject(new Error("conflict")));
    let ran = false;
    await writer.submit("pod", async () => void (ran = true));
    await writer.idle("pod");
    assert.equal(ran, true);
    assert.deepEqual(errors, [["pod", "conflict"]]);
  });
});
