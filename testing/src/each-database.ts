import { fileURLToPath } from "node:url";
import { after, beforeEach, describe, it } from "node:test";
import {
  dumpEmbedded,
  migrate,
  openDatabase,
  readMigrations,
  type Database,
  type DatabaseKind,
} from "@flotilla/db";
import {
  dropTestDatabase,
  randomDatabaseName,
  redactUrl,
  testDatabaseServerUrl,
  testDatabaseUrl,
  withTestServer,
} from "./scratch-database.js";

/** Options of {@link eachDatabase}. */
export interface EachDatabaseOptions {
  /** The service's migrations directory (path or `file:` URL); applied to every test's database. */
  migrations: string | URL;
  /** Bookkeeping table passed to `migrate` (default `schema_migrations`). */
  table?: string;
  /** Backends to run on (default both: `["pglite", "postgres"]`). */
  backends?: readonly DatabaseKind[];
}

/** What a suite body of {@link eachDatabase} gets. */
export interface DatabaseTestContext {
  /** The backend this copy of the suite runs on. */
  readonly kind: DatabaseKind;
  /**
   * The current test's own database, freshly created with the migrations applied (opened in a
   * `beforeEach` registered before the body's hooks, so nested describes get it too; closed and
   * dropped when the next test starts or the suite ends, so the body's `afterEach` hooks still
   * see it). Throws outside a test and its hooks.
   */
  db(): Database;
}

/** PostgreSQL could not be reached while CI=true, where a missing backend is a failure. */
export class TestDatabaseUnavailableError extends Error {
  override readonly name = "TestDatabaseUnavailableError";
  constructor(
    readonly url: string,
    readonly reason: string,
  ) {
    super(
      `PostgreSQL test server ${redactUrl(url)} is unreachable (${reason}). CI=true requires it: start PostgreSQL ` +
        `(see .ci/run) or point FLOTILLA_TEST_DATABASE_URL at a server that may create databases.`,
    );
  }
}

function errorText(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length) return errorText(err.errors[0]);
  return err instanceof Error ? err.message || (err as NodeJS.ErrnoException).code || err.name : String(err);
}

let postgresProbe: Promise<string | undefined> | undefined;

/** Resolves to undefined when the test server answers, else to why not. Probed once per process. */
function postgresProblem(): Promise<string | undefined> {
  postgresProbe ??= withTestServer(async (client) => {
    await client.query("SELECT 1");
  }).then(
    () => undefined,
    (err: unknown) => errorText(err),
  );
  return postgresProbe;
}

/** Creates and destroys the per-test databases of one backend for one suite. */
interface Backend {
  create(): Promise<Database>;
  destroy(db: Database): Promise<void>;
  dispose(): Promise<void>;
}

// One migrated PGlite cluster per migrations directory (and content) per process, dumped once;
// each test loads the dump (~0.3 s) instead of running initdb and the migrations (~1 s and up).
const pgliteTemplates = new Map<string, Promise<Blob>>();

async function templateKey(options: EachDatabaseOptions): Promise<string> {
  const files = await readMigrations(options.migrations);
  return JSON.stringify([options.table ?? "", files.map((f) => [f.name, f.checksum])]);
}

function pgliteBackend(options: EachDatabaseOptions): Backend {
  const template = async (): Promise<Blob> => {
    const key = await templateKey(options);
    let dump = pgliteTemplates.get(key);
    if (!dump) {
      dump = (async () => {
        const db = await openDatabase();
        try {
          await migrate(db, { dir: options.migrations, ...(options.table ? { table: options.table } : {}) });
          return await dumpEmbedded(db);
        } finally {
          await db.close();
        }
      })();
      pgliteTemplates.set(key, dump);
      dump.catch(() => pgliteTemplates.delete(key));
    }
    return dump;
  };
  return {
    async create() {
      return openDatabase({ loadDataDir: await template() });
    },
    destroy: (db) => db.close(),
    async dispose() {},
  };
}

