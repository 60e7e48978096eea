import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { parse } from "yaml";
import { ConfigError, parseCap, parseConfig, parseDuration } from "./config.js";

describe("config", () => {
  it("parses a full rm.yaml with defaults filled in", () => {
    const config = parseConfig(
      parse(`
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
`),
      "rm.yaml",
    );
    assert.equal(config.port, 9000);
    assert.equal(config.host, "0.0.0.0");
    assert.equal(config.databaseUrl, "postgres://rm@db:5432/rm");
    assert.equal(config.sweepIntervalMs, 100);
    assert.equal(config.electionIntervalMs, 1000);
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

  it("names the bad field", () => {
    const bad = (doc: unknown, field: RegExp) =>
      assert.throws(
        () => parseConfig(doc, "rm.yaml"),
        (err: unknown) => err instanceof ConfigError && field.test(err.field),
      );
    bad({ prot: 1 }, /^prot$/);
    bad({ port: 70000 }, /^port$/);
    bad({ pools: [{ resource: "w", limit: -1 }] }, /^pools\[0\]$/);
    bad({ pools: [{ resource: "w", limit: 1, tenants: [{ project: "p", cap: "lots" }] }] }, /^pools\[0\]$/);
    bad(
      {
        pools: [
          { resource: "w", limit: 1 },
          { resource: "w", limit: 2 },
        ],
      },
      /^pools\[1\]\.resource$/,
    );
    bad({ database: { url: "postgres://x", dataDir: "/tmp/x" } }, /^database$/);
  });

  it("parses durations and caps", () => {
    assert.equal(parseDuration("1.5s"), 1500);
    assert.equal(parseDuration("2m"), 120_000);
    assert.equal(parseDuration(250), 250);
    assert.throws(() => parseDuration("soon"));
    assert.deepEqual(parseCap("25%"), { proportion: 0.25 });
    assert.deepEqual(parseCap(3), { tokens: 3 });
  });
});
