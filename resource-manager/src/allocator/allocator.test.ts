import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { Allocator, effectiveCap } from "./allocator.js";
import {
  HolderConflictError,
  InvalidArgumentError,
  LeaseNotFoundError,
  PoolInUseError,
  PoolNotFoundError,
} from "./errors.js";
import type { AllocateRequest, Lease, PoolConfig } from "./types.js";

const TTL = 10_000;

function request(holder: string, project: string, domain = "prod", tokens = 1, ttlMs = TTL): AllocateRequest {
  return { resource: "warehouse", project, domain, holder, tokens, ttlMs };
}

function pool(limit: number, cap?: number, projects: string[] = []): PoolConfig {
  return {
    resource: "warehouse",
    limit,
    tenants: projects.map((project) => ({ project, ...(cap === undefined ? {} : { cap: { tokens: cap } }) })),
    ...(cap === undefined ? {} : { defaultCap: { tokens: cap } }),
  };
}

/**
 * Independent check of the grant rules, run from inside the allocator's onGrant callback with
 * only public snapshots: the limit is never exceeded, and a grant that leaves a tenant above a cap
 * happens only when no other tenant's waiting head could be served within its caps.
 */
function observedAllocator(violations: string[]): Allocator {
  const allocator: Allocator = new Allocator({
    observer: { onGrant: (lease) => checkGrant(allocator, lease, violations) },
  });
  return allocator;
}

function checkGrant(allocator: Allocator, lease: Lease, violations: string[]): void {
  {
    const snap = allocator.getPool(lease.resource);
    if (snap.inUse > snap.limit) violations.push(`in use ${snap.inUse} > limit ${snap.limit}`);
    const project = snap.tenants.find((t) => t.project === lease.project && t.domain === "");
    const leaf = snap.tenants.find((t) => t.project === lease.project && t.domain === lease.domain);
    assert.ok(project && leaf);
    if (project.inUse <= project.cap && leaf.inUse <= leaf.cap) return;
    if (snap.config.allowBorrowing === false) {
      violations.push(`${lease.project}/${lease.domain} exceeded its cap in a pool without borrowing`);
    }
    if (!lease.borrowed) violations.push(`grant beyond cap not flagged as borrowed`);
    for (const waiting of allocator.listQueued(lease.resource)) {
      if (waiting.project === lease.project && waiting.domain === lease.domain) continue;
      const wp = snap.tenants.find((t) => t.project === waiting.project && t.domain === "");
      const wl = snap.tenants.find((t) => t.project === waiting.project && t.domain === waiting.domain);
      assert.ok(wp && wl);
      const head = allocator
        .listQueued(lease.resource)
        .find((q) => q.project === waiting.project && q.domain === waiting.domain);
      if (head?.holder !== waiting.holder) continue;
      if (wl.inUse + waiting.tokens <= wl.cap && wp.inUse + waiting.tokens <= wp.cap) {
        violations.push(
          `${lease.project}/${lease.domain} borrowed (${leaf.inUse}/${leaf.cap}, project ${project.inUse}/${project.cap}) ` +
            `while ${waiting.project}/${waiting.domain} could be served within its cap`,
        );
      }
    }
  }
}

