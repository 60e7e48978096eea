import { recordingLogger } from "@flotilla/common";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterEach, beforeEach, describe, it } from "node:test";
import { openDatabase, type Database } from "./database.js";
import {
  MigrationChecksumMismatchError,
  MigrationFailedError,
  MigrationFileError,
  MigrationHistoryError,
  migrate,
  migrationsDirOf,
  readMigrations,
} from "./migrate.js";
import { BACKENDS, freshDatabase, skipReason } from "./test-backends.js";

async function migrationsDir(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "flotilla-migrations-"));
  for (const [name, sql] of Object.entries(files)) await writeFile(join(dir, name), sql);
  return dir;
}

const BASE = {
  "0001_create_projects.sql":
    "-- Projects own everything else.\nCREATE TABLE projects (id text PRIMARY KEY);",
  "0002_create_tasks.sql":
    "CREATE TABLE tasks (project text NOT NULL REFERENCES projects(id), name text NOT NULL, PRIMARY KEY (project, name));\nCREATE INDEX tasks_name_idx ON tasks (name);",
  "README.md": "not a migration",
};

for (const kind of BACKENDS) {
  describe(`migrate [${kind}]`, async () => {
    const skip = await skipReason(kind);
    let db: Database;
    let url: string | undefined;
    let cleanup: () => Promise<void>;
    const dirs: string[] = [];
    const dirOf = async (files: Record<string, string>) => {
      const d = await migrationsDir(files);
      dirs.push(d);
      return d;
    };
    beforeEach(async () => {
      if (skip) return;
      ({ db, url, cleanup } = await freshDatabase(kind));
    });
    afterEach(async () => {
      if (!skip) await cleanup();
      for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
    });

    it("applies files in order once and records them", { skip }, async () => {
      const dir = await dirOf(BASE);
      const log = recordingLogger();
      const first = await migrate(db, { dir, log });
      const events = log.records.map((r) => [r.level, r.msg, r.fields.file]);
      assert.deepEqual(events, [
        ["info", "applied migration", "0001_create_projects.sql"],
        ["info", "applied migration", "0002_create_tasks.sql"],
      ]);
      assert.deepEqual(first, {
        applied: ["0001_create_projects.sql", "0002_create_tasks.sql"],
        alreadyApplied: 0,
      });
      const again = await migrate(db, { dir: pathToFileURL(dir) });
      assert.deepEqual(again, { applied: [], alreadyApplied: 2 });

      const { rows } = await db.query<{ version: number; name: string; checksum: string; applied_at: Date }>(
        "SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version",
      );
      const files = await readMigrations(dir);
      assert.deepEqual(
        rows.map((r) => [r.version, r.name, r.checksum]),
        files.map((f) => [f.version, f.name, f.checksum]),
      );
      assert.ok(rows.every((r) => r.applied_at instanceof Date));
      await db.query("INSERT INTO projects VALUES ('p'); INSERT INTO tasks VALUES ('p', 't')");
    });

    it("applies only the new files on a later run", { skip }, async () => {
      await migrate(db, { dir: await dirOf(BASE) });
      const next = await dirOf({
        ...BASE,
        "0003_add_owner.sql": "ALTER TABLE projects ADD COLUMN owner text;",
      });
      assert.deepEqual(await migrate(db, { dir: next }), {
        applied: ["0003_add_owner.sql"],
        alreadyApplied: 2,
      });
      await db.query("INSERT INTO projects (id, owner) VALUES ('p', 'me')");
    });

    it("uses the bookkeeping table it is given", { skip }, async () => {
      await migrate(db, { dir: await dirOf(BASE), table: "admin_migrations" });
      assert.equal((await db.query("SELECT * FROM admin_migrations")).rowCount, 2);
      assert.equal((await db.query("SELECT to_regclass('schema_migrations') AS t")).rows[0].t, null);
    });

    it("refuses to run when an applied file changed, naming the file", { skip }, async () => {
      await migrate(db, { dir: await dirOf(BASE) });
      const edited = await dirOf({
        ...BASE,
        "0002_create_tasks.sql": BASE["0002_create_tasks.sql"] + "\n-- edited",
      });
      await assert.rejects(migrate(db, { dir: edited }), (err: unknown) => {
        assert.ok(err instanceof MigrationChecksumMismatchError);
        assert.equal(err.file, "0002_create_tasks.sql");
        assert.match(err.message, /0002_create_tasks\.sql was changed after it was applied/);
        return true;
      });
    });

    it("rolls back a failing file, keeps the earlier ones, and names the file", { skip }, async () => {
      const dir = await dirOf({
        ...BASE,
        "0003_broken.sql": "CREATE TABLE half_done (id int);\nINSERT INTO no_such_table VALUES (1);",
      });
      await assert.rejects(migrate(db, { dir }), (err: unknown) => {
        assert.ok(err instanceof MigrationFailedError);
        assert.equal(err.file, "0003_broken.sql");
        assert.match(err.message, /no_such_table/);
        return true;
      });
      const { rows } = await db.query<{ name: string }>(
        "SELECT name FROM schema_migrations ORDER BY version",
      );
      assert.deepEqual(
        rows.map((r) => r.name),
        ["0001_create_projects.sql", "0002_create_tasks.sql"],
      );
      assert.equal((await db.query("SELECT to_regclass('half_done') AS t")).rows[0].t, null);
    });

    it("rejects a pending file older than the newest applied one", { skip }, async () => {
      await migrate(db, { dir: await dirOf({ "0001_a.sql": "SELECT 1;", "0003_c.sql": "SELECT 3;" }) });
      const dir = await dirOf({
        "0001_a.sql": "SELECT 1;",
        "0002_b.sql": "SELECT 2;",
        "0003_c.sql": "SELECT 3;",
      });
      await assert.rejects(
        migrate(db, { dir }),
        (err: unknown) => err instanceof MigrationHistoryError && err.file === "0002_b.sql",
      );
    });

    it(
      "rejects an applied file that disappeared, but tolerates newer versions from a later release",
      { skip },
      async () => {
        await migrate(db, {
          dir: await dirOf({
            "0001_a.sql": "SELECT 1;",
            "0002_b.sql": "SELECT 2;",
            "0003_c.sql": "SELECT 3;",
          }),
        });
        const rolledBack = await migrate(db, {
          dir: await dirOf({ "0001_a.sql": "SELECT 1;", "0002_b.sql": "SELECT 2;" }),
        });
        assert.deepEqual(rolledBack, { applied: [], alreadyApplied: 3 });
        await assert.rejects(
          migrate(db, { dir: await dirOf({ "0001_a.sql": "SELECT 1;", "0003_c.sql": "SELECT 3;" }) }),
          (err: unknown) => err instanceof MigrationHistoryError && err.file === "0002_b.sql",
        );
      },
    );

    it("serializes concurrent migrators of the same database", { skip }, async () => {
      // Non-idempotent DDL and a sleep: without the advisory lock the second migrator would see
      // nothing applied yet and fail on the duplicate table or the bookkeeping primary key.
      const dir = await dirOf({
        "0001_slow.sql": "SELECT pg_sleep(0.3);\nCREATE TABLE once_only (id int);",
        "0002_more.sql": "CREATE TABLE also_once (id int);",
      });
      // On PostgreSQL each migrator is a separate Database (its own pool), as two processes would be.
      const other = url ? await openDatabase({ url }) : db;
      try {
        const results = await Promise.all([migrate(db, { dir }), migrate(other, { dir })]);
        const applied = results.map((r) => r.applied.length).sort();
        assert.deepEqual(applied, [0, 2]);
        assert.equal((await db.query("SELECT * FROM schema_migrations")).rowCount, 2);
      } finally {
        if (other !== db) await other.close();
      }
    });
  });
}

