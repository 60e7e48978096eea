import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { describe, it } from "node:test";
import { promisify } from "node:util";
import { CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { eventually, spawnBin, tempDir } from "@flotilla/testing";

const run = promisify(execFile);
const WAIT = { timeout: 20_000, interval: 50 };

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("flotilla-sandbox bin", () => {
  it("serves one cluster per name behind one kubeconfig, usable by kubectl and client-node, and stops cleanly", async (t) => {
    const dir = tempDir({ prefix: "flotilla-sandbox-bin-", t });
    const bin = await spawnBin(
      "flotilla-sandbox",
      ["--clusters", "east,west", "--state-dir", dir.path, "--mode", "process"],
      {
        readyLine: /^ready$/,
        t,
      },
    );
    const kubeconfig = join(dir.path, "kubeconfig");
    assert.match(bin.output(), /cluster east http:\/\/127\.0\.0\.1:\d+/);

    const { stdout } = await run("kubectl", [
      "--kubeconfig",
      kubeconfig,
      "--context",
      "west",
      "get",
      "nodes",
    ]);
    assert.match(stdout, /west-node-1\s+Ready/);
    assert.match(stdout, /west-node-3\s+Ready/);
    assert.doesNotMatch(stdout, /east-node/);

    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfig);
    kc.setCurrentContext("east");
    const core = kc.makeApiClient(CoreV1Api);
    assert.deepEqual(
      (await core.listNode()).items.map((n) => n.metadata?.name),
      ["east-node-1", "east-node-2", "east-node-3"],
    );
    await core.createNamespacedPod({
      namespace: "default",
      body: {
        metadata: { name: "sleeper" },
        spec: {
          restartPolicy: "Never",
          containers: [
            { name: "main", image: "busybox", command: ["sh", "-c", "echo pid=$$$$; exec sleep 300"] },
          ],
        },
      },
    });
    const pid = await eventually(async () => {
      const { stdout: logs } = await run("kubectl", [
        "--kubeconfig",
        kubeconfig,
        "--context",
        "east",
        "logs",
        "sleeper",
      ]);
      const match = /pid=(\d+)/.exec(logs);
      assert.ok(match, `no pid in ${JSON.stringify(logs)}`);
      return Number(match[1]);
    }, WAIT);
    assert.ok(pidAlive(pid));

    const status = await bin.stop({ signal: "SIGTERM" });
    assert.deepEqual(status, { code: 0, signal: null }, bin.output());
    assert.equal(pidAlive(pid), false, "a pod process outlived the sandbox");
  });

  it("exits 0 on SIGINT too", async (t) => {
    const dir = tempDir({ prefix: "flotilla-sandbox-bin-", t });
    const bin = await spawnBin("flotilla-sandbox", ["--clusters", "solo", "--state-dir", dir.path], {
      readyLine: /^ready$/,
      t,
    });
    assert.deepEqual(await bin.stop({ signal: "SIGINT" }), { code: 0, signal: null }, bin.output());
  });

  it("rejects a bad command line with exit code 2 and the usage", async (t) => {
    const bin = await spawnBin("flotilla-sandbox", ["--clusters", "East_1"], { t });
    assert.deepEqual(await bin.exited, { code: 2, signal: null });
    assert.match(bin.output(), /must be a DNS label/);
    assert.match(bin.output(), /usage: flotilla-sandbox/);
  });
});
