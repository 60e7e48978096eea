import { readFile } from "node:fs/promises";
import { describe, it, afterEach } from "node:test";
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { migrationsDirOf } from "@flotilla/db";
import {
  AllocateRequestSchema,
  ListAllocationsRequest_StateFilter,
  PoolConfigSchema,
  type AllocateResponse,
} from "@flotilla/proto";
import { eachDatabase, eventually, probeTimerLag } from "@flotilla/testing";
import { createResourceManagerClient, type ResourceManagerClient } from "./client.js";
import { startResourceManager, type RunningResourceManager } from "./start.js";
import type { PoolConfig } from "./allocator/types.js";

const POOL: PoolConfig = {
  resource: "warehouse",
  limit: 2,
  defaultCap: { tokens: 1 },
  allowBorrowing: true,
  defaultTtlMs: 30_000,
};

function ask(
  holder: string,
  project: string,
  extra: Partial<{ tokens: number; ttlSeconds: number; wait: boolean }> = {},
) {
  return create(AllocateRequestSchema, {
    resource: "warehouse",
    tenant: { project, domain: "prod" },
    holder,
    tokens: extra.tokens ?? 1,
    wait: extra.wait ?? true,
    ...(extra.ttlSeconds !== undefined ? { ttl: { seconds: BigInt(extra.ttlSeconds), nanos: 0 } } : {}),
  });
}

function granted(res: AllocateResponse) {
  assert.equal(res.outcome.case, "granted", `expected granted, got ${res.outcome.case}`);
  const lease = res.outcome.value.lease;
  assert.ok(lease);
  return lease;
}

async function rejectsWith(promise: Promise<unknown>, code: Code): Promise<ConnectError> {
  try {
    await promise;
  } catch (err) {
    const e = ConnectError.from(err);
    assert.equal(Code[e.code], Code[code], e.message);
    return e;
  }
  assert.fail(`expected ${Code[code]}`);
}

