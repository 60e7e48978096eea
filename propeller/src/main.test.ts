// The `flotilla-propeller` bin as a real process: exit codes of configuration errors, and
// `/readyz` answering 503 with the reason until the caches synced.
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { startCluster, type SandboxCluster } from "@flotilla/sandbox";
import { eventually, spawnBin, tempDir, type TempDir } from "@flotilla/testing";
import { installCrd, kubeConfigFrom } from "./testing/cluster-fixtures.js";
import { RecordingAdmin } from "./testing/recording-admin.js";

const BIN = "flotilla-propeller";

describe("flotilla-propeller configuration errors exit 2 naming the key and its source", () => {
  let dir: TempDir;
  before(() => {
    dir = tempDir({ prefix: "propeller-bin-" });
  });
  after(async () => {
    await dir?.cleanup();
  });

  const runWithFile = async (yaml: string, extraArgs: string[] = []) => {
    const file = join(dir.path, `propeller-${Math.random().toString(36).slice(2)}.yaml`);
    await writeFile(file, yaml);
    const bin = await spawnBin(BIN, ["--config", file, ...extraArgs]);
    const status = await bin.exited;
    return { file, status, stderr: bin.stderr.join("\n"), stdout: bin.stdout.join("\n") };
  };
  const valid = "clusterId: east\nkubeconfig: /nonexistent\nadmin:\n  url: http://127.0.0.1:1\n";

  test("a bad value in the file", async () => {
    const { file, status, stderr } = await runWithFile(`${valid}workers: abc\n`);
    assert.equal(status.code, 2, stderr);
    assert.match(stderr, /workers: .*expected number/);
    assert.ok(stderr.includes(`(from file ${file} line 5)`), stderr);
  });

  test("an unknown key in the file", async () => {
    const { file, status, stderr } = await runWithFile(`${valid}metrics:\n  prot: 9000\n`);
    assert.equal(status.code, 2, stderr);
    assert.ok(stderr.includes(`metrics.prot: unknown key (from file ${file} line 6)`), stderr);
  });

  test("a bad flag value names the flag; --print-config exits 0", async () => {
    const bad = await runWithFile(valid, ["--lease-duration", "2"]);
    assert.equal(bad.status.code, 2, bad.stderr);
    assert.match(
      bad.stderr,
      /leaderElection\.leaseDuration: expected a duration .*\(from flag --lease-duration\)/,
    );
    const printed = await runWithFile(valid, ["--print-config"]);
    assert.equal(printed.status.code, 0, printed.stderr);
    assert.match(printed.stdout, /^clusterId: east$/m);
  });
});

describe("flotilla-propeller /readyz", () => {
  let cluster: SandboxCluster;
  let dir: TempDir;
  let admin: RecordingAdmin;
  let adminUrl: string;
  let kubeconfigPath: string;

  before(async () => {
    dir = tempDir({ prefix: "propeller-readyz-" });
    cluster = await startCluster({ name: "readyz", kubelet: false });
    kubeconfigPath = join(dir.path, "kubeconfig");
    await writeFile(kubeconfigPath, cluster.kubeconfig);
    admin = new RecordingAdmin();
    adminUrl = await admin.listen();
  });
  after(async () => {
    await admin?.close();
    await cluster?.stop();
    await dir?.cleanup();
  });

  test("answers 503 with the reason until the CRD exists and the caches synced, then 200", async (t) => {
    const bin = await spawnBin(
      BIN,
      [
        "--kubeconfig",
        kubeconfigPath,
        "--cluster-id",
        "readyz",
        "--admin-url",
        adminUrl,
        "--metrics-port",
        "0",
        "--lease-duration",
        "2s",
      ],
      { readyLine: /^\{.*"msg":"serving \/metrics, \/healthz and \/readyz".*\}$/, t },
    );
    const line = JSON.parse(bin.ready?.[0] ?? "{}") as { url?: string; cluster?: string; component?: string };
    assert.equal(line.component, "propeller");
    assert.equal(line.cluster, "readyz");
    const url = line.url;
    assert.ok(url, "the server's URL was logged");

    assert.equal((await fetch(`${url}/healthz`)).status, 200, "alive while waiting for the CRD");
    await eventually(async () => {
      const res = await fetch(`${url}/readyz`);
      assert.equal(res.status, 503);
      assert.match(
        await res.text(),
        /^informer workflows not synced: 404 Not Found: is the resource's CustomResourceDefinition installed\?/,
      );
    });
    assert.ok(!bin.stdout.some((l) => l.startsWith("propeller ready")), "not ready before the CRD exists");

    await installCrd(kubeConfigFrom(cluster.kubeconfig));
    const ready = await bin.waitForLine(/^propeller ready cluster=readyz identity=\S+ metrics=(\S+)$/);
    assert.equal(ready[1], url);
    await eventually(async () => {
      const res = await fetch(`${url}/readyz`);
      assert.equal(res.status, 200, await res.text());
    });
    await eventually(async () =>
      assert.match(
        await (await fetch(`${url}/metrics`)).text(),
        /^flotilla_propeller_leader\{cluster="readyz"\} 1$/m,
      ),
    );

    const stopped = await bin.stop();
    assert.equal(stopped.code, 0, bin.output());
  });
});
