// Test-only support for this package's own tests (not exported): @flotilla/testing builds on this
// package, so db's tests open their two backends themselves.
import { randomBytes } from "node:crypto";
import pg from "pg";
import {
  dumpEmbedded,
  openDatabase,
  type Database,
  type DatabaseKind,
  type OpenDatabaseOptions,
} from "./database.js";

/** Server URL for PostgreSQL-backed tests. */
export const TEST_SERVER_URL =
  process.env.FLOTILLA_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

let reachable: Promise<string | undefined> | undefined;

/** Resolves to undefined when the test server answers, else to the reason it does not. */
export function postgresProblem(): Promise<string | undefined> {
  reachable ??= (async () => {
    const client = new pg.Client({ connectionString: TEST_SERVER_URL, connectionTimeoutMillis: 3000 });
    try {
      await client.connect();
      await client.query("SELECT 1");
      return undefined;
    } catch (err) {
      return err instanceof Error ? err.message || err.name : String(err);
    } finally {
      await client.end().catch(() => {});
    }
  })();
  return reachable;
}

/** A throwaway database on the test server: its URL and a drop function. */
export interface ScratchDatabase {
  url: string;
  drop(): Promise<void>;
}

/** Creates an empty database `flotilla_t_<random>` on the test server. */
export async function createScratchDatabase(): Promise<ScratchDatabase> {
  const name = `flotilla_t_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: TEST_SERVER_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(TEST_SERVER_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: TEST_SERVER_URL });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

/** Which backends the tests run on. */
export const BACKENDS: readonly DatabaseKind[] = ["pglite", "postgres"];

/**
 * Skip reason for the postgres backend outside CI when the server is unreachable; under CI=true
 * the tests run anyway and fail on the connection, as they must.
 */
export async function skipReason(kind: DatabaseKind): Promise<string | undefined> {
  if (kind === "pglite") return undefined;
  const problem = await postgresProblem();
  if (problem === undefined || process.env.CI === "true") return undefined;
  const reason = `PostgreSQL at ${TEST_SERVER_URL} unreachable (${problem}); postgres backend NOT TESTED`;
  // eslint-disable-next-line no-console -- test support: the skip must be loud on the developer's terminal
  console.warn(`\n!!! ${reason} !!!\n`);
  return reason;
}

let emptyTemplate: Promise<Blob> | undefined;

// initdb of a new PGlite costs ~1 s; loading a dumped empty cluster ~0.3 s.
function emptyPgliteDump(): Promise<Blob> {
  emptyTemplate ??= (async () => {
    const db = await openDatabase();
    try {
      return await dumpEmbedded(db);
    } finally {
      await db.close();
    }
  })();
  return emptyTemplate;
}

/** Opens a fresh, empty database of `kind`; `cleanup` closes (and drops) it. */
export async function freshDatabase(
  kind: DatabaseKind,
  options: Omit<OpenDatabaseOptions, "url" | "dataDir"> = {},
): Promise<{ db: Database; url?: string; cleanup: () => Promise<void> }> {
  if (kind === "pglite") {
    const db = await openDatabase({ ...options, loadDataDir: await emptyPgliteDump() });
    return { db, cleanup: () => db.close() };
  }
  const scratch = await createScratchDatabase();
  const db = await openDatabase({ ...options, url: scratch.url });
  return {
    db,
    url: scratch.url,
    async cleanup() {
      await db.close();
      await scratch.drop();
    },
  };
}
