import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import {
  AllocateRequestSchema,
  ResourceManagerService,
  TenantScope,
  ValidationErrorSchema,
  type AllocateBatchResult,
  type AllocateRequest,
  type Lease,
} from "@flotilla/proto";
import type { HolderRecord, PoolConfig } from "../allocator/types.js";
import { MAX_BATCH_SIZE, ResourceManager } from "../manager/resource-manager.js";
import type { StateRepository, StoredPool } from "../repository/state-repository.js";
import { createResourceManagerServiceImpl } from "./resource-manager-service.js";

const POOL: PoolConfig = {
  resource: "warehouse",
  limit: 3,
  defaultCap: { tokens: 2 },
  allowBorrowing: false,
  defaultTtlMs: 30_000,
};

/** A StateRepository in memory that records every write, so tests can see what was stored. */
class MemoryRepository implements StateRepository {
  readonly pools = new Map<string, StoredPool>();
  readonly holders = new Map<string, HolderRecord>();
  writes = 0;
  private epoch = 0;
  async claimLeadership(): Promise<number> {
    return ++this.epoch;
  }
  async currentLeader() {
    return { epoch: this.epoch, instance: "memory", url: "http://memory.invalid" };
  }
  async loadPools(): Promise<StoredPool[]> {
    return [...this.pools.values()];
  }
  async loadHolders(): Promise<HolderRecord[]> {
    return [...this.holders.values()];
  }
  async applyChanges(_epoch: number, changes: ReadonlyMap<string, HolderRecord | null>): Promise<void> {
    this.writes++;
    for (const [key, record] of changes) {
      if (record === null) this.holders.delete(key);
      else this.holders.set(key, record);
    }
  }
  async savePool(_epoch: number, config: PoolConfig, source: "config" | "api"): Promise<void> {
    this.pools.set(config.resource, { config, source });
  }
  async deletePool(_epoch: number, resource: string): Promise<void> {
    this.pools.delete(resource);
  }
}

async function setup(options: { configPools?: PoolConfig[]; apiPools?: PoolConfig[] } = {}) {
  const repository = new MemoryRepository();
  for (const config of options.apiPools ?? [POOL])
    repository.pools.set(config.resource, { config, source: "api" });
  const manager = new ResourceManager({
    repository,
    configPools: options.configPools ?? [],
    instance: "test",
    advertiseUrl: "http://test.invalid",
  });
  await manager.activate();
  const client = createClient(
    ResourceManagerService,
    createRouterTransport(({ service }) =>
      service(ResourceManagerService, createResourceManagerServiceImpl(manager)),
    ),
  );
  return { client, repository, manager };
}

function ask(
  holder: string,
  project: string,
  extra: {
    resource?: string;
    tenant?: { project: string; domain: string };
    tokens?: number;
    wait?: boolean;
    ttl?: { seconds: bigint; nanos: number };
  } = {},
): AllocateRequest {
  return create(AllocateRequestSchema, {
    resource: "warehouse",
    tenant: { project, domain: "prod" },
    holder,
    tokens: 1,
    wait: true,
    ...extra,
  });
}

function leaseOf(result: AllocateBatchResult | undefined): Lease {
  assert.equal(result?.result.case, "response", `expected a response, got ${result?.result.case}`);
  const outcome = result.result.value.outcome;
  assert.equal(outcome.case, "granted", `expected granted, got ${outcome.case}`);
  assert.ok(outcome.value.lease);
  return outcome.value.lease;
}

/** Asserts an InvalidArgument whose ValidationError detail names `field`. */
async function rejectsInvalid(promise: Promise<unknown>, field: string): Promise<void> {
  const err = await promise.then(
    () => assert.fail(`expected InvalidArgument naming ${field}`),
    (e: unknown) => ConnectError.from(e),
  );
  assert.equal(Code[err.code], Code[Code.InvalidArgument], err.message);
  assert.match(err.rawMessage, new RegExp(`^${field.replace(/[[\].]/g, "\\$&")}: `));
  const violations = err.findDetails(ValidationErrorSchema).flatMap((d) => d.violations);
  assert.deepEqual(
    violations.map((v) => v.field),
    [field],
  );
}

