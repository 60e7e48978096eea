import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Writable } from "node:stream";
import { test } from "node:test";
import { ConfigError, UsageError } from "@flotilla/runtime";
import { tempDir } from "@flotilla/testing";
import { leaseTimings, loadPropellerOptions } from "./config.js";

const required = ["--kubeconfig", "/k", "--cluster-id", "c", "--admin-url", "x"];

/** Loads options from flags alone, with an empty environment. */
function fromFlags(argv: string[], env: NodeJS.ProcessEnv = {}) {
  return loadPropellerOptions({ argv, env });
}

async function loaded(argv: string[], env: NodeJS.ProcessEnv = {}) {
  const options = await fromFlags(argv, env);
  assert.ok(options, "options were loaded");
  return options;
}

/** Asserts that loading rejects with a ConfigError about `keyPath` from `source`. */
async function rejectsWith(argv: string[], keyPath: string, source: string | RegExp, problem?: RegExp) {
  await assert.rejects(fromFlags(argv), (err: unknown) => {
    assert.ok(err instanceof ConfigError, String(err));
    assert.equal(err.keyPath, keyPath);
    if (typeof source === "string") assert.equal(err.source, source);
    else assert.match(err.source, source);
    if (problem) assert.match(err.problem, problem);
    return true;
  });
}

test("the documented flags map onto propeller options", async () => {
  const o = await loaded([
    "--kubeconfig",
    "/k",
    "--context",
    "east",
    "--cluster-id",
    "east",
    "--admin-url",
    "http://127.0.0.1:1",
    "--workers",
    "8",
    "--pod-concurrency",
    "24",
    "--metrics-port",
    "0",
    "--lease-duration",
    "3s",
  ]);
  assert.equal(o.kubeconfig, "/k");
  assert.equal(o.context, "east");
  assert.equal(o.clusterId, "east");
  assert.deepEqual(o.admin, { url: "http://127.0.0.1:1" });
  assert.equal(o.workers, 8);
  assert.deepEqual(o.executor, { podConcurrency: 24 });
  assert.equal(o.metricsPort, 0);
  const election = o.leaderElection;
  assert.ok(election, "leader election stays on");
  assert.equal(election.leaseDurationMs, 3000);
  assert.ok((election.renewDeadlineMs ?? 0) < 3000, "renew deadline below the lease duration");
});

test("missing or malformed flags are config errors naming the key and the flag", async () => {
  await rejectsWith(["--kubeconfig", "/k", "--admin-url", "x"], "clusterId", "default");
  await rejectsWith([...required, "--workers", "0"], "workers", "flag --workers", /too small|>=\s*1/i);
  await rejectsWith([...required, "--workers", "abc"], "workers", "flag --workers", /expected number/);
  await assert.rejects(fromFlags([...required, "--no-such-flag"]), UsageError);
  assert.equal((await loaded([...required, "--no-leader-election"])).leaderElection, false);
});

test("--no-resource-manager-batching turns the broker's batching off; batching is on by default", async () => {
  const rm = ["--resource-manager-url", "http://127.0.0.1:2"];
  assert.deepEqual((await loaded([...required, ...rm])).resourceManager, { url: "http://127.0.0.1:2" });
  assert.deepEqual((await loaded([...required, ...rm, "--no-resource-manager-batching"])).resourceManager, {
    url: "http://127.0.0.1:2",
    batch: false,
  });
  assert.equal((await loaded(required)).resourceManager, undefined);
});

test("durations take the one syntax; bare seconds are refused naming the key", async () => {
  const o = await loaded([
    ...required,
    "--terminated-ttl",
    "1h",
    "--resync",
    "30s",
    "--lease-duration",
    "1m",
  ]);
  assert.equal(o.terminatedTtlMs, 3_600_000);
  assert.equal(o.resyncPeriodMs, 30_000);
  assert.ok(o.leaderElection);
  assert.equal(o.leaderElection.leaseDurationMs, 60_000);
  await rejectsWith([...required, "--resync", "30"], "resync", "flag --resync", /expected a duration/);
  await rejectsWith(
    [...required, "--lease-duration", "500ms"],
    "leaderElection.leaseDuration",
    "flag --lease-duration",
  );
  await rejectsWith([...required, "--terminated-ttl", "2"], "terminatedTtl", "flag --terminated-ttl");
  await rejectsWith(
    [...required, "--pod-concurrency", "0"],
    "podConcurrency",
    "flag --pod-concurrency",
    /too small|>=\s*1/i,
  );
});

