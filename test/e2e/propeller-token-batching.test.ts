/**
 * The propeller's token broker against a real resource manager (in-process, PGlite, port 0):
 * concurrent acquires and releases coalesce into AllocateBatch / ReleaseBatch, and each caller
 * gets exactly what its unary call would have answered.
 */
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { after, before, test } from "node:test";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import {
  createResourceManagerBroker,
  PropellerMetrics,
  type TokenBroker,
  type TokenOutcome,
} from "@flotilla/propeller";
import {
  createResourceManagerClient,
  startResourceManager,
  type RunningResourceManager,
} from "@flotilla/resource-manager";

const tenant = { project: "flytesnacks", domain: "development" };
let rm: RunningResourceManager;

before(async () => {
  rm = await startResourceManager({
    pools: ["granted-queued", "unknown", "dead", "invalid", "release"].map((resource) => ({
      resource,
      limit: resource === "granted-queued" ? 3 : 4,
      defaultTtlMs: 30_000,
    })),
  });
});
after(() => rm.stop());

/** A broker on its own transport, recording the method name of every RPC it sends. */
function countingBroker(options: { url?: string; batch?: false } = {}) {
  const calls: string[] = [];
  const counter: Interceptor = (next) => (req) => {
    calls.push(req.method.name);
    return next(req);
  };
  const transport = createConnectTransport({
    baseUrl: options.url ?? rm.url,
    httpVersion: "1.1",
    interceptors: [counter],
  });
  const metrics = new PropellerMetrics("batching");
  const broker: TokenBroker = createResourceManagerBroker(transport, {
    ttlMs: 30_000,
    metrics,
    timeoutMs: 5_000,
    ...(options.batch === false ? { batch: false as const } : {}),
  });
  const counted = async (resource: string) =>
    Object.fromEntries(
      (await metrics.tokenRequests.get()).values
        .filter((v) => v.labels.resource === resource)
        .map((v) => [v.labels.outcome, v.value]),
    );
  return { broker, calls, counted };
}

const acquire = (broker: TokenBroker, resource: string, holder: string, tokens = 1) =>
  broker.acquire({ resource, tokens, tenant, holder });

/** The outcome with what a caller can compare across calls (expiry times drift on repeats). */
const comparable = (o: TokenOutcome) =>
  o.outcome === "granted" ? { outcome: o.outcome, leaseId: o.leaseId } : o;

