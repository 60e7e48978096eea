import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { parse } from "yaml";
import { type SandboxCluster, startCluster, writeKubeconfig } from "./cluster.js";
import { aPod, call, eventually } from "./apiserver/test-support.js";

const run = promisify(execFile);

describe("sandbox clusters", () => {
  let dir: string;
  let east: SandboxCluster;
  let west: SandboxCluster;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "sandbox-cluster-"));
    [east, west] = await Promise.all([
      startCluster({ name: "east", stateDir: dir }),
      startCluster({ name: "west", kubelet: false }),
    ]);
  });
  after(async () => {
    await Promise.all([east.stop(), west.stop()]);
    await rm(dir, { recursive: true, force: true });
  });

  it("writes one kubeconfig with a context per cluster that kubectl can use", async () => {
    const path = await writeKubeconfig([east, west], join(dir, "all", "kubeconfig"));
    const config = parse(await readFile(path, "utf8"));
    assert.deepEqual(
      config.contexts.map((c: { name: string }) => c.name),
      ["east", "west"],
    );
    assert.equal(config["current-context"], "east");
    const kubectl = async (...args: string[]): Promise<string> =>
      (await run("kubectl", ["--kubeconfig", path, "--cache-dir", join(dir, "cache"), ...args])).stdout;
    await eventually(
      async () =>
        assert.equal(
          (await kubectl("--context", "east", "get", "nodes", "-o", "name")).trim().split("\n").length,
          3,
        ),
      {
        timeout: 10_000,
      },
    );
    assert.equal(await kubectl("--context", "west", "get", "nodes", "-o", "name"), "");
    assert.equal(east.kubeconfigPath, join(dir, "east.kubeconfig"));
    assert.equal(west.kubeconfigPath, undefined);
  });

  it("runs pods to completion through the kubelet, isolated per cluster", async () => {
    const pod = aPod("job");
    pod.spec.restartPolicy = "Never";
    assert.equal((await call(east.url, "POST", "/api/v1/namespaces/default/pods", pod)).status, 201);
    assert.equal((await call(west.url, "POST", "/api/v1/namespaces/default/pods", pod)).status, 201);
    await eventually(
      async () => {
        const got = (await call(east.url, "GET", "/api/v1/namespaces/default/pods/job")).body;
        assert.equal(got.status.phase, "Succeeded");
        assert.match(got.spec.nodeName, /^east-node-\d$/);
      },
      { timeout: 10_000 },
    );
    const unscheduled = (await call(west.url, "GET", "/api/v1/namespaces/default/pods/job")).body;
    assert.equal(unscheduled.status.phase, "Pending");
    assert.equal(unscheduled.spec.nodeName, undefined);
    assert.equal(east.apiServer.counters.podCreates("default", "job"), 1);
  });
});