test("defaults: 32 workers, election on with client-go's 15 s / 10 s / 2 s, 24 h TTL, 60 s resync", async () => {
  const o = await loaded(required);
  assert.equal(o.workers, 32);
  assert.deepEqual(o.executor, { podConcurrency: 64 });
  assert.equal(o.metricsPort, undefined, "no server unless a port is given");
  assert.equal(o.metricsHost, "127.0.0.1");
  assert.equal(o.blobStoreUrl, "file:///");
  assert.deepEqual(o.leaderElection, {
    namespace: "flotilla-system",
    leaseDurationMs: 15_000,
    renewDeadlineMs: 10_000,
    retryPeriodMs: 2_000,
  });
  assert.equal(o.terminatedTtlMs, 24 * 3_600_000);
  assert.equal(o.resyncPeriodMs, 60_000);
  assert.deepEqual(leaseTimings(1_000), { renewDeadlineMs: 667, retryPeriodMs: 200 });
});

test("KUBECONFIG is the kubeconfig when no source sets one; without either the key is named", async () => {
  const rest = ["--cluster-id", "c", "--admin-url", "x"];
  assert.equal((await loaded(rest, { KUBECONFIG: "/from/env" })).kubeconfig, "/from/env");
  assert.equal(
    (await loaded(["--kubeconfig", "/flag", ...rest], { KUBECONFIG: "/from/env" })).kubeconfig,
    "/flag",
  );
  await rejectsWith(rest, "kubeconfig", "default", /KUBECONFIG/);
});

test("file, then FLOTILLA_PROPELLER_* variables, then flags; a bad file value names its line", async () => {
  const dir = tempDir({ prefix: "propeller-config-" });
  try {
    const file = join(dir.path, "propeller.yaml");
    await writeFile(
      file,
      "clusterId: east\nkubeconfig: /k\nadmin:\n  url: http://admin\nworkers: 4\nleaderElection:\n  leaseDuration: 20s\n",
    );
    const fromFile = await loaded(["--config", file]);
    assert.equal(fromFile.clusterId, "east");
    assert.equal(fromFile.workers, 4);
    assert.ok(fromFile.leaderElection);
    assert.equal(fromFile.leaderElection.leaseDurationMs, 20_000);
    const env = { FLOTILLA_PROPELLER_WORKERS: "6", FLOTILLA_PROPELLER_LEADER_ELECTION_DISABLED: "true" };
    const fromEnv = await loaded(["--config", file], env);
    assert.equal(fromEnv.workers, 6);
    assert.equal(fromEnv.leaderElection, false);
    assert.equal((await loaded(["--config", file, "--workers", "9"], env)).workers, 9);

    await writeFile(file, "clusterId: east\nkubeconfig: /k\nadmin:\n  url: http://admin\nworkers: abc\n");
    await rejectsWith(["--config", file], "workers", `file ${file} line 5`, /expected number/);
  } finally {
    await dir.cleanup();
  }
});

test("--print-config prints the effective configuration with durations in their syntax", async () => {
  let printed = "";
  const stdout = new Writable({
    write(chunk: Buffer, _encoding, done) {
      printed += chunk.toString();
      done();
    },
  });
  const options = await loadPropellerOptions({
    argv: [...required, "--print-config", "--resync", "90s"],
    env: {},
    stdout,
  });
  assert.equal(options, undefined, "nothing to run after printing");
  assert.match(printed, /^clusterId: c$/m);
  assert.match(printed, /^resync: 1m30s$/m);
  assert.match(printed, /^ {2}leaseDuration: 15s$/m);
});
