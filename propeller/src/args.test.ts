import assert from "node:assert/strict";
import { test } from "node:test";
import { UsageError, parsePropellerArgs } from "./args.js";

test("the documented flags map onto propeller options", () => {
  const o = parsePropellerArgs([
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
    "--metrics-port",
    "0",
    "--lease-duration",
    "3",
  ]);
  assert.equal(o.kubeconfig, "/k");
  assert.equal(o.context, "east");
  assert.equal(o.clusterId, "east");
  assert.deepEqual(o.admin, { url: "http://127.0.0.1:1" });
  assert.equal(o.workers, 8);
  assert.equal(o.metricsPort, 0);
  const election = o.leaderElection;
  assert.ok(election, "leader election stays on");
  assert.equal(election.leaseDurationMs, 3000);
  assert.ok((election.renewDeadlineMs ?? 0) < 3000, "renew deadline below the lease duration");
});

test("missing or malformed flags are usage errors naming the flag", () => {
  assert.throws(
    () => parsePropellerArgs(["--kubeconfig", "/k", "--admin-url", "x"]),
    /--cluster-id is required/,
  );
  assert.throws(
    () =>
      parsePropellerArgs(["--kubeconfig", "/k", "--cluster-id", "c", "--admin-url", "x", "--workers", "0"]),
    (err: unknown) => err instanceof UsageError && /--workers must be an integer >= 1/.test(err.message),
  );
  assert.equal(
    parsePropellerArgs([
      "--kubeconfig",
      "/k",
      "--cluster-id",
      "c",
      "--admin-url",
      "x",
      "--no-leader-election",
    ]).leaderElection,
    false,
  );
});

test("--no-resource-manager-batching turns the broker's batching off; batching is on by default", () => {
  const base = ["--kubeconfig", "/k", "--cluster-id", "c", "--admin-url", "x"];
  const rm = ["--resource-manager-url", "http://127.0.0.1:2"];
  assert.deepEqual(parsePropellerArgs([...base, ...rm]).resourceManager, { url: "http://127.0.0.1:2" });
  assert.deepEqual(parsePropellerArgs([...base, ...rm, "--no-resource-manager-batching"]).resourceManager, {
    url: "http://127.0.0.1:2",
    batch: false,
  });
});
