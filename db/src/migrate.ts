import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { silentLogger, type Logger } from "@flotilla/common";
import type { Database, Queryable } from "./database.js";

/** Options of {@link migrate}. */
export interface MigrateOptions {
  /** Directory holding `NNNN_purpose.sql` files (a path or a `file:` URL). */
  dir: string | URL;
  /** Bookkeeping table, optionally schema-qualified. Default `schema_migrations`. */
  table?: string;
  /** Receives one "info" event per applied file (name, duration). */
  log?: Logger;
}

/** One migration file found in the directory. */
export interface MigrationFile {
  /** The `NNNN` prefix as a number. */
  version: number;
  /** File name, e.g. `0001_create_executions.sql`. */
  name: string;
  /** Hex SHA-256 of the file's bytes. */
  checksum: string;
  /** Absolute path. */
  path: string;
}

/** What {@link migrate} did. */
export interface MigrateResult {
  /** Files applied by this call, in order. */
  applied: string[];
  /** Number of files that were already applied before this call. */
  alreadyApplied: number;
}

/** A file in the migrations directory is not named `NNNN_purpose.sql` or reuses a version. */
export class MigrationFileError extends Error {
  override readonly name = "MigrationFileError";
  constructor(
    readonly file: string,
    readonly reason: string,
  ) {
    super(`migration file ${file}: ${reason}`);
  }
}

/** An applied migration's file was edited after it ran (its checksum changed). */
export class MigrationChecksumMismatchError extends Error {
  override readonly name = "MigrationChecksumMismatchError";
  constructor(
    readonly file: string,
    readonly appliedChecksum: string,
    readonly currentChecksum: string,
  ) {
    super(
      `migration ${file} was changed after it was applied (applied checksum ${appliedChecksum.slice(0, 12)}, ` +
        `file now ${currentChecksum.slice(0, 12)}): add a new migration instead of editing an applied one`,
    );
  }
}

/**
 * The database's applied history and the directory disagree: a file is pending below the
 * newest applied version, or an applied version has no file (and is not newer than every file).
 */
export class MigrationHistoryError extends Error {
  override readonly name = "MigrationHistoryError";
  constructor(
    readonly file: string,
    readonly reason: string,
  ) {
    super(`migration ${file}: ${reason}`);
  }
}

/** A migration file failed to apply; its transaction was rolled back. `cause` is the SQL error. */
export class MigrationFailedError extends Error {
  override readonly name = "MigrationFailedError";
  constructor(
    readonly file: string,
    options: { cause: unknown },
  ) {
    const reason = options.cause instanceof Error ? options.cause.message : String(options.cause);
    super(`migration ${file} failed and was rolled back: ${reason}`, options);
  }
}

const FILE_NAME = /^(\d{4})_([a-z0-9][a-z0-9_-]*)\.sql$/;
const TABLE_NAME = /^(?:[a-z_][a-z0-9_]*\.)?[a-z_][a-z0-9_]*$/;
// First key of the two-int advisory lock: "FLOT" in ASCII; the second is hashtext(table).
const LOCK_CLASS = 0x464c4f54;

/**
 * Lists the migration files of `dir` in version order, with checksums. Files that do not end in
 * `.sql` are ignored (READMEs); a `.sql` file with another name, or two files with one version,
 * throw {@link MigrationFileError}.
 */
export async function readMigrations(dir: string | URL): Promise<MigrationFile[]> {
  const path = typeof dir === "string" ? dir : fileURLToPath(dir);
  const files: MigrationFile[] = [];
  const seen = new Map<number, string>();
  for (const name of (await readdir(path)).sort()) {
    if (!name.endsWith(".sql")) continue;
    const match = FILE_NAME.exec(name);
    if (!match)
      throw new MigrationFileError(
        name,
        "name must be NNNN_purpose.sql (lowercase, e.g. 0001_create_tasks.sql)",
      );
    const version = Number(match[1]);
    const previous = seen.get(version);
    if (previous) throw new MigrationFileError(name, `version ${match[1]} is also used by ${previous}`);
    seen.set(version, name);
    const bytes = await readFile(join(path, name));
    files.push({
      version,
      name,
      path: join(path, name),
      checksum: createHash("sha256").update(bytes).digest("hex"),
    });
  }
  return files;
}

/**
 * Resolves a service's migrations directory from a module inside the package (pass
 * `import.meta.url`): `<package root>/migrations`, where the package root is the parent of the
 * module's `src/` or `dist/` folder. Returns an absolute path.
 */