function postgresBackend(options: EachDatabaseOptions): Backend {
  // A template database migrated once per suite; each test's database is a copy of it, which
  // carries the real migrations (and their schema_migrations rows) without re-running them.
  let template: Promise<string> | undefined;
  const created = new Set<string>();
  const makeTemplate = async (): Promise<string> => {
    const name = randomDatabaseName("flotilla_tpl_");
    await withTestServer((c) => c.query(`CREATE DATABASE ${name}`));
    created.add(name);
    const db = await openDatabase({ url: testDatabaseUrl(name), poolSize: 1 });
    try {
      await migrate(db, { dir: options.migrations, ...(options.table ? { table: options.table } : {}) });
    } finally {
      await db.close();
    }
    return name;
  };
  const drop = async (name: string) => {
    await dropTestDatabase(name);
    created.delete(name);
  };
  return {
    async create() {
      template ??= makeTemplate();
      const source = await template;
      const name = randomDatabaseName("flotilla_t_");
      await withTestServer((c) => c.query(`CREATE DATABASE ${name} TEMPLATE ${source}`));
      created.add(name);
      return openDatabase({ url: testDatabaseUrl(name), poolSize: 4 });
    },
    async destroy(db) {
      await db.close();
      await drop(new URL(db.url).pathname.slice(1));
    },
    async dispose() {
      for (const name of [...created]) await drop(name);
    },
  };
}

/**
 * Registers the suite `body` once per backend — embedded PGlite and real PostgreSQL — as
 * `describe("<suiteName> [pglite]")` and `describe("<suiteName> [postgres]")`. Every test in it
 * gets a fresh database with the real migrations of `options.migrations` applied, through
 * `ctx.db()`: on PostgreSQL a new `flotilla_t_<random>` database on the server of
 * `FLOTILLA_TEST_DATABASE_URL` (copied from a per-suite migrated template, dropped after the
 * test), on PGlite a new in-memory instance loaded from a migrated template dump.
 *
 * When PostgreSQL is unreachable: with CI=true the suite's tests fail with
 * {@link TestDatabaseUnavailableError}; otherwise that backend is skipped with a loud warning.
 */
export function eachDatabase(
  suiteName: string,
  options: EachDatabaseOptions,
  body: (ctx: DatabaseTestContext) => void | Promise<void>,
): void {
  const backends = options.backends ?? ["pglite", "postgres"];
  const migrationsPath =
    typeof options.migrations === "string" ? options.migrations : fileURLToPath(options.migrations);
  for (const kind of backends) {
    describe(`${suiteName} [${kind}]`, async () => {
      if (kind === "postgres") {
        const problem = await postgresProblem();
        if (problem !== undefined) {
          if (process.env.CI === "true") {
            const error = new TestDatabaseUnavailableError(testDatabaseServerUrl, problem);
            it(`needs PostgreSQL at ${redactUrl(testDatabaseServerUrl)}`, () => {
              throw error;
            });
            return;
          }
          const reason = `PostgreSQL at ${redactUrl(testDatabaseServerUrl)} unreachable (${problem}): postgres backend NOT TESTED`;
          process.stderr.write(`\n!!! ${suiteName}: ${reason} !!!\n\n`);
          it(`${suiteName} on PostgreSQL`, { skip: reason }, () => {});
          return;
        }
      }
      const backend = kind === "pglite" ? pgliteBackend(options) : postgresBackend(options);
      let current: Database | undefined;
      const ctx: DatabaseTestContext = {
        kind,
        db() {
          if (!current) {
            throw new Error(
              `ctx.db() of eachDatabase("${suiteName}") is only available inside a test (or a beforeEach/afterEach)`,
            );
          }
          return current;
        },
      };
      // The previous test's database is destroyed when the next test starts (and the last one
      // when the suite ends), not in an afterEach: node:test copies a suite's hooks into nested
      // suites when they are declared, so a hook registered after the body would miss the tests
      // of a nested describe, and one registered before it would run before the body's own
      // afterEach hooks, which may still use ctx.db().
      const release = async () => {
        const db = current;
        current = undefined;
        if (db) await backend.destroy(db);
      };
      beforeEach(async () => {
        await release();
        try {
          current = await backend.create();
        } catch (err) {
          throw new Error(
            `eachDatabase("${suiteName}") [${kind}]: cannot create a test database migrated from ${migrationsPath}: ${errorText(err)}`,
            { cause: err },
          );
        }
      });
      await body(ctx);
      after(async () => {
        await release();
        await backend.dispose();
      });
    });
  }
}
