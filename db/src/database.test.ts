import { recordingLogger } from "@flotilla/common";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, afterEach, beforeEach, describe, it } from "node:test";
import { dumpEmbedded, openDatabase, type Database } from "./database.js";
import { ensureEmbeddedTemplate } from "./embedded-template.js";
import {
  DatabaseClosedError,
  DatabaseOpenError,
  PgErrorCode,
  QueryOutsideTransactionError,
  asPgError,
  isForeignKeyViolation,
  isSerializationFailure,
  isUniqueViolation,
  pgErrorCode,
} from "./errors.js";
import { BACKENDS, freshDatabase, skipReason } from "./test-backends.js";

const RAISE_SERIALIZATION_FAILURE = `DO $$ BEGIN RAISE EXCEPTION 'conflict' USING ERRCODE = 'serialization_failure'; END $$`;

for (const kind of BACKENDS) {
  describe(`Database [${kind}]`, async () => {
    const skip = await skipReason(kind);
    let db: Database;
    let cleanup: () => Promise<void>;
    beforeEach(async () => {
      if (skip) return;
      ({ db, cleanup } = await freshDatabase(kind, { poolSize: 4 }));
      await db.query(
        `CREATE TABLE parent (id int PRIMARY KEY, name text NOT NULL CONSTRAINT parent_name_key UNIQUE);
         CREATE TABLE child (id int PRIMARY KEY, parent_id int NOT NULL CONSTRAINT child_parent_fk REFERENCES parent(id));
         CREATE TABLE counter (id int PRIMARY KEY, v int NOT NULL);
         INSERT INTO counter VALUES (1, 0);`,
      );
    });
    afterEach(async () => {
      if (!skip) await cleanup();
    });

    it("reports its kind and runs parameterized queries", { skip }, async () => {
      assert.equal(db.kind, kind);
      const inserted = await db.query("INSERT INTO parent (id, name) VALUES ($1, $2), ($3, $4)", [
        1,
        "a",
        2,
        "b",
      ]);
      assert.equal(inserted.rowCount, 2);
      const { rows } = await db.query<{ id: number; name: string }>(
        "SELECT id, name FROM parent WHERE id > $1 ORDER BY id",
        [0],
      );
      assert.deepEqual(rows, [
        { id: 1, name: "a" },
        { id: 2, name: "b" },
      ]);
    });

    it("returns the last result of a multi-statement script", { skip }, async () => {
      const res = await db.query("INSERT INTO parent VALUES (7, 'x'); SELECT name FROM parent WHERE id = 7");
      assert.deepEqual(res.rows, [{ name: "x" }]);
    });

    it("commits a transaction and returns the callback's value", { skip }, async () => {
      const value = await db.transaction(async (tx) => {
        await tx.query("INSERT INTO parent VALUES (1, 'a')");
        return (await tx.query<{ n: string }>("SELECT count(*) AS n FROM parent")).rows[0].n;
      });
      assert.equal(value, "1");
      assert.equal((await db.query("SELECT * FROM parent")).rowCount, 1);
    });

    it("rolls back when the callback throws and rethrows its error", { skip }, async () => {
      const boom = new Error("boom");
      await assert.rejects(
        db.transaction(async (tx) => {
          await tx.query("INSERT INTO parent VALUES (1, 'a')");
          throw boom;
        }),
        (err) => err === boom,
      );
      assert.equal((await db.query("SELECT * FROM parent")).rowCount, 0);
    });

    it(
      "retries a serialization failure and keeps only the successful attempt's writes",
      { skip },
      async () => {
        let attempts = 0;
        const result = await db.transaction(
          async (tx) => {
            attempts++;
            await tx.query("INSERT INTO parent VALUES ($1, $2)", [attempts, `attempt-${attempts}`]);
            if (attempts < 3) await tx.query(RAISE_SERIALIZATION_FAILURE);
            return attempts;
          },
          { isolation: "serializable" },
        );
        assert.equal(result, 3);
        const { rows } = await db.query("SELECT name FROM parent");
        assert.deepEqual(rows, [{ name: "attempt-3" }]);
      },
    );

    it("gives up after maxRetries and rethrows the serialization failure", { skip }, async () => {
      let attempts = 0;
      await assert.rejects(
        db.transaction(
          async (tx) => {
            attempts++;
            await tx.query(RAISE_SERIALIZATION_FAILURE);
          },
          { maxRetries: 2 },
        ),
        (err) => isSerializationFailure(err),
      );
      assert.equal(attempts, 3);
    });

    it("does not retry other errors", { skip }, async () => {
      let attempts = 0;
      await db.query("INSERT INTO parent VALUES (1, 'a')");
      await assert.rejects(
        db.transaction(async (tx) => {
          attempts++;
          await tx.query("INSERT INTO parent VALUES (1, 'again')");
        }),
        (err) => isUniqueViolation(err),
      );
      assert.equal(attempts, 1);
    });

    it("keeps concurrent read-modify-write transactions isolated", { skip }, async () => {
      const n = 12;
      await Promise.all(
        Array.from({ length: n }, () =>
          db.transaction(
            async (tx) => {
              const { rows } = await tx.query<{ v: number }>("SELECT v FROM counter WHERE id = 1");
              await tx.query("UPDATE counter SET v = $1 WHERE id = 1", [rows[0].v + 1]);
            },
            { isolation: "serializable", maxRetries: 50 },
          ),
        ),
      );
      const { rows } = await db.query<{ v: number }>("SELECT v FROM counter WHERE id = 1");
      assert.equal(rows[0].v, n);
    });

    it("refuses db.query inside its own transaction callback", { skip }, async () => {
      await assert.rejects(
        db.transaction(async () => {
          await db.query("SELECT 1");
        }),
        QueryOutsideTransactionError,
      );
      await assert.rejects(
        db.transaction(() => db.transaction(async () => 1)),
        QueryOutsideTransactionError,
      );
    });

    it("keeps session state on one connection in withConnection", { skip }, async () => {
      const value = await db.withConnection(async (conn) => {
        await conn.query("SET application_name = 'flotilla-test'");
        return (await conn.query<{ a: string }>("SELECT current_setting('application_name') AS a")).rows[0].a;
      });
      assert.equal(value, "flotilla-test");
    });

    it("classifies unique and foreign-key violations with their constraint", { skip }, async () => {
      await db.query("INSERT INTO parent VALUES (1, 'a')");
      const dup = await db.query("INSERT INTO parent VALUES (2, 'a')").then(
        () => assert.fail("expected a unique violation"),
        (err: unknown) => err,
      );
      assert.ok(isUniqueViolation(dup));
      assert.ok(isUniqueViolation(dup, "parent_name_key"));
      assert.equal(isUniqueViolation(dup, "other_key"), false);
      assert.equal(asPgError(dup)?.constraint, "parent_name_key");
      assert.equal(isForeignKeyViolation(dup), false);

      const fk = await db.query("INSERT INTO child VALUES (1, 99)").then(
        () => assert.fail("expected a foreign-key violation"),
        (err: unknown) => err,
      );
      assert.ok(isForeignKeyViolation(fk, "child_parent_fk"));
      assert.equal(pgErrorCode(fk), PgErrorCode.ForeignKeyViolation);
      // Wrapped errors still classify through their cause.
      assert.ok(isForeignKeyViolation(new Error("repository failed", { cause: fk })));
    });

    it("fails with DatabaseClosedError after close, and close is idempotent", { skip }, async () => {
      await db.close();
      await db.close();
      await assert.rejects(db.query("SELECT 1"), DatabaseClosedError);
    });
  });
}

