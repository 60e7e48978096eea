import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, it } from "node:test";
import { isUniqueViolation } from "@flotilla/db";
import pg from "pg";
import { eachDatabase } from "./each-database.js";
import { testDatabaseServerUrl } from "./scratch-database.js";

const migrations = new URL("../fixtures/migrations/", import.meta.url);

async function databasesNamed(name: string): Promise<unknown[]> {
  const admin = new pg.Client({ connectionString: testDatabaseServerUrl });
  await admin.connect();
  try {
    return (await admin.query("SELECT datname FROM pg_database WHERE datname = $1", [name])).rows;
  } finally {
    await admin.end();
  }
}

eachDatabase("eachDatabase", { migrations }, (ctx) => {
  let seenInBeforeEach: string[] = [];
  beforeEach(async () => {
    const { rows } = await ctx.db().query<{ name: string }>("SELECT name FROM widgets ORDER BY name");
    seenInBeforeEach = rows.map((r) => r.name);
  });
  // Runs before eachDatabase closes the database: this query would throw otherwise.
  afterEach(async () => {
    assert.equal((await ctx.db().query("SELECT 1 AS one")).rows[0]?.one, 1);
  });

  it("hands the body's beforeEach a database with the migrations applied", async () => {
    assert.deepEqual(seenInBeforeEach, ["gear", "sprocket"]);
    const { rows } = await ctx
      .db()
      .query<{ name: string }>("SELECT name FROM schema_migrations ORDER BY version");
    assert.deepEqual(
      rows.map((r) => r.name),
      ["0001_create_widgets.sql", "0002_seed_widgets.sql"],
    );
  });

  // The next two tests write the same unique name: each passes only on a database of its own.
  it("gives each test a fresh database (first writer)", async () => {
    await ctx.db().query("INSERT INTO widgets (name) VALUES ('flange')");
    assert.equal((await ctx.db().query("SELECT * FROM widgets")).rowCount, 3);
  });

  it("gives each test a fresh database (second writer)", async () => {
    await ctx.db().query("INSERT INTO widgets (name) VALUES ('flange')");
    assert.equal((await ctx.db().query("SELECT * FROM widgets")).rowCount, 3);
    await assert.rejects(ctx.db().query("INSERT INTO widgets (name) VALUES ('flange')"), (err: unknown) =>
      isUniqueViolation(err, "widgets_name_key"),
    );
  });

  it("runs on the backend it names", async () => {
    assert.equal(ctx.db().kind, ctx.kind);
    if (ctx.kind === "postgres") assert.match(new URL(ctx.db().url).pathname, /^\/flotilla_t_[0-9a-f]{12}$/);
  });

  // node:test copies a suite's hooks into a nested suite when it is declared: the database must
  // still be created for, and dropped after, each test of a nested describe.
  describe("in a nested describe", () => {
    let nestedPrevious = "";
    it("gets a fresh database (first writer)", async () => {
      await ctx.db().query("INSERT INTO widgets (name) VALUES ('flange')");
      assert.equal((await ctx.db().query("SELECT * FROM widgets")).rowCount, 3);
      nestedPrevious = ctx.db().url;
    });

    it("gets a fresh database (second writer), the first one dropped", async () => {
      await ctx.db().query("INSERT INTO widgets (name) VALUES ('flange')");
      assert.equal((await ctx.db().query("SELECT * FROM widgets")).rowCount, 3);
      if (ctx.kind !== "postgres") return;
      assert.ok(nestedPrevious, "previous test did not run");
      assert.notEqual(ctx.db().url, nestedPrevious);
      assert.deepEqual(await databasesNamed(new URL(nestedPrevious).pathname.slice(1)), []);
    });
  });

  if (ctx.kind === "postgres") {
    let previous = "";
    it("creates a database on the test server (remembered for the next test)", () => {
      previous = new URL(ctx.db().url).pathname.slice(1);
      assert.notEqual(ctx.db().url, testDatabaseServerUrl);
    });

    it("drops each test's database after the test", async () => {
      assert.ok(previous, "previous test did not run");
      assert.deepEqual(await databasesNamed(previous), []);
    });
  }
});

eachDatabase("ctx.db() outside a test", { migrations, backends: ["pglite"] }, (ctx) => {
  // The body runs while the suite is being registered, outside any test.
  let outside: unknown;
  try {
    ctx.db();
  } catch (err) {
    outside = err;
  }
  it("throws a clear error", () => {
    assert.ok(outside instanceof Error, "ctx.db() did not throw outside a test");
    assert.match(
      outside.message,
      /ctx\.db\(\) of eachDatabase\("ctx\.db\(\) outside a test"\) is only available inside a test/,
    );
  });
});

async function runUnreachable(ci: boolean): Promise<{ code: number | null; output: string }> {
  const file = fileURLToPath(new URL("../fixtures/unreachable-postgres.mjs", import.meta.url));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    FLOTILLA_TEST_DATABASE_URL: "postgres://postgres@127.0.0.1:1/postgres",
  };
  delete env.NODE_TEST_CONTEXT;
  if (ci) env.CI = "true";
  else delete env.CI;
  const child = spawn(process.execPath, ["--test", "--test-reporter=spec", file], {
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr.on("data", (d: Buffer) => (output += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  return { code, output };
}

describe("eachDatabase with PostgreSQL unreachable", () => {
  it("fails the suite with a clear message when CI=true", async () => {
    const { code, output } = await runUnreachable(true);
    assert.notEqual(code, 0, output);
    assert.match(
      output,
      /PostgreSQL test server postgres:\/\/postgres@127\.0\.0\.1:1\/postgres is unreachable/,
    );
    assert.match(output, /CI=true requires it/);
    assert.match(output, /fail 1/);
  });

  it("skips that backend loudly outside CI", async () => {
    const { code, output } = await runUnreachable(false);
    assert.equal(code, 0, output);
    assert.match(output, /!!! unreachable: PostgreSQL at .* unreachable .*postgres backend NOT TESTED !!!/);
    assert.match(output, /skipped 1/);
  });
});
