import { afterEach, it } from "node:test";
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { migrationsDirOf } from "@flotilla/db";
import { AllocateRequestSchema } from "@flotilla/proto";
import { eachDatabase, eventually } from "@flotilla/testing";
import { createResourceManagerClient } from "../client.js";
import { LeadershipLostError } from "../allocator/errors.js";
import { PostgresStateRepository } from "../repository/state-repository.js";
import { LEADER_URL_HEADER } from "../rpc/resource-manager-service.js";
import { startResourceManager, type RunningResourceManager } from "../start.js";
import { LEADER_LOCK_KEY } from "./leader-election.js";

const pools = [{ resource: "warehouse", limit: 3, defaultTtlMs: 60_000 }];

function ask(holder: string) {
  return create(AllocateRequestSchema, {
    resource: "warehouse",
    tenant: { project: "alpha", domain: "prod" },
    holder,
    tokens: 1,
    wait: true,
  });
}

eachDatabase(
  "resource manager leader election",
  {
    migrations: migrationsDirOf(import.meta.url),
    table: "resource_manager_schema_migrations",
    backends: ["postgres"],
  },
  (ctx) => {
    const running: RunningResourceManager[] = [];
    afterEach(async () => {
      for (const r of running.splice(0)) await r.stop();
    });
    const start = async () => {
      const rm = await startResourceManager({
        database: ctx.db(),
        pools,
        electionIntervalMs: 100,
        sweepIntervalMs: 50,
      });
      running.push(rm);
      return rm;
    };

    it("runs exactly one leader; the standby redirects, then takes over with the state when the leader dies", async () => {
      const a = await start();
      await eventually(() => assert.equal(a.role(), "leader"));
      const b = await start();
      // The standby's first election round reads who leads; until then it cannot point callers there.
      await eventually(async () => {
        const standbyStatus = (await (await fetch(`${b.url}/healthz`)).json()) as {
          role: string;
          leader: string;
        };
        assert.equal(standbyStatus.role, "standby");
        assert.equal(standbyStatus.leader, a.url);
      });
      const notReady = await fetch(`${b.url}/readyz`);
      assert.equal(notReady.status, 503);
      assert.equal(((await notReady.json()) as { reason: string }).reason, "standby: not the leader");

      const direct = createResourceManagerClient(b.url, { maxAttempts: 1 });
      try {
        await direct.allocate(ask("x"));
        assert.fail("a standby must not decide");
      } catch (err) {
        const e = ConnectError.from(err);
        assert.equal(e.code, Code.Unavailable);
        assert.equal(e.metadata.get(LEADER_URL_HEADER), a.url);
      }

      const client = createResourceManagerClient([b.url, a.url], { retryDelayMs: 20, maxAttempts: 100 });
      const first = await client.allocate(ask("h1"));
      assert.equal(first.outcome.case, "granted");
      await client.allocate(ask("h2"));

      await a.stop();
      await eventually(() => assert.equal(b.role(), "leader"), { timeout: 5000 });
      const again = await client.allocate(ask("h1"));
      assert.equal(
        again.outcome.case === "granted" && again.outcome.value.lease?.leaseId,
        first.outcome.case === "granted" ? first.outcome.value.lease?.leaseId : "",
      );
      const status = await client.getPoolStatus({ resource: "warehouse" });
      assert.equal(status.inUse, 2, "no lease lost or doubled across the takeover");
    });

    it("deposes a leader whose lock session dies and fences its writes by epoch", async () => {
      const a = await start();
      await eventually(() => assert.equal(a.role(), "leader"));
      const b = await start();
      const epochA = a.manager.epoch;
      assert.ok(epochA !== undefined);
      // Kill A's lock session from the server side, as a network partition would.
      await ctx.db().query(
        `SELECT pg_terminate_backend(pid) FROM pg_locks
         WHERE locktype = 'advisory' AND granted AND ((classid::bigint << 32) | objid::bigint) = $1::bigint`,
        [LEADER_LOCK_KEY],
      );
      await eventually(() => {
        const leaders = [a, b].filter((x) => x.role() === "leader");
        assert.equal(leaders.length, 1);
        assert.ok((leaders[0]?.manager.epoch ?? 0) > epochA);
      });
      const leader = a.role() === "leader" ? a : b;
      assert.ok((leader.manager.epoch ?? 0) > epochA, "a new term has a higher epoch");
      const repository = new PostgresStateRepository(ctx.db());
      await assert.rejects(
        repository.applyChanges(epochA, new Map([["warehouse\u0000zombie", null]])),
        LeadershipLostError,
      );
      await assert.rejects(repository.savePool(epochA, pools[0], "api"), LeadershipLostError);
    });
  },
);
