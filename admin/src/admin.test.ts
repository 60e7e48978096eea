import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { scratchDatabase, tempDir } from "@flotilla/testing";
import { join } from "node:path";
import { startServer } from "@flotilla/runtime";
import { createAdmin, startAdmin } from "./admin.js";
import { resolveAdminConfig } from "./config.js";
import { silentLogger } from "./logger.js";

describe("startAdmin", () => {
  it("two admins starting together on one fresh PostgreSQL database migrate it exactly once and both serve", async (t) => {
    const scratch = await scratchDatabase({ t });
    const blobs = tempDir({ t });
    const config = resolveAdminConfig({
      server: { port: 0, host: "127.0.0.1" },
      database: { url: scratch.url },
      blobStore: { url: `file://${blobs.path}` },
    });
    const [a, b] = await Promise.all([
      startAdmin(config, { logger: silentLogger }),
      startAdmin(config, { logger: silentLogger }),
    ]);
    t.after(async () => {
      await a.stop();
      await b.stop();
    });
    assert.notEqual(a.port, b.port);
    const files = await a.admin.db.query<{ n: number }>("SELECT count(*)::int AS n FROM schema_migrations");
    const distinct = await a.admin.db.query<{ n: number }>(
      "SELECT count(DISTINCT version)::int AS n FROM schema_migrations",
    );
    assert.ok(files.rows[0].n >= 3);
    assert.equal(files.rows[0].n, distinct.rows[0].n);
    for (const running of [a, b]) {
      const res = await fetch(`${running.url}/readyz`);
      assert.equal(res.status, 200);
    }
  });

  it("/readyz answers 503 with the reason until the admin has started, 200 once its database answers", async (t) => {
    const dir = tempDir({ t });
    const config = resolveAdminConfig({
      database: { dataDir: join(dir.path, "db") },
      blobStore: { url: `file://${join(dir.path, "blobs")}` },
    });
    const admin = await createAdmin(config, { logger: silentLogger });
    const server = await startServer({ ...admin.server, host: "127.0.0.1", port: 0 });
    t.after(async () => {
      await server.close(0);
      await admin.stop();
    });
    const probe = async (path: string) => {
      const res = await fetch(`${server.url}${path}`);
      return [res.status, (await res.text()).trim()];
    };
    assert.deepEqual(await probe("/readyz"), [503, "admin is starting"]);
    assert.deepEqual(await probe("/healthz"), [200, "ok"]);
    await admin.start();
    assert.deepEqual(await probe("/readyz"), [200, "ok"]);
    await admin.stop();
    assert.deepEqual(await probe("/readyz"), [503, "admin is stopping"]);
  });
});