eachDatabase(
  "resource manager service",
  { migrations: migrationsDirOf(import.meta.url), table: "resource_manager_schema_migrations" },
  (ctx) => {
    const running: RunningResourceManager[] = [];
    afterEach(async () => {
      for (const r of running.splice(0)) await r.stop();
    });

    async function start(
      pools: readonly PoolConfig[] = [POOL],
    ): Promise<{ rm: RunningResourceManager; client: ResourceManagerClient }> {
      const rm = await startResourceManager({
        database: ctx.db(),
        pools,
        electionIntervalMs: 100,
        sweepIntervalMs: 50,
      });
      running.push(rm);
      await eventually(() => assert.equal(rm.role(), "leader"));
      return { rm, client: createResourceManagerClient(rm.url) };
    }

    it("grants, queues with a position, and hands released tokens to the waiter", async () => {
      const { client } = await start();
      const a = granted(await client.allocate(ask("a1", "alpha")));
      assert.equal(a.tokens, 1);
      assert.equal(a.borrowed, false);
      const again = granted(await client.allocate(ask("a1", "alpha")));
      assert.equal(again.leaseId, a.leaseId, "allocate is idempotent per holder");
      const b = granted(await client.allocate(ask("b1", "beta")));
      const queued = await client.allocate(ask("c1", "gamma"));
      assert.equal(queued.outcome.case, "queued");
      assert.equal(queued.outcome.value.position, 1);
      assert.equal(queued.outcome.value.reason, "GlobalLimitReached");
      const refused = await client.allocate(ask("d1", "delta", { wait: false }));
      assert.equal(refused.outcome.case === "rejected" && refused.outcome.value.reason, "GlobalLimitReached");
      const released = await client.release({ leaseId: b.leaseId });
      assert.equal(released.releasedTokens, 1);
      assert.equal((await client.release({ leaseId: b.leaseId })).releasedTokens, 0, "release is idempotent");
      granted(await client.allocate(ask("c1", "gamma")));
      const status = await client.getPoolStatus({ resource: "warehouse" });
      assert.equal(status.inUse, 2);
      assert.equal(status.limit, 2);
      assert.deepEqual(
        status.tenants
          .filter((t) => t.tenant?.domain === "prod")
          .map((t) => [t.tenant?.project, t.inUse, t.cap]),
        [
          ["alpha", 1, 1],
          ["gamma", 1, 1],
        ],
      );
    });

    it("renews by lease id, guards the holder, and reclaims expired leases within TTL + 1 s", async () => {
      const { client } = await start();
      const lease = granted(await client.allocate(ask("h1", "alpha", { ttlSeconds: 1 })));
      const renewed = await client.renew({
        leaseId: lease.leaseId,
        holder: "h1",
        ttl: { seconds: 2n, nanos: 0 },
      });
      assert.ok(Number(renewed.lease?.expiresAt?.seconds) >= Number(lease.expiresAt?.seconds) + 1);
      await rejectsWith(
        client.renew({ leaseId: lease.leaseId, holder: "someone-else" }),
        Code.FailedPrecondition,
      );
      const expiresAt =
        Number(renewed.lease?.expiresAt?.seconds) * 1000 + (renewed.lease?.expiresAt?.nanos ?? 0) / 1e6;
      // Timers of this process and the server's fire late alike on a loaded machine: the bound
      // allows the lateness measured here, so it stays about the sweep, not about the machine.
      const lag = probeTimerLag();
      const freedAt = await eventually(
        async () => {
          const status = await client.getPoolStatus({ resource: "warehouse" });
          assert.equal(status.inUse, 0);
          return Date.now();
        },
        { timeout: 5000, interval: 20 },
      ).finally(() => lag.stop());
      assert.ok(
        freedAt - expiresAt <= 1000 + lag.maxLagMs,
        `freed ${freedAt - expiresAt} ms after expiry (timer lag ${lag.maxLagMs} ms)`,
      );
      await rejectsWith(client.renew({ leaseId: lease.leaseId, holder: "h1" }), Code.NotFound);
    });

    it("maps invalid input and unknown pools to typed errors", async () => {
      const { client } = await start();
      await rejectsWith(client.allocate({ ...ask("h", "alpha"), resource: "nope" }), Code.NotFound);
      await rejectsWith(client.allocate({ ...ask("h", "alpha"), tokens: 0 }), Code.InvalidArgument);
      await rejectsWith(client.allocate({ ...ask("h", "Not_A_Label") }), Code.InvalidArgument);
      await rejectsWith(client.allocate(ask("h", "alpha", { ttlSeconds: 0 })), Code.InvalidArgument);
      granted(await client.allocate(ask("h", "alpha")));
      await rejectsWith(client.allocate(ask("h", "alpha", { tokens: 2 })), Code.AlreadyExists);
      const tooBig = await client.allocate(ask("x", "alpha", { tokens: 3 }));
      assert.equal(tooBig.outcome.case === "rejected" && tooBig.outcome.value.reason, "ExceedsLimit");
      await rejectsWith(client.release({}), Code.InvalidArgument);
    });

    it("configures pools through the API and lists allocations page by page", async () => {
      const { client } = await start([]);
      const created = await client.configurePool({
        pool: create(PoolConfigSchema, {
          resource: "engine",
          limit: 3,
          defaultTtl: { seconds: 60n, nanos: 0 },
          tenantCaps: [
            {
              tenant: { project: "alpha", domain: "" },
              limit: { case: "proportion", value: 0.34 },
              weight: 2,
            },
          ],
          allowBorrowing: false,
        }),
      });
      assert.equal(created.created, true);
      assert.equal(created.pool?.limit, 3);
      await rejectsWith(
        client.configurePool({ pool: create(PoolConfigSchema, { resource: "engine", limit: 3 }) }),
        Code.InvalidArgument,
      );
      for (const holder of ["h1", "h2", "h3", "h4"]) {
        await client.allocate({
          ...ask(holder, holder === "h1" || holder === "h2" ? "alpha" : "beta"),
          resource: "engine",
        });
      }
      const status = await client.getPoolStatus({ resource: "engine" });
      const alpha = status.tenants.find((t) => t.tenant?.project === "alpha" && t.tenant.domain === "");
      assert.equal(alpha?.cap, 1, "34% of 3 rounds down to 1");
      assert.equal(alpha?.inUse, 1);
      assert.equal(status.inUse, 3);
      const seen: string[] = [];
      let pageToken = "";
      do {
        const page = await client.listAllocations({ resource: "engine", pageSize: 3, pageToken });
        seen.push(...page.allocations.map((a) => `${a.holder}:${a.state.case}`));
        pageToken = page.nextPageToken;
      } while (pageToken !== "");
      assert.deepEqual(seen.sort(), ["h1:lease", "h2:queuePosition", "h3:lease", "h4:lease"]);
      const queuedOnly = await client.listAllocations({ state: ListAllocationsRequest_StateFilter.QUEUED });
      assert.deepEqual(
        queuedOnly.allocations.map((a) => a.holder),
        ["h2"],
      );
      const replaced = await client.configurePool({
        pool: create(PoolConfigSchema, {
          resource: "engine",
          limit: 4,
          defaultTtl: { seconds: 60n, nanos: 0 },
        }),
      });
      assert.equal(replaced.created, false);
      const pools = await client.listPools({});
      assert.deepEqual(
        pools.pools.map((p) => [p.pool?.resource, p.inUse]),
        [["engine", 4]],
        "raising the limit granted the waiting request",
      );
    });

    it("keeps leases, ids and queue order across a restart", async () => {
      const first = await start();
      const a = granted(await first.client.allocate(ask("a", "alpha")));
      granted(await first.client.allocate(ask("b", "beta")));
      await first.client.allocate(ask("c", "gamma"));
      await first.client.allocate(ask("d", "delta"));
      await first.rm.stop();
      running.splice(0);
      const second = await start();
      const status = await second.client.getPoolStatus({ resource: "warehouse" });
      assert.equal(status.inUse, 2);
      assert.equal(status.queueLength, 2);
      assert.equal(granted(await second.client.allocate(ask("a", "alpha"))).leaseId, a.leaseId);
      await second.client.release({ resource: "warehouse", holder: "a" });
      granted(await second.client.allocate(ask("c", "gamma")));
      const d = await second.client.allocate(ask("d", "delta"));
      assert.equal(d.outcome.case, "queued");
    });

    it("allocates and releases in batches over the network; an invalid batch stores nothing", async () => {
      const { client, rm } = await start();
      const batch = await client.allocateBatch({
        requests: [ask("a1", "alpha"), ask("b1", "beta"), ask("c1", "gamma")],
      });
      assert.deepEqual(
        batch.results.map((r) =>
          r.result.case === "response" ? r.result.value.outcome.case : r.result.case,
        ),
        ["granted", "granted", "queued"],
      );
      const a1 = granted(batch.results[0]?.result.value as AllocateResponse);
      const grpc = createResourceManagerClient(rm.url, { protocol: "grpc" });
      const again = await grpc.allocateBatch({ requests: [ask("a1", "alpha")] });
      assert.equal(granted(again.results[0]?.result.value as AllocateResponse).leaseId, a1.leaseId);
      const invalid = await rejectsWith(
        client.allocateBatch({ requests: [ask("d1", "delta"), ask("e1", "Not_A_Label")] }),
        Code.InvalidArgument,
      );
      assert.match(invalid.rawMessage, /^requests\[1\]\.tenant\.project: /);
      await rejectsWith(
        grpc.allocateBatch({ requests: Array.from({ length: 1001 }, (_, i) => ask(`h${i}`, "delta")) }),
        Code.InvalidArgument,
      );
      const stored = await client.listAllocations({ resource: "warehouse" });
      assert.deepEqual(stored.allocations.map((a) => a.holder).sort(), ["a1", "b1", "c1"]);
      const released = await client.releaseBatch({
        requests: [{ leaseId: a1.leaseId }, { resource: "warehouse", holder: "b1" }],
      });
      assert.deepEqual(
        released.results.map((r) => r.result.case === "response" && r.result.value.releasedTokens),
        [1, 1],
      );
      granted(await client.allocate(ask("c1", "gamma")));
    });

    it("deletes an unused API pool durably and refuses one in use", async () => {
      const first = await start([]);
      await first.client.configurePool({
        pool: create(PoolConfigSchema, {
          resource: "engine",
          limit: 2,
          defaultTtl: { seconds: 60n, nanos: 0 },
        }),
      });
      const res = await first.client.allocate({ ...ask("h1", "alpha"), resource: "engine" });
      const inUse = await rejectsWith(
        first.client.deletePool({ resource: "engine" }),
        Code.FailedPrecondition,
      );
      assert.match(inUse.rawMessage, /still has 1 lease/);
      await first.client.release({ leaseId: granted(res).leaseId });
      await first.client.deletePool({ resource: "engine" });
      await rejectsWith(first.client.deletePool({ resource: "engine" }), Code.NotFound);
      await first.rm.stop();
      running.splice(0);
      const second = await start([]);
      assert.deepEqual((await second.client.listPools({})).pools, [], "the deletion survived a restart");
    });

    it("serves gRPC, /metrics and /healthz on the same port", async () => {
      const { rm } = await start();
      const grpc = createResourceManagerClient(rm.url, { protocol: "grpc" });
      granted(await grpc.allocate(ask("g1", "alpha")));
      const http1 = createResourceManagerClient(rm.url, { httpVersion: "1.1" });
      granted(await http1.allocate(ask("g2", "beta")));
      const metrics = await (await fetch(`${rm.url}/metrics`)).text();
      assert.match(
        metrics,
        /flotilla_resource_manager_in_use_tokens\{resource="warehouse",project="alpha",domain="prod"\} 1/,
      );
      assert.match(metrics, /flotilla_resource_manager_limit_tokens\{resource="warehouse"\} 2/);
      assert.match(
        metrics,
        /flotilla_resource_manager_grants_total\{resource="warehouse",project="beta",domain="prod"\} 1/,
      );
      assert.match(metrics, /flotilla_resource_manager_queue_wait_seconds_bucket/);
      // Every metric the README documents is exported (dashboards are built from that table).
      const readme = await readFile(
        new URL("../README.md", import.meta.url.replace("/dist/", "/src/")),
        "utf8",
      );
      const documented = [...readme.matchAll(/^\| `(flotilla_resource_manager_[a-z_]+)` +\|/gm)].map(
        (m) => m[1],
      );
      assert.ok(documented.length >= 10, `README documents ${documented.length} metrics`);
      for (const name of documented)
        assert.match(metrics, new RegExp(`^# TYPE ${name} `, "m"), `${name} is exported`);
      const health = await fetch(`${rm.url}/healthz`);
      assert.equal(health.status, 200);
      assert.equal(((await health.json()) as { role: string }).role, "leader");
      assert.equal((await fetch(`${rm.url}/readyz`)).status, 200);
    });
  },
);

describe("resource manager client", () => {
  it("requires at least one URL", () => {
    assert.throws(() => createResourceManagerClient([]), TypeError);
  });
});
