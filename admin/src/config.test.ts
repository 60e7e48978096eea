import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { ConfigError } from "@flotilla/runtime";
import { tempDir } from "@flotilla/testing";
import { loadAdminConfig, resolveAdminConfig } from "./config.js";

function isConfigError(keyPath: string, source?: RegExp) {
  return (e: unknown) =>
    e instanceof ConfigError && e.keyPath === keyPath && (source === undefined || source.test(e.source));
}

describe("resolveAdminConfig", () => {
  it("applies defaults: port 8088, embedded PGlite in ./flotilla-admin-data, file:// blob store", () => {
    const c = resolveAdminConfig(undefined, "/srv/admin");
    assert.equal(c.server.port, 8088);
    assert.equal(c.database.url, undefined);
    assert.equal(c.database.dataDir, "/srv/admin/flotilla-admin-data");
    assert.equal(c.blobStore.url, "file:///srv/admin/flotilla-blobs");
  });

  it("resolves cluster kubeconfig paths against the configuration file's folder", () => {
    const c = resolveAdminConfig({ clusters: [{ name: "a", kubeconfig: "kube/a.yaml" }] }, "/etc/flotilla");
    assert.deepEqual(c.clusters, [{ name: "a", kubeconfig: "/etc/flotilla/kube/a.yaml" }]);
  });

  it("names the offending key of an invalid config", () => {
    assert.throws(() => resolveAdminConfig({ server: { port: 70000 } }), isConfigError("server.port"));
    assert.throws(() => resolveAdminConfig({ sever: {} }), isConfigError("sever"));
    assert.throws(() => resolveAdminConfig({ blobStore: { url: "s3://bucket" } }), /blobStore.url/);
    assert.throws(
      () => resolveAdminConfig({ scheduler: { minInterval: "500ms" } }),
      isConfigError("scheduler.minInterval"),
    );
    assert.throws(() => resolveAdminConfig({ scheduler: { tick: "0s" } }), isConfigError("scheduler.tick"));
    assert.throws(
      () => resolveAdminConfig({ scheduler: { lateAfter: "soon" } }),
      isConfigError("scheduler.lateAfter"),
    );
  });

  it("defaults the scheduler: enabled, 1s tick, 1m minimum interval and lateness", () => {
    assert.deepEqual(resolveAdminConfig({}).scheduler, {
      enabled: true,
      tick: 1000,
      minInterval: 60_000,
      lateAfter: 60_000,
      maxFiresPerTick: 100,
    });
  });
});

describe("the notifications section", () => {
  it("defaults to a running dispatcher with no channel configured (durations in ms)", () => {
    const n = resolveAdminConfig(undefined).notifications;
    assert.equal(n.enabled, true);
    assert.deepEqual(
      [
        n.pollInterval,
        n.batchSize,
        n.maxAttempts,
        n.backoff.initial,
        n.backoff.max,
        n.requestTimeout,
        n.lease,
        n.retention,
      ],
      [1000, 20, 8, 5000, 600_000, 10_000, 60_000, 30 * 86_400_000],
    );
    assert.equal(n.webhook.allowHttp, false);
    assert.equal(n.webhook.signingSecret, undefined);
    assert.equal(n.slack.webhookUrl, undefined);
    assert.equal(n.email.smtp.port, 587);
  });

  it("names the offending key of a bad notifications setting", () => {
    const bad = (notifications: unknown, key: string) =>
      assert.throws(() => resolveAdminConfig({ notifications }), isConfigError(key));
    bad({ lease: "5s", requestTimeout: "10s" }, "notifications.lease");
    bad({ backoff: { initial: "1m", max: "1s" } }, "notifications.backoff.max");
    bad({ webhook: { signingSecret: "short" } }, "notifications.webhook.signingSecret");
    bad({ slack: { webhookUrl: "not a url" } }, "notifications.slack.webhookUrl");
    bad({ email: { smtp: { port: 70000 } } }, "notifications.email.smtp.port");
    bad({ batchSize: 0 }, "notifications.batchSize");
    bad({ webhook: { allowHTTP: true } }, "notifications.webhook.allowHTTP");
  });
});

describe("loadAdminConfig", () => {
  it("lets the environment override the file, with the older variable names kept working", async (t) => {
    const dir = tempDir({ t });
    const file = join(dir.path, "admin.yaml");
    await writeFile(file, "server:\n  port: 9000\ndatabase:\n  dataDir: data\n");
    const { config: c } = await loadAdminConfig({
      argv: ["--config", file],
      env: {
        FLOTILLA_ADMIN_PORT: "9100",
        FLOTILLA_ADMIN_DATABASE_URL: "postgres://db/flotilla",
        FLOTILLA_ADMIN_BLOB_STORE_URL: "file:///blobs/",
      },
    });
    assert.equal(c.server.port, 9100);
    assert.equal(c.database.url, "postgres://db/flotilla");
    assert.equal(c.database.dataDir, join(dir.path, "data"));
    assert.equal(c.blobStore.url, "file:///blobs");
    const { config: viaPath } = await loadAdminConfig({
      argv: ["--config", file, "--host", "127.0.0.1"],
      env: { FLOTILLA_ADMIN_SERVER_PORT: "9200", FLOTILLA_ADMIN_DATA_DIR: "/var/lib/admin" },
    });
    assert.equal(viaPath.server.port, 9200);
    assert.equal(viaPath.server.host, "127.0.0.1");
    assert.equal(viaPath.database.dataDir, "/var/lib/admin");
  });

  it("names the key path and the file line of a bad value or an unknown key", async (t) => {
    const dir = tempDir({ t });
    const file = join(dir.path, "admin.yaml");
    await writeFile(file, 'server:\n  port: "abc"\n');
    await assert.rejects(
      loadAdminConfig({ argv: ["--config", file], env: {} }),
      isConfigError("server.port", /admin\.yaml line 2/),
    );
    await writeFile(file, "server:\n  port: 1\n  colour: blue\n");
    await assert.rejects(
      loadAdminConfig({ argv: ["--config", file], env: {} }),
      isConfigError("server.colour", /admin\.yaml line 3/),
    );
    await assert.rejects(
      loadAdminConfig({ argv: [], env: { FLOTILLA_ADMIN_PORT: "x" } }),
      isConfigError("server.port", /env FLOTILLA_ADMIN_PORT/),
    );
  });
});