describe("error helpers", () => {
  it("do not classify errors without a SQLSTATE", () => {
    const plain = Object.assign(new Error("ECONNREFUSED"), { code: "ECONNREFUSED" });
    assert.equal(asPgError(plain), undefined);
    assert.equal(isUniqueViolation(plain), false);
    assert.equal(isSerializationFailure("40001"), false);
    assert.equal(pgErrorCode(undefined), undefined);
  });
});

describe("openDatabase", () => {
  const dirs: string[] = [];
  after(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it("rejects an unreachable server with DatabaseOpenError and hides the password", async () => {
    await assert.rejects(
      openDatabase({ url: "postgres://flotilla:s3cret@127.0.0.1:1/none" }),
      (err: unknown) => {
        assert.ok(err instanceof DatabaseOpenError);
        assert.equal(err.kind, "postgres");
        assert.doesNotMatch(err.message, /s3cret/);
        assert.match(err.message, /127\.0\.0\.1:1/);
        return true;
      },
    );
  });

  it("rejects invalid option combinations", async () => {
    await assert.rejects(openDatabase({ url: "postgres://x@127.0.0.1/x", dataDir: "/tmp/x" }), TypeError);
    await assert.rejects(openDatabase({ url: "postgres://x@127.0.0.1/x", poolSize: 0 }), TypeError);
  });

  it("persists an embedded database in its data directory across reopen", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "flotilla-db-"));
    dirs.push(dataDir);
    const first = await openDatabase({ dataDir });
    assert.equal(first.kind, "pglite");
    assert.match(first.url, /^postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres$/);
    await first.query("CREATE TABLE kept (v text); INSERT INTO kept VALUES ('still here')");
    await first.close();
    const second = await openDatabase({ dataDir });
    try {
      assert.deepEqual((await second.query("SELECT v FROM kept")).rows, [{ v: "still here" }]);
    } finally {
      await second.close();
    }
  });

  it("starts a new embedded database from the template, and an existing one from its own files", async () => {
    const source = await openDatabase({ useTemplate: false });
    await source.query("CREATE TABLE from_template (v text); INSERT INTO from_template VALUES ('seeded')");
    const template = await dumpEmbedded(source);
    await source.close();
    const dataDir = await mkdtemp(join(tmpdir(), "flotilla-db-tpl-"));
    dirs.push(dataDir);
    let loads = 0;
    const templateSource = () => {
      loads++;
      return Promise.resolve(template);
    };
    const first = await openDatabase({ dataDir, templateSource });
    await first.query("INSERT INTO from_template VALUES ('added')");
    await first.close();
    const second = await openDatabase({ dataDir, templateSource });
    try {
      assert.deepEqual((await second.query("SELECT v FROM from_template ORDER BY v")).rows, [
        { v: "added" },
        { v: "seeded" },
      ]);
      assert.equal(loads, 1, "the template is read only for a new data directory");
    } finally {
      await second.close();
    }
  });

  it("runs initdb when the template is damaged, and says so", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "flotilla-db-bad-tpl-"));
    dirs.push(dataDir);
    const log = recordingLogger();
    const db = await openDatabase({
      dataDir,
      templateSource: () => Promise.resolve(new Blob(["not a tarball"])),
      log,
    });
    const warnings = log.records.filter((r) => r.level === "warn").map((r) => r.msg);
    try {
      assert.deepEqual((await db.query("SELECT 1 AS one")).rows, [{ one: 1 }]);
      assert.deepEqual(warnings, ["embedded database template failed to load; running initdb"]);
    } finally {
      await db.close();
    }
  });

  it("the build's template exists for the installed PGlite and is written only once", async () => {
    const first = await ensureEmbeddedTemplate();
    assert.ok(existsSync(first.path), first.path);
    assert.match(first.path, /pglite-template-\d+\.\d+\.\d+\.tar\.gz$/);
    const again = await ensureEmbeddedTemplate();
    assert.deepEqual(again, { path: first.path, created: false });
  });
});