describe("Allocator basics", () => {
  it("grants up to the limit, then queues with per-tenant positions", () => {
    const a = new Allocator();
    a.upsertPool(pool(2), 0);
    assert.equal(a.allocate(request("h1", "p1"), 0).status, "granted");
    assert.equal(a.allocate(request("h2", "p1"), 0).status, "granted");
    const q1 = a.allocate(request("h3", "p1"), 0);
    const q2 = a.allocate(request("h4", "p1"), 0);
    const q3 = a.allocate(request("h5", "p2"), 0);
    assert.equal(q1.status, "queued");
    assert.deepEqual(
      [q1, q2, q3].map((o) => (o.status === "queued" ? o.position : -1)),
      [1, 2, 1],
    );
    assert.equal(a.getPool("warehouse").inUse, 2);
  });

  it("is idempotent per holder and renews on re-allocate", () => {
    const a = new Allocator();
    a.upsertPool(pool(5), 0);
    const first = a.allocate(request("h1", "p1", "prod", 2), 0);
    const again = a.allocate(request("h1", "p1", "prod", 2), 500);
    assert.equal(first.status, "granted");
    assert.equal(again.status, "granted");
    assert.equal(a.getPool("warehouse").inUse, 2);
    assert.equal(again.status === "granted" && again.lease.expiresAt, 500 + TTL);
    assert.throws(() => a.allocate(request("h1", "p1", "prod", 3), 0), HolderConflictError);
    assert.throws(() => a.allocate(request("h1", "p2", "prod", 2), 0), HolderConflictError);
  });

  it("releases explicitly and hands the token to the next waiter", () => {
    const a = new Allocator();
    a.upsertPool(pool(1), 0);
    a.allocate(request("h1", "p1"), 0);
    a.allocate(request("h2", "p2"), 0);
    assert.equal(a.release("warehouse", "h1", 1), "lease");
    assert.equal(a.release("warehouse", "h1", 1), "none");
    assert.equal(a.getLease("warehouse", "h2")?.grantedAt, 1);
  });

  it("reclaims expired leases and drops unpolled queued requests", () => {
    const a = new Allocator();
    a.upsertPool(pool(1), 0);
    a.allocate(request("h1", "p1", "prod", 1, 100), 0);
    a.allocate(request("h2", "p2", "prod", 1, 50), 0);
    a.allocate(request("h3", "p3", "prod", 1, 1000), 0);
    const first = a.expire(60);
    assert.deepEqual(
      first.queued.map((q) => q.holder),
      ["h2"],
    );
    assert.equal(first.leases.length, 0);
    const second = a.expire(100);
    assert.deepEqual(
      second.leases.map((l) => l.holder),
      ["h1"],
    );
    assert.equal(a.getLease("warehouse", "h3")?.expiresAt, 1100);
    assert.throws(() => a.renew("warehouse", "h1", 100), LeaseNotFoundError);
    assert.equal(a.renew("warehouse", "h3", 200, 1000).expiresAt, 1200);
    assert.equal(a.renew("warehouse", "h3", 300).expiresAt, 300 + 60_000, "the pool default TTL applies");
  });

  it("rejects invalid input with typed errors", () => {
    const a = new Allocator();
    assert.throws(() => a.allocate(request("h", "p"), 0), PoolNotFoundError);
    a.upsertPool(pool(3), 0);
    const tooBig = a.allocate(request("h", "p", "prod", 4), 0);
    assert.equal(tooBig.status === "rejected" && tooBig.reason, "ExceedsLimit");
    assert.throws(() => a.allocate(request("h", "p", "prod", 0), 0), InvalidArgumentError);
    assert.throws(() => a.allocate(request("h", "p", "prod", 1, 0), 0), InvalidArgumentError);
    assert.throws(() => a.upsertPool({ resource: "x", limit: -1 }, 0), InvalidArgumentError);
    assert.throws(
      () => a.upsertPool({ resource: "x", limit: 1, tenants: [{ project: "p", weight: 0 }] }, 0),
      InvalidArgumentError,
    );
    a.allocate(request("h", "p"), 0);
    assert.throws(() => a.deletePool("warehouse"), PoolInUseError);
  });

  it("rejects instead of queueing when the caller does not want to wait", () => {
    const a = new Allocator();
    a.upsertPool(pool(1), 0);
    a.allocate(request("h1", "p1"), 0);
    const outcome = a.allocate({ ...request("h2", "p2"), wait: false }, 0);
    assert.equal(outcome.status === "rejected" && outcome.reason, "GlobalLimitReached");
    assert.equal(a.getQueued("warehouse", "h2"), undefined);
    assert.equal(a.takeChanges().get("warehouse\u0000h2"), undefined, "nothing durable for a rejection");
  });

  it("never lets a tenant exceed its cap when the pool forbids borrowing", () => {
    const a = new Allocator();
    a.upsertPool({ ...pool(10, 2, ["p1"]), allowBorrowing: false }, 0);
    const big = a.allocate(request("big", "p1", "prod", 3), 0);
    assert.equal(big.status === "rejected" && big.reason, "ExceedsTenantCap");
    a.allocate(request("h1", "p1"), 0);
    a.allocate(request("h2", "p1"), 0);
    const third = a.allocate(request("h3", "p1"), 0);
    assert.equal(third.status === "queued" && third.reason, "TenantCapReached");
    assert.equal(a.getPool("warehouse").inUse, 2);
  });

  it("finds leases by id and keeps ids unique", () => {
    const a = new Allocator();
    a.upsertPool(pool(5), 0);
    const g1 = a.allocate(request("h1", "p1"), 0);
    const g2 = a.allocate(request("h2", "p1"), 0);
    assert.ok(g1.status === "granted" && g2.status === "granted");
    assert.notEqual(g1.lease.leaseId, g2.lease.leaseId);
    assert.equal(a.findLease(g1.lease.leaseId)?.holder, "h1");
    a.release("warehouse", "h1", 1);
    assert.equal(a.findLease(g1.lease.leaseId), undefined);
  });

  it("charges project-wide requests (empty domain) to the project only", () => {
    const a = new Allocator();
    a.upsertPool({ resource: "warehouse", limit: 10, tenants: [{ project: "p1", cap: { tokens: 3 } }] }, 0);
    a.allocate(request("other", "p2"), 0);
    a.allocate(request("w1", "p1", "", 2), 0);
    a.allocate(request("w2", "p1", "prod", 1), 0);
    a.allocate(request("p2-waits", "p2", "prod", 9), 0);
    const blocked = a.allocate(request("w3", "p1", "", 1), 0);
    assert.equal(blocked.status === "queued" && blocked.reason, "TenantCapReached");
    const rows = a.getPool("warehouse").tenants.filter((t) => t.project === "p1");
    assert.deepEqual(
      rows.map((t) => [t.scope, t.domain, t.inUse, t.queuedRequests]),
      [
        ["project", "", 3, 1],
        ["domain", "prod", 1, 0],
      ],
    );
  });

  it("reports pool-wide queue positions in the order the scheduler will serve them", () => {
    const a = new Allocator();
    a.upsertPool(pool(2), 0);
    a.allocate(request("a0", "pa"), 0);
    a.allocate(request("a1", "pa"), 0);
    const positions = ["a2", "a3", "b0", "b1"].map((h) => {
      const o = a.allocate(request(h, h.startsWith("a") ? "pa" : "pb"), 0);
      return o.status === "queued" ? o.position : -1;
    });
    // pb holds nothing, so both of its requests go before pa's third and fourth... interleaved
    // by share: b0 (pb 0), b1 (pb 1 < pa 2), then a2, a3.
    const now = ["a2", "a3", "b0", "b1"].map((h) => {
      const o = a.allocate(request(h, h.startsWith("a") ? "pa" : "pb"), 0);
      return o.status === "queued" ? o.position : -1;
    });
    assert.deepEqual(positions, [1, 2, 1, 2]);
    assert.deepEqual(now, [3, 4, 1, 2]);
    a.release("warehouse", "a0", 1);
    assert.ok(a.getLease("warehouse", "b0"));
  });

  it("estimates the wait from the recent grant rate", () => {
    const a = new Allocator();
    a.upsertPool(pool(1), 0);
    // One grant every 100 ms.
    for (let i = 0; i < 10; i++) {
      a.allocate(request(`h${i}`, "p1"), i * 100);
      a.release("warehouse", `h${i}`, i * 100 + 50);
    }
    a.allocate(request("holding", "p1"), 1000);
    const third = ["w1", "w2", "w3"].map((h) => a.allocate(request(h, "p2"), 1000)).at(-1);
    assert.equal(third?.status, "queued");
    // 11 grants over the last 1000 ms: ~91 ms per grant, position 3.
    assert.equal(third?.status === "queued" && third.estimatedWaitMs, Math.round((3 * 1000) / 11));
  });

  it("computes proportional caps by rounding down", () => {
    assert.equal(effectiveCap({ proportion: 0.4 }, 20), 8);
    assert.equal(effectiveCap({ proportion: 0.33 }, 10), 3);
    assert.equal(effectiveCap({ tokens: 50 }, 20), 20);
    assert.equal(effectiveCap(undefined, 20), 20);
  });
});

