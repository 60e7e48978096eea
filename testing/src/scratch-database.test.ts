import assert from "node:assert/strict";
import { describe, it } from "node:test";
import pg from "pg";
import { scratchDatabase, withTestServer } from "./scratch-database.js";

async function exists(name: string): Promise<boolean> {
  const r = await withTestServer((c) => c.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]));
  return r.rowCount === 1;
}

describe("scratchDatabase", () => {
  it("creates an empty database a client can use, and drop() removes it even with a connection open", async () => {
    const db = await scratchDatabase({ prefix: "flotilla_scratch_test_" });
    assert.match(db.name, /^flotilla_scratch_test_[0-9a-f]{12}$/);
    assert.ok(await exists(db.name));
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    client.on("error", () => {}); // the drop terminates this connection
    const tables = await client.query("SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'");
    assert.equal(tables.rows[0].n, 0, "it starts empty");
    await db.drop();
    await db.drop();
    assert.equal(await exists(db.name), false);
    await client.end().catch(() => {});
  });
});
