// The bin on its default backend: embedded PGlite in a data directory survives SIGKILL.
import { it } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { AllocateRequestSchema } from "@flotilla/proto";
import { spawnBin, tempDir } from "@flotilla/testing";
import { createResourceManagerClient } from "./client.js";

it("keeps leases in its embedded data directory across kill -9", async (t) => {
  const dir = tempDir({ prefix: "rm-bin-", t });
  const config = join(dir.path, "rm.yaml");
  writeFileSync(config, "pools:\n  - resource: warehouse\n    limit: 2\n    defaultCap: 50%\n");
  const args = [
    "--config",
    config,
    "--host",
    "127.0.0.1",
    "--port",
    "0",
    "--data-dir",
    join(dir.path, "data"),
  ];
  const start = async () => {
    const bin = await spawnBin("flotilla-resource-manager", args, {
      readyLine: /listening on (http:\/\/\S+)/,
      t,
    });
    return { bin, client: createResourceManagerClient(bin.ready?.[1] ?? "", { maxAttempts: 1 }) };
  };
  const first = await start();
  const ask = (holder: string) =>
    create(AllocateRequestSchema, {
      resource: "warehouse",
      tenant: { project: "alpha", domain: "prod" },
      holder,
      tokens: 1,
      wait: true,
      ttl: { seconds: 600n, nanos: 0 },
    });
  const granted = await first.client.allocate(ask("h1"));
  assert.equal(granted.outcome.case, "granted");
  const queued = await first.client.allocate(ask("h2"));
  assert.equal(queued.outcome.case, "granted", "an idle pool lets alpha borrow beyond its cap of 1");
  const waiting = await first.client.allocate(ask("h3"));
  assert.equal(waiting.outcome.case, "queued");
  const status = await first.bin.stop({ signal: "SIGKILL" });
  assert.equal(status.signal, "SIGKILL");

  const second = await start();
  const again = await second.client.allocate(ask("h1"));
  assert.equal(
    again.outcome.case === "granted" && again.outcome.value.lease?.leaseId,
    granted.outcome.case === "granted" && granted.outcome.value.lease?.leaseId,
  );
  const pool = await second.client.getPoolStatus({ resource: "warehouse" });
  assert.equal(pool.inUse, 2);
  assert.equal(pool.queueLength, 1);
  assert.equal(pool.borrowed, 1);
  await second.bin.stop();
});

it("exits 2 naming the key path and its source for a bad value or an unknown key", async (t) => {
  const dir = tempDir({ prefix: "rm-bin-", t });
  const cases: [string, RegExp][] = [
    ['server:\n  port: "abc"\n', /server\.port: .*expected number.*\(from file .*rm\.yaml line 2\)/],
    [
      "server:\n  port: 0\nsweepIntervall: 1s\n",
      /sweepIntervall: unknown key \(from file .*rm\.yaml line 3\)/,
    ],
  ];
  for (const [text, message] of cases) {
    const config = join(dir.path, "rm.yaml");
    writeFileSync(config, text);
    const bin = await spawnBin("flotilla-resource-manager", ["--config", config], { t });
    const status = await bin.exited;
    assert.equal(status.code, 2, bin.output());
    assert.match(bin.output(), message);
  }
});