describe("Allocator fairness and borrowing", () => {
  it("lets an idle system's single tenant borrow up to the global limit", () => {
    const a = new Allocator();
    a.upsertPool(pool(10, 3, ["p1", "p2"]), 0);
    for (let i = 0; i < 10; i++) assert.equal(a.allocate(request(`h${i}`, "p1"), 0).status, "granted");
    assert.equal(a.allocate(request("h10", "p1"), 0).status, "queued");
  });

  it("gives a borrower nothing new while another tenant waits, until it is back under its cap", () => {
    const a = new Allocator();
    a.upsertPool(pool(10, 3, ["p1", "p2"]), 0);
    for (let i = 0; i < 10; i++) a.allocate(request(`a${i}`, "p1"), 0);
    a.allocate(request("a-more", "p1"), 0);
    a.allocate(request("b0", "p2"), 0);
    a.allocate(request("b1", "p2"), 0);
    a.release("warehouse", "a0", 1);
    assert.ok(a.getLease("warehouse", "b0"), "the waiting tenant gets the freed token");
    a.release("warehouse", "a1", 2);
    assert.ok(a.getLease("warehouse", "b1"));
    a.release("warehouse", "a2", 3);
    // p1 is at 7 (cap 3), p2 has nothing waiting now: borrowing is allowed again.
    assert.ok(a.getLease("warehouse", "a-more"));
  });

  it("applies both the project cap and the project/domain cap", () => {
    const a = new Allocator();
    a.upsertPool(
      {
        resource: "warehouse",
        limit: 10,
        tenants: [
          { project: "p1", cap: { tokens: 4 } },
          { project: "p1", domain: "dev", cap: { tokens: 1 } },
        ],
      },
      0,
    );
    a.allocate(request("other-waiting", "p2"), 0);
    for (let i = 0; i < 9; i++) a.allocate(request(`x${i}`, "p2"), 0);
    // p2 holds all 10; now p1 waits in two domains and p2 keeps asking.
    a.allocate(request("d1", "p1", "dev"), 0);
    a.allocate(request("d2", "p1", "dev"), 0);
    a.allocate(request("q1", "p1", "prod"), 0);
    for (let i = 0; i < 4; i++) a.allocate(request(`y${i}`, "p2"), 0);
    for (let i = 0; i < 6; i++) a.release("warehouse", `x${i}`, 1);
    const snap = a.getPool("warehouse");
    const dev = snap.tenants.find((t) => t.project === "p1" && t.domain === "dev");
    assert.equal(dev?.inUse, 1, "dev is held at its domain cap of 1 while p2 waits");
    assert.ok(a.getLease("warehouse", "q1"));
  });

  it("serves weighted tenants in proportion to their weights", () => {
    const a = new Allocator();
    a.upsertPool(
      {
        resource: "warehouse",
        limit: 12,
        tenants: [
          { project: "heavy", weight: 3 },
          { project: "light", weight: 1 },
        ],
      },
      0,
    );
    for (let i = 0; i < 20; i++) {
      a.allocate(request(`h${i}`, "heavy"), 0);
      a.allocate(request(`l${i}`, "light"), 0);
    }
    // The first arrivals were granted in arrival order; churn until shares settle.
    let now = 1;
    for (let round = 0; round < 40; round++) {
      for (const lease of a.listLeases("warehouse")) a.release("warehouse", lease.holder, now);
      for (let i = 0; i < 40; i++) {
        a.allocate(request(`h-${round}-${i}`, "heavy"), now);
        a.allocate(request(`l-${round}-${i}`, "light"), now);
      }
      now++;
    }
    const snap = a.getPool("warehouse");
    assert.equal(snap.tenants.find((t) => t.project === "heavy" && t.domain === "")?.inUse, 9);
    assert.equal(snap.tenants.find((t) => t.project === "light" && t.domain === "")?.inUse, 3);
  });

  it("reserves freed capacity for a large request at the head instead of starving it", () => {
    const a = new Allocator();
    a.upsertPool(pool(4), 0);
    for (let i = 0; i < 4; i++) a.allocate(request(`s${i}`, "small"), 0);
    a.allocate(request("big", "large", "prod", 3), 0);
    a.allocate(request("s-late", "small"), 0);
    a.release("warehouse", "s0", 1);
    a.release("warehouse", "s1", 2);
    assert.equal(a.getLease("warehouse", "s-late"), undefined, "small requests do not jump the big one");
    a.release("warehouse", "s2", 3);
    assert.ok(a.getLease("warehouse", "big"));
  });

  it("reaches Jain's index >= 0.95 of token-time across equally loaded tenants", () => {
    const a = new Allocator();
    a.upsertPool(pool(20, 8, ["t0", "t1", "t2", "t3", "t4"]), 0);
    const tokenTime = new Map<string, number>();
    const held = new Map<string, { project: string; until: number; from: number }>();
    let next = 0;
    let seed = 42;
    const rand = (): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    // 100 holders per tenant, each re-requests after release; tenant t0 starts first (borrows).
    const pending: AllocateRequest[] = [];
    for (let t = 0; t < 5; t++) {
      for (let i = 0; i < 100; i++) pending.push(request(`t${t}-${next++}`, `t${t}`));
    }
    for (const r of pending) a.allocate(r, 0);
    for (let now = 1; now <= 20_000; now += 10) {
      for (const lease of a.listLeases("warehouse")) {
        if (!held.has(lease.holder)) {
          held.set(lease.holder, {
            project: lease.project,
            from: now,
            until: now + 50 + Math.floor(rand() * 100),
          });
        }
      }
      for (const [holder, h] of held) {
        if (h.until <= now) {
          tokenTime.set(h.project, (tokenTime.get(h.project) ?? 0) + (now - h.from));
          held.delete(holder);
          a.release("warehouse", holder, now);
          a.allocate(request(`${h.project}-${next++}`, h.project), now);
        }
      }
    }
    const xs = [...tokenTime.values()];
    const jain = xs.reduce((s, x) => s + x, 0) ** 2 / (xs.length * xs.reduce((s, x) => s + x * x, 0));
    assert.equal(xs.length, 5);
    assert.ok(jain >= 0.95, `Jain index ${jain}`);
  });
});

