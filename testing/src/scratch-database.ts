/**
 * Scratch databases on the PostgreSQL test server: one place that knows how to reach it, name a
 * database, create it and drop it, shared by `eachDatabase`, the e2e harnesses that run real
 * service processes, and the benchmarks.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import type { AfterHook } from "./temp-dir.js";

/** Server used for PostgreSQL-backed tests: `FLOTILLA_TEST_DATABASE_URL` or the local default. */
export const testDatabaseServerUrl: string =
  process.env.FLOTILLA_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

/** `url` with any password replaced by `***`, for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "<unparseable url>";
  }
}

/** Runs `fn` with a client connected to the test server's maintenance database. */
export async function withTestServer<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: testDatabaseServerUrl, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/** URL of database `name` on the test server. */
export function testDatabaseUrl(name: string): string {
  const url = new URL(testDatabaseServerUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** A fresh database name: `prefix` plus 12 random hex characters (a valid unquoted identifier). */
export function randomDatabaseName(prefix: string): string {
  return `${prefix}${randomBytes(6).toString("hex")}`;
}

/** Drops database `name` on the test server, closing its connections first; idempotent. */
export async function dropTestDatabase(name: string): Promise<void> {
  await withTestServer((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
}

/** An empty database of one test on the real PostgreSQL server. */
export interface ScratchDatabase {
  /** Its name, `<prefix><random>`. */
  readonly name: string;
  /** Connection URL. */
  readonly url: string;
  /** Drops it (terminating any connection still open, such as a killed process's); idempotent. */
  drop(): Promise<void>;
}

/**
 * Creates an empty database on the PostgreSQL test server (`FLOTILLA_TEST_DATABASE_URL`), for a
 * test that hands its URL to a real service process (which applies its own migrations). It is
 * dropped by `drop()` and, when `t` is given, when that test or suite ends.
 */
export async function scratchDatabase(
  options: { prefix?: string; t?: AfterHook } = {},
): Promise<ScratchDatabase> {
  const name = randomDatabaseName(options.prefix ?? "flotilla_s_");
  await withTestServer((c) => c.query(`CREATE DATABASE ${name}`));
  let dropped: Promise<void> | undefined;
  const db: ScratchDatabase = {
    name,
    url: testDatabaseUrl(name),
    drop: () => (dropped ??= dropTestDatabase(name)),
  };
  options.t?.after(() => db.drop());
  return db;
}