describe("readMigrations", () => {
  it("rejects badly named .sql files and duplicate versions", async () => {
    const bad = await migrationsDir({ "1_init.sql": "SELECT 1;" });
    const dup = await migrationsDir({ "0001_a.sql": "SELECT 1;", "0001_b.sql": "SELECT 1;" });
    try {
      await assert.rejects(
        readMigrations(bad),
        (err: unknown) => err instanceof MigrationFileError && err.file === "1_init.sql",
      );
      await assert.rejects(
        readMigrations(dup),
        (err: unknown) => err instanceof MigrationFileError && /also used by 0001_a\.sql/.test(err.message),
      );
    } finally {
      await rm(bad, { recursive: true });
      await rm(dup, { recursive: true });
    }
  });

  it("rejects an invalid table name before touching the database", async () => {
    // Any use of the database fails loudly and is recorded, so the test tells "rejected by the
    // name check" apart from "failed later, on the database".
    const touched: string[] = [];
    const untouchable = new Proxy(
      {},
      {
        get: (_target, prop) => {
          touched.push(String(prop));
          return () => Promise.reject(new Error(`database touched: ${String(prop)}`));
        },
      },
    ) as Database;
    await assert.rejects(
      migrate(untouchable, { dir: ".", table: "x; DROP TABLE y" }),
      (err: unknown) => err instanceof TypeError && /invalid table name "x; DROP TABLE y"/.test(err.message),
    );
    assert.deepEqual(touched, []);
  });
});

describe("migrationsDirOf", () => {
  it("resolves <package>/migrations from a module in src/ or dist/", () => {
    assert.equal(migrationsDirOf("file:///repo/admin/dist/main.js"), "/repo/admin/migrations");
    assert.equal(
      migrationsDirOf(new URL("file:///repo/admin/src/repository/x.ts")),
      "/repo/admin/migrations",
    );
    assert.throws(() => migrationsDirOf("file:///repo/admin/main.js"), TypeError);
  });
});
