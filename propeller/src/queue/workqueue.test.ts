import assert from "node:assert/strict";
import { test } from "node:test";
import { eventually } from "@flotilla/testing";
import { QueueShutDownError, createWorkQueue } from "./workqueue.js";

test("a key queued twice is handed out once", async () => {
  const q = createWorkQueue();
  q.add("a");
  q.add("a");
  q.add("b");
  assert.equal(q.depth(), 2);
  assert.equal(await q.get(), "a");
  assert.equal(await q.get(), "b");
  assert.equal(q.depth(), 0);
  q.shutDown();
});

test("a key re-added while processing is parked and queued again after done", async () => {
  const q = createWorkQueue();
  q.add("a");
  const key = await q.get();
  q.add("a");
  assert.equal(q.depth(), 0, "not handed to a second worker while in flight");
  q.done(key);
  assert.equal(q.depth(), 1);
  assert.equal(await q.get(), "a");
  q.shutDown();
});

test("a waiting get receives the next add", async () => {
  const q = createWorkQueue();
  const pending = q.get();
  q.add("x");
  assert.equal(await pending, "x");
  assert.equal(q.processing(), 1);
  q.shutDown();
});

test("rate-limited re-adds back off exponentially and forget resets the backoff", async () => {
  const q = createWorkQueue({ baseDelayMs: 20, maxDelayMs: 1000 });
  const started = Date.now();
  q.addRateLimited("k");
  q.addRateLimited("k");
  assert.equal(q.retries("k"), 2);
  assert.equal(q.depth(), 0, "not queued before its delay");
  assert.equal(await q.get(), "k");
  const waited = Date.now() - started;
  assert.ok(waited >= 19, `waited for the first backoff (${waited} ms)`);
  q.forget("k");
  assert.equal(q.retries("k"), 0);
  q.shutDown();
});

test("delayed adds fire in due order and the earliest delay of a key wins", async () => {
  const q = createWorkQueue();
  q.addAfter("late", 80);
  q.addAfter("soon", 10);
  q.addAfter("late", 500);
  assert.equal(q.delayed(), 2);
  assert.equal(await q.get(), "soon");
  assert.equal(await q.get(), "late");
  await eventually(() => assert.equal(q.delayed(), 0));
  q.shutDown();
});

test("shutdown rejects waiting and later gets", async () => {
  const q = createWorkQueue();
  const pending = q.get();
  q.shutDown();
  await assert.rejects(pending, QueueShutDownError);
  await assert.rejects(q.get(), QueueShutDownError);
});

test("metrics hooks see adds, retries and depth", async () => {
  let adds = 0;
  let retries = 0;
  let depth = -1;
  const q = createWorkQueue({
    baseDelayMs: 1,
    metrics: { onAdd: () => adds++, onRetry: () => retries++, onDepth: (d) => (depth = d) },
  });
  q.add("a");
  q.add("a");
  q.addRateLimited("b");
  assert.equal(adds, 3);
  assert.equal(retries, 1);
  assert.equal(depth, 1);
  await q.get();
  assert.equal(depth, 0);
  q.shutDown();
});