describe("Allocator properties", () => {
  type Op =
    | { kind: "allocate"; holder: number; tenant: number; domain: number; tokens: number; ttl: number }
    | { kind: "release"; holder: number }
    | { kind: "renew"; holder: number }
    | { kind: "advance"; ms: number }
    | { kind: "expire" }
    | { kind: "reconfigure"; limit: number; cap: number };

  const opArb: fc.Arbitrary<Op> = fc.oneof(
    {
      weight: 6,
      arbitrary: fc.record({
        kind: fc.constant("allocate" as const),
        holder: fc.integer({ min: 0, max: 40 }),
        tenant: fc.integer({ min: 0, max: 3 }),
        domain: fc.integer({ min: 0, max: 1 }),
        tokens: fc.integer({ min: 1, max: 3 }),
        ttl: fc.integer({ min: 1, max: 400 }),
      }),
    },
    {
      weight: 3,
      arbitrary: fc.record({
        kind: fc.constant("release" as const),
        holder: fc.integer({ min: 0, max: 40 }),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({ kind: fc.constant("renew" as const), holder: fc.integer({ min: 0, max: 40 }) }),
    },
    {
      weight: 2,
      arbitrary: fc.record({ kind: fc.constant("advance" as const), ms: fc.integer({ min: 1, max: 200 }) }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant("expire" as const) }) },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant("reconfigure" as const),
        limit: fc.integer({ min: 3, max: 12 }),
        cap: fc.integer({ min: 1, max: 6 }),
      }),
    },
  );

  function holderTenant(holder: number, op: { tenant: number; domain: number; tokens: number }) {
    // A holder id is bound to one tenant/token count so idempotency conflicts are exercised separately.
    return {
      project: `p${holder % 4}`,
      domain: holder % 2 === 0 ? "prod" : "dev",
      tokens: (holder % 3) + 1,
      op,
    };
  }

  it("never exceeds the limit or caps while others can be served, and stays consistent", () => {
    fc.assert(
      fc.property(
        fc.array(opArb, { maxLength: 120 }),
        fc.integer({ min: 3, max: 10 }),
        fc.boolean(),
        (ops, limit, allowBorrowing) => {
          const violations: string[] = [];
          const a = observedAllocator(violations);
          a.upsertPool(
            {
              resource: "warehouse",
              limit,
              defaultCap: { tokens: Math.max(1, Math.floor(limit / 2)) },
              tenants: [{ project: "p0", domain: "dev", cap: { tokens: 1 } }],
              allowBorrowing,
            },
            0,
          );
          let now = 0;
          for (const op of ops) {
            switch (op.kind) {
              case "allocate": {
                const t = holderTenant(op.holder, op);
                const before = a.getLease("warehouse", `h${op.holder}`);
                const inUseBefore = a.getPool("warehouse").inUse;
                const outcome = a.allocate(
                  {
                    resource: "warehouse",
                    project: t.project,
                    domain: t.domain,
                    holder: `h${op.holder}`,
                    tokens: Math.min(t.tokens, a.getPool("warehouse").limit),
                    ttlMs: op.ttl,
                  },
                  now,
                );
                if (before) {
                  // Idempotent: same grant, no extra tokens, expiry extended.
                  assert.equal(outcome.status, "granted");
                  assert.equal(a.getPool("warehouse").inUse, inUseBefore);
                  assert.equal(outcome.status === "granted" && outcome.lease.expiresAt, now + op.ttl);
                }
                if (outcome.status === "queued") assert.ok(outcome.position >= 1);
                break;
              }
              case "release":
                a.release("warehouse", `h${op.holder}`, now);
                assert.equal(a.getLease("warehouse", `h${op.holder}`), undefined);
                assert.equal(a.getQueued("warehouse", `h${op.holder}`), undefined);
                break;
              case "renew":
                if (a.getLease("warehouse", `h${op.holder}`)) a.renew("warehouse", `h${op.holder}`, now);
                break;
              case "advance":
                now += op.ms;
                break;
              case "expire": {
                const { leases } = a.expire(now);
                for (const l of leases) assert.ok(l.expiresAt <= now);
                for (const l of a.listLeases()) assert.ok(l.expiresAt > now, "no lease left past expiry");
                break;
              }
              case "reconfigure":
                a.upsertPool(
                  {
                    resource: "warehouse",
                    limit: op.limit,
                    defaultCap: { tokens: op.cap },
                    tenants: [{ project: "p0", domain: "dev", cap: { tokens: 1 } }],
                    allowBorrowing,
                  },
                  now,
                );
                break;
            }
            // Counters match the leases.
            const snap = a.getPool("warehouse");
            const leases = a.listLeases("warehouse");
            assert.equal(
              snap.inUse,
              leases.reduce((n, l) => n + l.tokens, 0),
            );
            for (const t of snap.tenants) {
              const sum = leases
                .filter((l) => l.project === t.project && (t.domain === "" || l.domain === t.domain))
                .reduce((n, l) => n + l.tokens, 0);
              assert.equal(t.inUse, sum);
            }
            // Quiescence: a head that fits the free capacity may wait only behind a reservation,
            // i.e. another head of the same eligibility class (within caps, else borrowing) that
            // does not fit.
            const free = snap.limit - snap.inUse;
            const heads = new Map<string, { tokens: number; within: boolean; holder: string }>();
            for (const q of a.listQueued("warehouse")) {
              const key = `${q.project}/${q.domain}`;
              if (heads.has(key)) continue;
              const p = snap.tenants.find((x) => x.project === q.project && x.domain === "");
              const leaf = snap.tenants.find((x) => x.project === q.project && x.domain === q.domain);
              assert.ok(p && leaf);
              heads.set(key, {
                tokens: q.tokens,
                holder: q.holder,
                within: leaf.inUse + q.tokens <= leaf.cap && p.inUse + q.tokens <= p.cap,
              });
            }
            const anyWithin = [...heads.values()].some((h) => h.within);
            const eligible = [...heads.values()].filter(
              (h) => h.within === anyWithin && (h.within || allowBorrowing),
            );
            const fitting = eligible.filter((h) => h.tokens <= free);
            if (fitting.length > 0 && fitting.length === eligible.length) {
              assert.fail(`heads ${fitting.map((h) => h.holder).join(",")} fit (free ${free}) but wait`);
            }
          }
          assert.deepEqual(violations, []);
          // Durable changes describe exactly the live state.
          const replay = new Allocator();
          replay.upsertPool(a.getPool("warehouse").config, now);
          const changes = a.takeChanges();
          const records = [...changes.values()].filter((r) => r !== null);
          assert.equal(records.filter((r) => r.state === "granted").length, a.listLeases().length);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("never starves: once arrivals stop and holders release, every polled request is granted", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({ tenant: fc.integer({ min: 0, max: 4 }), tokens: fc.integer({ min: 1, max: 4 }) }),
          { minLength: 1, maxLength: 80 },
        ),
        fc.integer({ min: 4, max: 10 }),
        (arrivals, limit) => {
          const a = new Allocator();
          a.upsertPool(pool(limit, 2, ["p0", "p1", "p2", "p3", "p4"]), 0);
          const waiting = new Set<string>();
          arrivals.forEach((r, i) => {
            const outcome = a.allocate(request(`h${i}`, `p${r.tenant}`, "prod", r.tokens), 0);
            if (outcome.status === "queued") waiting.add(`h${i}`);
          });
          let now = 1;
          for (let step = 0; step < arrivals.length * 2 && waiting.size > 0; step++) {
            for (const lease of a.listLeases("warehouse")) a.release("warehouse", lease.holder, now);
            for (const holder of [...waiting]) {
              if (a.getLease("warehouse", holder)) waiting.delete(holder);
            }
            now++;
          }
          assert.equal(waiting.size, 0, `still waiting: ${[...waiting].join(",")}`);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("restores the same state from its durable records", () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ tenant: fc.integer({ min: 0, max: 3 }), release: fc.boolean() }), {
          maxLength: 60,
        }),
        (steps) => {
          const a = new Allocator();
          const config = pool(6, 3, ["p0", "p1", "p2", "p3"]);
          a.upsertPool(config, 0);
          const durable = new Map<string, unknown>();
          steps.forEach((s, i) => {
            a.allocate(request(`h${i}`, `p${s.tenant}`), i);
            if (s.release && i > 0) a.release("warehouse", `h${i - 1}`, i);
            for (const [k, v] of a.takeChanges()) {
              if (v === null) durable.delete(k);
              else durable.set(k, v);
            }
          });
          const b = new Allocator();
          b.upsertPool(config, 0);
          b.load([...durable.values()] as Parameters<Allocator["load"]>[0], 1000);
          const leases = (x: Allocator) =>
            x
              .listLeases()
              .map((l) => l.holder)
              .sort();
          const queued = (x: Allocator) => x.listQueued().map((q) => q.holder);
          assert.deepEqual(leases(b), leases(a));
          assert.deepEqual(queued(b), queued(a));
        },
      ),
      { numRuns: 200 },
    );
  });
});
