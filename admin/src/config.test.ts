import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AdminConfigError, resolveAdminConfig } from "./config.js";

describe("resolveAdminConfig", () => {
  it("applies defaults: port 8088, embedded PGlite in ./flotilla-admin-data, file:// blob store", () => {
    const c = resolveAdminConfig(undefined, {}, "/srv/admin");
    assert.equal(c.server.port, 8088);
    assert.equal(c.database.url, undefined);
    assert.equal(c.database.dataDir, "/srv/admin/flotilla-admin-data");
    assert.equal(c.blobStore.url, "file:///srv/admin/flotilla-blobs");
  });

  it("lets the environment override the file", () => {
    const c = resolveAdminConfig(
      { server: { port: 9000 }, database: { dataDir: "data" } },
      {
        FLOTILLA_ADMIN_PORT: "9100",
        FLOTILLA_ADMIN_DATABASE_URL: "postgres://db/flotilla",
        FLOTILLA_ADMIN_BLOB_STORE_URL: "file:///blobs/",
      },
      "/srv",
    );
    assert.equal(c.server.port, 9100);
    assert.equal(c.database.url, "postgres://db/flotilla");
    assert.equal(c.blobStore.url, "file:///blobs");
  });

  it("resolves cluster kubeconfig paths against the configuration file's folder", () => {
    const c = resolveAdminConfig(
      { clusters: [{ name: "a", kubeconfig: "kube/a.yaml" }] },
      {},
      "/etc/flotilla",
    );
    assert.deepEqual(c.clusters, [{ name: "a", kubeconfig: "/etc/flotilla/kube/a.yaml" }]);
  });

  it("names the offending key of an invalid config", () => {
    assert.throws(
      () => resolveAdminConfig({ server: { port: 70000 } }, {}),
      (e: unknown) => e instanceof AdminConfigError && e.path === "server.port",
    );
    assert.throws(
      () => resolveAdminConfig({ sever: {} }, {}),
      (e: unknown) => e instanceof AdminConfigError && e.path === "sever",
    );
    assert.throws(() => resolveAdminConfig({ blobStore: { url: "s3://bucket" } }, {}), /blobStore.url/);
  });
});