describe("ResourceManagerService batch RPCs (router transport)", () => {
  it("decides every item on its own, in order, and answers once all are durable", async () => {
    const { client, repository } = await setup();
    const writesBefore = repository.writes;
    const res = await client.allocateBatch({
      requests: [
        ask("a1", "alpha"),
        ask("a2", "alpha"),
        ask("a3", "alpha"), // alpha's cap is 2 and borrowing is off: queued
        ask("b1", "beta", { wait: false }),
        ask("b2", "beta", { wait: false }), // the limit of 3 is reached: rejected
        ask("x", "beta", { resource: "nope" }), // unknown pool: this item fails, the rest stand
        ask("big", "beta", { tokens: 3 }), // more than beta's cap without borrowing: rejected
      ],
    });
    assert.equal(res.results.length, 7);
    const [a1, a2, a3, b1, b2, unknown, big] = res.results;
    leaseOf(a1);
    leaseOf(a2);
    leaseOf(b1);
    assert.equal(a3?.result.case === "response" && a3.result.value.outcome.case, "queued");
    const rejected = b2?.result.case === "response" ? b2.result.value.outcome : undefined;
    assert.equal(rejected?.case === "rejected" && rejected.value.reason, "GlobalLimitReached");
    assert.equal(unknown?.result.case, "error");
    assert.deepEqual(
      unknown.result.case === "error" && [unknown.result.value.code, unknown.result.value.reason],
      [Code.NotFound, "PoolNotFound"],
    );
    const tooBig = big?.result.case === "response" ? big.result.value.outcome : undefined;
    assert.equal(tooBig?.case === "rejected" && tooBig.value.reason, "ExceedsTenantCap");
    assert.equal(repository.writes, writesBefore + 1, "one durable write for the whole batch");
    assert.deepEqual([...repository.holders.values()].map((h) => `${h.holder}:${h.state}`).sort(), [
      "a1:granted",
      "a2:granted",
      "a3:queued",
      "b1:granted",
    ]);
  });

  it("is idempotent per holder and reports holder conflicts per item", async () => {
    const { client } = await setup();
    const first = await client.allocateBatch({ requests: [ask("a1", "alpha"), ask("b1", "beta")] });
    const again = await client.allocateBatch({
      requests: [ask("a1", "alpha"), ask("b1", "beta", { tokens: 2 })],
    });
    assert.equal(leaseOf(again.results[0]).leaseId, leaseOf(first.results[0]).leaseId);
    const conflict = again.results[1];
    assert.equal(conflict?.result.case, "error");
    assert.deepEqual(
      conflict.result.case === "error" && [conflict.result.value.code, conflict.result.value.reason],
      [Code.AlreadyExists, "HolderConflict"],
    );
  });

  it("releases by lease id or by holder, idempotently, and hands freed tokens to waiters", async () => {
    const { client } = await setup();
    const granted = await client.allocateBatch({
      requests: [ask("a1", "alpha"), ask("a2", "alpha"), ask("b1", "beta"), ask("q1", "beta")],
    });
    const q1 = granted.results[3];
    assert.equal(q1?.result.case === "response" && q1.result.value.outcome.case, "queued");
    const a1 = leaseOf(granted.results[0]);
    const released = await client.releaseBatch({
      requests: [
        { leaseId: a1.leaseId },
        { resource: "warehouse", holder: "a2" },
        { leaseId: "no-such-lease" },
        { resource: "nope", holder: "x" },
      ],
    });
    assert.deepEqual(
      released.results.map((r) =>
        r.result.case === "response"
          ? `released ${r.result.value.releasedTokens}`
          : `${Code[r.result.value?.code ?? 0]} ${r.result.value?.reason}`,
      ),
      ["released 1", "released 1", "released 0", `${Code[Code.NotFound]} PoolNotFound`],
    );
    const repeat = await client.releaseBatch({ requests: [{ leaseId: a1.leaseId }] });
    assert.equal(
      repeat.results[0]?.result.case === "response" && repeat.results[0].result.value.releasedTokens,
      0,
    );
    const polled = await client.allocateBatch({ requests: [ask("q1", "beta")] });
    leaseOf(polled.results[0]);
  });

  it("rejects invalid batches as a whole, naming the item and field, and stores nothing", async () => {
    const { client, repository } = await setup();
    const writesBefore = repository.writes;
    await rejectsInvalid(client.allocateBatch({ requests: [] }), "requests");
    await rejectsInvalid(
      client.allocateBatch({
        requests: Array.from({ length: MAX_BATCH_SIZE + 1 }, (_, i) => ask(`h${i}`, "alpha")),
      }),
      "requests",
    );
    await rejectsInvalid(
      client.allocateBatch({
        requests: [ask("ok-1", "alpha"), ask("ok-2", "alpha"), ask("bad", "Not_A_Label")],
      }),
      "requests[2].tenant.project",
    );
    await rejectsInvalid(
      client.allocateBatch({
        requests: [ask("ok-1", "alpha"), { ...ask("bad", "alpha"), tenant: undefined }],
      }),
      "requests[1].tenant",
    );
    await rejectsInvalid(
      client.allocateBatch({ requests: [ask("ok-1", "alpha"), ask("no-tokens", "alpha", { tokens: 0 })] }),
      "requests[1].tokens",
    );
    await rejectsInvalid(
      client.allocateBatch({
        requests: [ask("ok-1", "alpha"), ask("short", "alpha", { ttl: { seconds: 0n, nanos: 5 } })],
      }),
      "requests[1].ttl",
    );
    await rejectsInvalid(
      client.allocateBatch({
        requests: [ask("ok-1", "alpha"), ask("twice", "alpha"), ask("twice", "alpha")],
      }),
      "requests[2]",
    );
    await rejectsInvalid(client.releaseBatch({ requests: [] }), "requests");
    await rejectsInvalid(
      client.releaseBatch({ requests: [{ leaseId: "x" }, { resource: "warehouse" }] }),
      "requests[1].lease_id",
    );
    assert.equal(repository.writes, writesBefore, "no invalid batch wrote anything");
    assert.equal(repository.holders.size, 0);
    const status = await client.getPoolStatus({ resource: "warehouse" });
    assert.equal(status.inUse, 0);
    assert.equal(status.queueLength, 0);
  });

  it("names proto fields in unary InvalidArgument errors too", async () => {
    const { client } = await setup();
    await rejectsInvalid(
      client.allocate(ask("h", "alpha", { tenant: { project: "alpha", domain: "Bad_Domain" } })),
      "tenant.domain",
    );
  });

  it("marks project rows and project/domain rows in pool status", async () => {
    const { client } = await setup();
    await client.allocateBatch({ requests: [ask("a1", "alpha")] });
    const status = await client.getPoolStatus({ resource: "warehouse" });
    assert.deepEqual(
      status.tenants.map((t) => [t.tenant?.project, t.tenant?.domain, TenantScope[t.scope], t.inUse]),
      [
        ["alpha", "", "PROJECT", 1],
        ["alpha", "prod", "DOMAIN", 1],
      ],
    );
  });
});