export function migrationsDirOf(moduleUrl: string | URL, folder = "migrations"): string {
  const file = fileURLToPath(moduleUrl);
  const marker = /[\\/](?:src|dist)[\\/]/.exec(file);
  if (!marker) throw new TypeError(`migrationsDirOf: ${file} is not inside a package's src/ or dist/ folder`);
  return join(file.slice(0, marker.index), folder);
}

interface AppliedRow {
  version: number;
  name: string;
  checksum: string;
  [key: string]: unknown;
}

/**
 * Brings the database's schema up to date with the `NNNN_purpose.sql` files of `dir`.
 *
 * Holds a session-level `pg_advisory_lock` for the whole run, so concurrent migrators of one
 * database (several replicas starting at once) apply each file exactly once: the others wait,
 * then find nothing left to do. Creates the bookkeeping table
 * `schema_migrations(version, name, checksum, applied_at)` if missing. Refuses to run
 * ({@link MigrationChecksumMismatchError}) if an applied file changed, and
 * ({@link MigrationHistoryError}) if a pending file is older than the newest applied one or an
 * applied file disappeared; versions newer than every local file are tolerated (a newer release
 * migrated this database; rolling back the binary must still start). Each pending file runs in
 * its own transaction together with its bookkeeping row; a failure rolls that file back and
 * throws {@link MigrationFailedError}. Statements that cannot run in a transaction
 * (`CREATE INDEX CONCURRENTLY`) are therefore not supported.
 *
 * Returns the files applied by this call.
 */
export async function migrate(db: Database, options: MigrateOptions): Promise<MigrateResult> {
  const table = options.table ?? "schema_migrations";
  if (!TABLE_NAME.test(table)) throw new TypeError(`migrate: invalid table name ${JSON.stringify(table)}`);
  const files = await readMigrations(options.dir);
  return db.withConnection(async (conn) => {
    await conn.query("SELECT pg_advisory_lock($1, hashtext($2))", [LOCK_CLASS, table]);
    try {
      return await migrateLocked(conn, table, files, options.log ?? silentLogger);
    } finally {
      await conn.query("SELECT pg_advisory_unlock($1, hashtext($2))", [LOCK_CLASS, table]);
    }
  });
}

async function migrateLocked(
  conn: Queryable,
  table: string,
  files: MigrationFile[],
  log: Logger,
): Promise<MigrateResult> {
  await conn.query(
    `CREATE TABLE IF NOT EXISTS ${table} (
       version integer PRIMARY KEY,
       name text NOT NULL,
       checksum text NOT NULL,
       applied_at timestamptz NOT NULL DEFAULT now()
     )`,
  );
  const { rows } = await conn.query<AppliedRow>(
    `SELECT version, name, checksum FROM ${table} ORDER BY version`,
  );
  const applied = new Map(rows.map((r) => [Number(r.version), r]));
  const newestLocal = files.length ? files[files.length - 1].version : 0;
  const newestApplied = rows.length ? Number(rows[rows.length - 1].version) : 0;

  for (const row of rows) {
    const version = Number(row.version);
    const file = files.find((f) => f.version === version);
    if (!file) {
      if (version > newestLocal) continue;
      throw new MigrationHistoryError(row.name, "was applied to this database but its file is missing");
    }
    if (file.checksum !== row.checksum)
      throw new MigrationChecksumMismatchError(file.name, row.checksum, file.checksum);
  }
  const pending = files.filter((f) => !applied.has(f.version));
  const early = pending.find((f) => f.version < newestApplied);
  if (early) {
    throw new MigrationHistoryError(
      early.name,
      `is pending but a newer migration (version ${newestApplied}) is already applied; renumber it after the newest`,
    );
  }

  const done: string[] = [];
  for (const file of pending) {
    const sql = await readFile(file.path, "utf8");
    const started = Date.now();
    await conn.query("BEGIN");
    try {
      await conn.query(sql);
      await conn.query(`INSERT INTO ${table} (version, name, checksum) VALUES ($1, $2, $3)`, [
        file.version,
        file.name,
        file.checksum,
      ]);
      await conn.query("COMMIT");
    } catch (cause) {
      await conn.query("ROLLBACK").catch(() => {});
      throw new MigrationFailedError(file.name, { cause });
    }
    done.push(file.name);
    log.info("applied migration", { file: file.name, table, ms: Date.now() - started });
  }
  return { applied: done, alreadyApplied: rows.length };
}
