import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { ConfigError, loadConfig } from "@flotilla/runtime";
import { tempDir, type AfterHook } from "@flotilla/testing";
import { stringify } from "yaml";
import { resourceManagerConfig } from "./config.js";

async function load(t: AfterHook, doc: unknown) {
  const file = join(tempDir({ prefix: "rm-config-", t }).path, "rm.yaml");
  writeFileSync(file, typeof doc === "string" ? doc : stringify(doc));
  return (await loadConfig(resourceManagerConfig, { argv: ["--config", file], env: {} })).config;
}

describe("config", () => {
  it("parses a full rm.yaml with defaults filled in", async (t) => {
    const config = await load(
      t,
      `
server:
  port: 9000
database:
  url: postgres://rm@db:5432/rm
sweepInterval: 100ms
pools:
  - resource: warehouse
    limit: 20
    defaultTtl: 30s
    defaultCap: 40%
    tenants:
      - project: flytesnacks
        domain: production
        cap: 8
        weight: 2
      - project: analytics
        cap: { proportion: 0.25 }
`,
    );
    assert.equal(config.server.port, 9000);
    assert.equal(config.server.host, "0.0.0.0");
    assert.equal(config.database.url, "postgres://rm@db:5432/rm");
    assert.equal(config.sweepInterval, 100);
    assert.equal(config.electionInterval, 1000);
    assert.deepEqual(config.pools[0], {
      resource: "warehouse",
      limit: 20,
      allowBorrowing: true,
      defaultTtlMs: 30_000,
      defaultCap: { proportion: 0.4 },
      tenants: [
        { project: "flytesnacks", domain: "production", cap: { tokens: 8 }, weight: 2 },
        { project: "analytics", cap: { proportion: 0.25 } },
      ],
    });
  });

  it("names the bad field and the file", async (t) => {
    const bad = (doc: unknown, keyPath: string) =>
      assert.rejects(
        load(t, doc),
        (err: unknown) =>
          err instanceof ConfigError && err.keyPath === keyPath && /rm\.yaml/.test(err.source),
      );
    await bad({ prot: 1 }, "prot");
    await bad({ server: { port: 70000 } }, "server.port");
    await bad({ pools: [{ resource: "w", limit: -1 }] }, "pools.0");
    await bad(
      { pools: [{ resource: "w", limit: 1, tenants: [{ project: "p", cap: "lots" }] }] },
      "pools.0.tenants.0.cap",
    );
    await bad(
      {
        pools: [
          { resource: "w", limit: 1 },
          { resource: "w", limit: 2 },
        ],
      },
      "pools.1.resource",
    );
    await bad({ database: { url: "postgres://x", dataDir: "/tmp/x" } }, "database");
    await bad({ sweepInterval: 250 }, "sweepInterval");
    await bad({ pools: [{ resource: "w", limit: 1, defaultTtl: "10ms" }] }, "pools.0.defaultTtl");
  });

  it("parses durations and caps", async (t) => {
    const config = await load(t, {
      sweepInterval: "1.5s",
      electionInterval: "2m",
      pools: [{ resource: "w", limit: 10, defaultCap: "25%", tenants: [{ project: "p", cap: 3 }] }],
    });
    assert.equal(config.sweepInterval, 1500);
    assert.equal(config.electionInterval, 120_000);
    assert.deepEqual(config.pools[0]?.defaultCap, { proportion: 0.25 });
    assert.deepEqual(config.pools[0]?.tenants?.[0]?.cap, { tokens: 3 });
  });

  it("keeps FLOTILLA_RM_DATABASE_URL and takes flags over the file", async (t) => {
    const file = join(tempDir({ prefix: "rm-config-", t }).path, "rm.yaml");
    writeFileSync(file, "server:\n  port: 9000\n");
    const { config } = await loadConfig(resourceManagerConfig, {
      argv: ["--config", file, "--port", "9100", "--host", "127.0.0.1"],
      env: { FLOTILLA_RM_DATABASE_URL: "postgres://rm@db/rm" },
    });
    assert.equal(config.server.port, 9100);
    assert.equal(config.server.host, "127.0.0.1");
    assert.equal(config.database.url, "postgres://rm@db/rm");
  });
});