describe("ResourceManagerService DeletePool (router transport)", () => {
  it("refuses while leases or queued requests are live, then deletes", async () => {
    const { client, repository } = await setup();
    const res = await client.allocateBatch({ requests: [ask("a1", "alpha")] });
    const lease = leaseOf(res.results[0]);
    const inUse = await client.deletePool({ resource: "warehouse" }).then(
      () => assert.fail("expected FailedPrecondition"),
      (e: unknown) => ConnectError.from(e),
    );
    assert.equal(Code[inUse.code], Code[Code.FailedPrecondition]);
    assert.match(inUse.rawMessage, /1 lease/);
    assert.ok(repository.pools.has("warehouse"), "a refused delete keeps the pool");
    await client.release({ leaseId: lease.leaseId });
    await client.deletePool({ resource: "warehouse" });
    assert.equal(repository.pools.has("warehouse"), false);
    const gone = await client.getPoolStatus({ resource: "warehouse" }).then(
      () => assert.fail("expected NotFound"),
      (e: unknown) => ConnectError.from(e),
    );
    assert.equal(Code[gone.code], Code[Code.NotFound]);
    const again = await client.deletePool({ resource: "warehouse" }).then(
      () => assert.fail("expected NotFound"),
      (e: unknown) => ConnectError.from(e),
    );
    assert.equal(Code[again.code], Code[Code.NotFound]);
  });

  it("refuses pools of the configuration file", async () => {
    const { client } = await setup({ configPools: [POOL], apiPools: [] });
    const err = await client.deletePool({ resource: "warehouse" }).then(
      () => assert.fail("expected FailedPrecondition"),
      (e: unknown) => ConnectError.from(e),
    );
    assert.equal(Code[err.code], Code[Code.FailedPrecondition]);
    assert.match(err.rawMessage, /configuration file/);
    assert.equal((await client.getPoolStatus({ resource: "warehouse" })).limit, POOL.limit);
  });
});
