import assert from "node:assert/strict";
import { test } from "node:test";
import { createMicroBatcher } from "./micro-batcher.js";

/** A batcher whose `send` records each batch and answers `item * 10`, failing batches containing `failOn`. */
function recordingBatcher(options: { maxItems?: number; windowMs?: number; failOn?: number } = {}) {
  const sent: number[][] = [];
  const load = createMicroBatcher<number, number>({
    windowMs: options.windowMs ?? 0,
    maxItems: options.maxItems ?? 1000,
    keyOf: (n) => String(n),
    send: async (items) => {
      sent.push([...items]);
      if (options.failOn !== undefined && items.includes(options.failOn)) throw new Error(`batch ${items}`);
      return items.map((n) => n * 10);
    },
  });
  return { sent, load };
}

test("calls of the same turn share one send and each gets its own item's result", async () => {
  const { sent, load } = recordingBatcher();
  const results = await Promise.all([1, 2, 3, 4].map(load));
  assert.deepEqual(results, [10, 20, 30, 40]);
  assert.deepEqual(sent, [[1, 2, 3, 4]]);
});

test("calls within the window share a send; later calls open a new batch", async () => {
  const { sent, load } = recordingBatcher({ windowMs: 5 });
  const first = load(1);
  await Promise.resolve();
  const second = load(2);
  assert.deepEqual(await Promise.all([first, second]), [10, 20]);
  assert.deepEqual(await load(3), 30);
  assert.deepEqual(sent, [[1, 2], [3]]);
});

test("a batch is split at maxItems", async () => {
  const { sent, load } = recordingBatcher({ maxItems: 2 });
  assert.deepEqual(await Promise.all([1, 2, 3, 4, 5].map(load)), [10, 20, 30, 40, 50]);
  assert.deepEqual(sent, [[1, 2], [3, 4], [5]]);
});

test("an item whose key the open batch holds goes to another batch", async () => {
  const { sent, load } = recordingBatcher();
  assert.deepEqual(await Promise.all([1, 2, 1, 3, 1].map(load)), [10, 20, 10, 30, 10]);
  assert.deepEqual(sent, [[1, 2, 3], [1], [1]]);
});

test("a failed send fails every caller of that batch and no other", async () => {
  const { sent, load } = recordingBatcher({ failOn: 7, maxItems: 2 });
  const results = await Promise.allSettled([5, 7, 6, 8].map(load));
  assert.deepEqual(sent, [
    [5, 7],
    [6, 8],
  ]);
  assert.deepEqual(
    results.map((r) => (r.status === "rejected" ? (r.reason as Error).message : r.value)),
    ["batch 5,7", "batch 5,7", 60, 80],
  );
});

test("invalid tunables are refused", () => {
  const send = async (items: number[]) => items;
  assert.throws(() => createMicroBatcher({ windowMs: 0, maxItems: 0, keyOf: String, send }), RangeError);
  assert.throws(() => createMicroBatcher({ windowMs: -1, maxItems: 1, keyOf: String, send }), RangeError);
});