/** A URL where nothing listens (a port just closed). */
async function deadUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  assert.ok(address && typeof address === "object");
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${address.port}`;
}

test("concurrent acquires go out as one AllocateBatch and each caller gets its own grant or queue position", async () => {
  const { broker, calls, counted } = countingBroker();
  const holders = Array.from({ length: 8 }, (_, i) => `flytesnacks/development/gq/n${i}/0`);
  const outcomes = await Promise.all(holders.map((h) => acquire(broker, "granted-queued", h)));

  assert.deepEqual(calls, ["AllocateBatch"], "8 acquires, one RPC");
  assert.deepEqual(
    outcomes.map((o) => o.outcome),
    ["granted", "granted", "granted", "queued", "queued", "queued", "queued", "queued"],
  );
  assert.deepEqual(
    outcomes.slice(3).map((o) => (o.outcome === "queued" ? o.position : -1)),
    [1, 2, 3, 4, 5],
  );
  const leaseIds = outcomes.flatMap((o) => (o.outcome === "granted" ? [o.leaseId] : []));
  assert.equal(new Set(leaseIds).size, 3, "three distinct leases");
  assert.deepEqual(await counted("granted-queued"), { granted: 3, queued: 5 });

  // Allocate is idempotent per holder: each holder's own unary answer is what its caller got.
  const unary = countingBroker({ batch: false });
  for (const [i, h] of holders.entries()) {
    const again = await acquire(unary.broker, "granted-queued", h);
    assert.deepEqual(comparable(again), comparable(outcomes[i]), `holder ${h}`);
  }
  assert.equal(unary.calls.length, 8);
  assert.ok(unary.calls.every((m) => m === "Allocate"));
});

test("a per-item failure reaches only its caller, mapped as the unary call maps it", async () => {
  const { broker: unary } = countingBroker({ batch: false });
  const unknownUnary = await acquire(unary, "no-such-pool", "flytesnacks/development/u/x/0");
  assert.equal(unknownUnary.outcome, "rejected");
  await acquire(unary, "unknown", "flytesnacks/development/u/conflict/0", 1);
  const conflictUnary = await acquire(unary, "unknown", "flytesnacks/development/u/conflict/0", 2).then(
    () => assert.fail("a holder asking for other tokens fails"),
    (err: unknown) => err,
  );
  assert.ok(conflictUnary instanceof ConnectError);
  assert.equal(conflictUnary.code, Code.AlreadyExists);

  const { broker, calls, counted } = countingBroker();
  const [a, unknown, b, conflict] = await Promise.allSettled([
    acquire(broker, "unknown", "flytesnacks/development/u/a/0"),
    acquire(broker, "no-such-pool", "flytesnacks/development/u/x/0"),
    acquire(broker, "unknown", "flytesnacks/development/u/b/0"),
    acquire(broker, "unknown", "flytesnacks/development/u/conflict/0", 2),
  ]);
  assert.deepEqual(calls, ["AllocateBatch"]);
  assert.equal(a.status === "fulfilled" && a.value.outcome, "granted");
  assert.equal(b.status === "fulfilled" && b.value.outcome, "granted");
  assert.equal(unknown.status, "fulfilled");
  assert.deepEqual(unknown.value, unknownUnary);
  assert.deepEqual(unknown.value, {
    outcome: "rejected",
    reason: "UnknownResource",
    message: (unknownUnary as { message: string }).message,
  });
  assert.equal(conflict.status, "rejected");
  assert.ok(conflict.reason instanceof ConnectError);
  assert.equal(conflict.reason.code, conflictUnary.code);
  assert.equal(conflict.reason.rawMessage, conflictUnary.rawMessage);
  assert.deepEqual(await counted("unknown"), { granted: 2, error: 1 });
  assert.deepEqual(await counted("no-such-pool"), { rejected: 1 });
});

test("a transport failure fails every caller of the batch as the unary call would", async () => {
  const url = await deadUrl();
  const { broker: unary } = countingBroker({ url, batch: false });
  const unaryErr = await acquire(unary, "dead", "flytesnacks/development/d/n0/0").then(
    () => assert.fail("nothing listens"),
    (err: unknown) => err,
  );
  assert.ok(unaryErr instanceof ConnectError);

  const { broker, calls, counted } = countingBroker({ url });
  const results = await Promise.allSettled(
    [0, 1, 2, 3].map((i) => acquire(broker, "dead", `flytesnacks/development/d/n${i}/0`)),
  );
  assert.deepEqual(calls, ["AllocateBatch"]);
  for (const r of results) {
    assert.equal(r.status, "rejected");
    assert.ok(r.reason instanceof ConnectError);
    assert.equal(r.reason.code, unaryErr.code);
  }
  assert.deepEqual(await counted("dead"), { error: 4 });
});

test("one caller's invalid request does not poison the batch: it alone gets InvalidArgument", async () => {
  const { broker, calls } = countingBroker();
  const [bad, ...good] = await Promise.allSettled([
    broker.acquire({
      resource: "invalid",
      tokens: 1,
      tenant: { project: "Not_A_Label", domain: "" },
      holder: "x/y/z",
    }),
    acquire(broker, "invalid", "flytesnacks/development/i/n1/0"),
    acquire(broker, "invalid", "flytesnacks/development/i/n2/0"),
  ]);
  assert.equal(bad.status, "rejected");
  assert.ok(bad.reason instanceof ConnectError);
  assert.equal(bad.reason.code, Code.InvalidArgument);
  assert.match(bad.reason.rawMessage, /tenant\.project/);
  assert.deepEqual(
    good.map((g) => g.status === "fulfilled" && g.value.outcome),
    ["granted", "granted"],
  );
  assert.deepEqual(
    calls,
    ["AllocateBatch", "Allocate", "Allocate", "Allocate"],
    "refused batch re-sent unary",
  );
});

test("concurrent releases go out as one ReleaseBatch and free the tokens", async () => {
  const { broker, calls } = countingBroker();
  const holders = Array.from({ length: 5 }, (_, i) => `flytesnacks/development/r/n${i}/0`);
  const outcomes = await Promise.all(holders.map((h) => acquire(broker, "release", h)));
  assert.deepEqual(
    outcomes.map((o) => o.outcome),
    ["granted", "granted", "granted", "granted", "queued"],
  );
  const status = createResourceManagerClient(rm.url);
  const held = await status.getPoolStatus({ resource: "release" });
  assert.deepEqual([held.inUse, held.queueLength], [4, 1]);

  calls.length = 0;
  await Promise.all(
    outcomes.map((o, i) =>
      broker.release({
        resource: "release",
        holder: holders[i],
        ...(o.outcome === "granted" ? { leaseId: o.leaseId } : {}),
      }),
    ),
  );
  assert.deepEqual(calls, ["ReleaseBatch"], "5 releases (9 items), one RPC");
  const released = await status.getPoolStatus({ resource: "release" });
  assert.equal(released.inUse, 0, "every lease returned");
  assert.equal(released.queueLength, 0, "the queued request cancelled");
  // Released holders start afresh: the former queued one is granted at once.
  assert.equal((await acquire(broker, "release", holders[4])).outcome, "granted");
});
