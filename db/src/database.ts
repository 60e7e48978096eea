import { AsyncLocalStorage } from "node:async_hooks";
import { mkdir, readdir, rm } from "node:fs/promises";
import { PGlite } from "@electric-sql/pglite";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";
import { backoffDelay, silentLogger, sleep, type Logger } from "@flotilla/common";
import pg from "pg";
import { readEmbeddedTemplate } from "./embedded-template.js";
import { operationName, traceStatement } from "./tracing.js";
import {
  DatabaseClosedError,
  DatabaseOpenError,
  QueryOutsideTransactionError,
  isRetryableTransactionError,
  pgErrorCode,
} from "./errors.js";

/** Which engine a {@link Database} runs on. */
export type DatabaseKind = "postgres" | "pglite";

/** A row as returned by the driver: column name to parsed value. */
export type Row = Record<string, unknown>;

/** Result of one statement: its rows (possibly none) and the command's row count. */
export interface QueryResult<T extends Row = Row> {
  rows: T[];
  /** Rows returned or affected, as reported by the command tag (0 when the command has none). */
  rowCount: number;
}

/** Anything that runs SQL: the database itself, or the `tx` of a transaction. */
export interface Queryable {
  /**
   * Runs one statement with `$1..$n` parameters (or, without params, a script of several
   * statements). Returns the rows of the (last) statement. Server errors are rejected as
   * `pg` DatabaseErrors: classify them with `isUniqueViolation` and friends.
   */
  query<T extends Row = Row>(sql: string, params?: readonly unknown[]): Promise<QueryResult<T>>;
}

/** Transaction isolation levels. */
export const Isolation = {
  ReadCommitted: "read committed",
  RepeatableRead: "repeatable read",
  Serializable: "serializable",
} as const;
/** One of {@link Isolation}'s values. */
export type Isolation = (typeof Isolation)[keyof typeof Isolation];

/** Options of {@link Database.transaction}. */
export interface TransactionOptions {
  /** Isolation level; the server default (read committed) when omitted. */
  isolation?: Isolation;
  /** Start the transaction READ ONLY. */
  readOnly?: boolean;
  /**
   * How many times the whole callback is retried after a serialization failure (40001) or a
   * deadlock (40P01). Default 5. The callback must therefore be safe to run again.
   */
  maxRetries?: number;
}

/** Options of {@link openDatabase}. */
export interface OpenDatabaseOptions {
  /**
   * PostgreSQL connection string (`postgres://user:pass@host:5432/db`). When given, the database
   * is that server reached through a `pg.Pool`; when omitted, an embedded PGlite is used.
   */
  url?: string;
  /** Embedded mode only: PGlite data directory (created if missing). In-memory when omitted. */
  dataDir?: string;
  /**
   * Embedded mode only: a PGlite data directory tarball (from `dumpDataDir`) to start from.
   * Used by the test support to clone a migrated template cheaply.
   */
  loadDataDir?: Blob;
  /**
   * Embedded mode only: start a new database (no `dataDir`, or an empty or missing one) from the
   * prebuilt template the build writes (see `embedded-template.ts`), instead of running initdb.
   * Default true; ignored when `loadDataDir` is given or there is no template.
   */
  useTemplate?: boolean;
  /** Where the template comes from (default: the build's file, {@link readEmbeddedTemplate}). */
  templateSource?: () => Promise<Blob | undefined>;
  /** PostgreSQL mode only: pool size (default 10). Embedded mode always uses exactly 1. */
  poolSize?: number;
  /** Receives retry, pool-error and migration events. Silent when omitted. */
  log?: Logger;
}

/**
 * The one handle services use to reach their database. Both kinds speak to PostgreSQL through
 * the same `pg` driver with the same SQL; only where the server lives differs.
 */
export interface Database extends Queryable {
  /** "postgres" for a server given by URL, "pglite" for the embedded engine. */
  readonly kind: DatabaseKind;
  /**
   * Connection string of the server (for embedded mode, the private 127.0.0.1 socket of this
   * process, e.g. for psql while debugging). May contain credentials: do not log it.
   */
  readonly url: string;
  /**
   * Runs `fn` inside BEGIN/COMMIT on one connection, ROLLBACK if it throws. A serialization
   * failure or deadlock rolls back and re-runs `fn` (up to `maxRetries`, with jittered backoff);
   * any other error is rethrown after rollback. Returns what `fn` returned.
   */
  transaction<T>(fn: (tx: Queryable) => Promise<T>, options?: TransactionOptions): Promise<T>;
  /**
   * Runs `fn` with one dedicated connection (session state such as advisory locks or SET stays
   * on it) without opening a transaction. Returns what `fn` returned.
   */
  withConnection<T>(fn: (conn: Queryable) => Promise<T>): Promise<T>;
  /** Closes the pool (and, embedded, the socket server and PGlite). Idempotent. */
  close(): Promise<void>;
}

const DEFAULT_POOL_SIZE = 10;
// The PGlite engine behind each embedded Database, for dumpEmbedded.
const embeddedEngines = new WeakMap<Database, PGlite>();
const DEFAULT_MAX_RETRIES = 5;

/** Waits between retries of a serialization failure or deadlock: 10 ms doubling to 1 s, full jitter. */
const TRANSACTION_RETRY_BACKOFF = { initialMs: 10, maxMs: 1000 } as const;

interface Scope {
  db: PgDatabase;
}

// Which database's transaction callback the current async context is inside.
const transactionScope = new AsyncLocalStorage<Scope>();

function toResult<T extends Row>(res: pg.QueryResult | pg.QueryResult[]): QueryResult<T> {
  const last = Array.isArray(res) ? res[res.length - 1] : res;
  return { rows: (last?.rows ?? []) as T[], rowCount: last?.rowCount ?? 0 };
}

function clientQueryable(client: pg.PoolClient): Queryable {
  return {
    async query<T extends Row = Row>(sql: string, params?: readonly unknown[]): Promise<QueryResult<T>> {
      const res = await traceStatement(operationName(sql), sql, () =>
        client.query(sql, params as unknown[] | undefined),
      );
      return toResult<T>(res as pg.QueryResult | pg.QueryResult[]);
    },
  };
}

function beginStatement(options: TransactionOptions): string {
  let sql = "BEGIN";
  if (options.isolation) {
    if (!Object.values(Isolation).includes(options.isolation)) {
      throw new TypeError(`unknown isolation level ${JSON.stringify(options.isolation)}`);
    }
    sql += ` ISOLATION LEVEL ${options.isolation.toUpperCase()}`;
  }
  if (options.readOnly) sql += " READ ONLY";
  return sql;
}

class PgDatabase implements Database {
  private closed = false;
  private closing: Promise<void> | undefined;

  constructor(
    readonly kind: DatabaseKind,
    readonly url: string,
    private readonly pool: pg.Pool,
    private readonly log: Logger,
    private readonly onClose: () => Promise<void>,
  ) {}

  private guard(sql: string): void {
    if (this.closed) throw new DatabaseClosedError(this.kind);
    if (transactionScope.getStore()?.db === this) throw new QueryOutsideTransactionError(sql);
  }

  async query<T extends Row = Row>(sql: string, params?: readonly unknown[]): Promise<QueryResult<T>> {
    this.guard(sql);
    const res = await traceStatement(operationName(sql), sql, () =>
      this.pool.query(sql, params as unknown[] | undefined),
    );
    return toResult<T>(res as pg.QueryResult | pg.QueryResult[]);
  }

  async withConnection<T>(fn: (conn: Queryable) => Promise<T>): Promise<T> {
    this.guard("<withConnection>");
    const client = await this.pool.connect();
    let broken = false;
    try {
      return await transactionScope.run({ db: this }, () => fn(clientQueryable(client)));
    } catch (err) {
      // A connection-level failure (no SQLSTATE) may leave the session unusable: discard it.
      broken = pgErrorCode(err) === undefined;
      throw err;
    } finally {
      client.release(broken);
    }
  }

  async transaction<T>(fn: (tx: Queryable) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    this.guard("BEGIN");
    const begin = beginStatement(options);
    const maxRetries = options.maxRetries ?? DEFAULT_MAX_RETRIES;
    for (let attempt = 0; ; attempt++) {
      try {
        return await traceStatement("transaction", undefined, () => this.transactionOnce(begin, fn));
      } catch (err) {
        if (!isRetryableTransactionError(err) || attempt >= maxRetries) throw err;
        const backoff = backoffDelay(attempt, TRANSACTION_RETRY_BACKOFF);
        this.log.debug("retrying transaction", { code: pgErrorCode(err), attempt: attempt + 1, backoff });
        await sleep(backoff);
      }
    }
  }

  private async transactionOnce<T>(begin: string, fn: (tx: Queryable) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken = false;
    try {
      await client.query(begin);
      try {
        const result = await transactionScope.run({ db: this }, () => fn(clientQueryable(client)));
        await client.query("COMMIT");
        return result;
      } catch (err) {
        try {
          await client.query("ROLLBACK");
        } catch (rollbackErr) {
          broken = true;
          this.log.warn("rollback failed; discarding connection", { error: String(rollbackErr) });
        }
        throw err;
      }
    } catch (err) {
      if (pgErrorCode(err) === undefined) broken = true;
      throw err;
    } finally {
      client.release(broken);
    }
  }

  close(): Promise<void> {
    if (!this.closing) {
      this.closed = true;
      this.closing = (async () => {
        try {
          await this.pool.end();
        } finally {
          await this.onClose();
        }
      })();
    }
    return this.closing;
  }
}

function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "<unparseable url>";
  }
}

/**
 * Opens the database a service uses.
 *
 * - With `url`: a `pg.Pool` (size `poolSize`, default 10) to that PostgreSQL server. A first
 *   `SELECT 1` checks it answers.
 * - Without `url`: an **embedded PGlite** (in `dataDir`, or in memory) served by
 *   `PGLiteSocketServer` on 127.0.0.1:0 of this process and reached through a `pg.Pool` of
 *   **max 1** connection. PGlite is a single PostgreSQL session and the socket server multiplexes
 *   its clients onto it with no transaction isolation between them, so the embedded database must
 *   serialize: one connection, and every query or transaction waits its turn in the pool's queue.
 *   Throughput is that of one session; correctness (isolation) is the same as on PostgreSQL.
 *
 * Returns the open {@link Database}. Side effects: opens sockets, and in embedded mode starts a
 * PGlite instance and a loopback listener, until `close()`. Rejects with {@link DatabaseOpenError}.
 */
export async function openDatabase(options: OpenDatabaseOptions = {}): Promise<Database> {
  const log: Logger = options.log ?? silentLogger;
  if (options.url !== undefined) {
    if (options.dataDir !== undefined || options.loadDataDir !== undefined) {
      throw new TypeError(
        "openDatabase: dataDir/loadDataDir apply to embedded mode only; do not pass url too",
      );
    }
    const poolSize = options.poolSize ?? DEFAULT_POOL_SIZE;
    if (!Number.isInteger(poolSize) || poolSize < 1) {
      throw new TypeError(`openDatabase: poolSize must be a positive integer, got ${poolSize}`);
    }
    const pool = new pg.Pool({ connectionString: options.url, max: poolSize });
    pool.on("error", (err) => log.warn("idle database connection failed", { error: err.message }));
    try {
      await pool.query("SELECT 1");
    } catch (cause) {
      await pool.end().catch(() => {});
      throw new DatabaseOpenError("postgres", redact(options.url), { cause });
    }
    return new PgDatabase("postgres", options.url, pool, log, async () => {});
  }
  return openEmbedded(options, log);
}

/** Whether an embedded database at `dataDir` would be created from nothing (no or empty directory). */
async function isNewDataDir(dataDir: string | undefined): Promise<boolean> {
  if (dataDir === undefined) return true;
  try {
    return (await readdir(dataDir)).length === 0;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return true;
    throw err;
  }
}

/** Starts the PGlite engine: from `loadDataDir`, else from the template for a new database. */
async function createEngine(options: OpenDatabaseOptions, log: Logger): Promise<PGlite> {
  const dataDir = options.dataDir !== undefined ? { dataDir: options.dataDir } : {};
  if (options.loadDataDir !== undefined)
    return PGlite.create({ ...dataDir, loadDataDir: options.loadDataDir });
  const template =
    options.useTemplate !== false && (await isNewDataDir(options.dataDir))
      ? await (options.templateSource ?? readEmbeddedTemplate)()
      : undefined;
  if (!template) return PGlite.create(dataDir);
  try {
    return await PGlite.create({ ...dataDir, loadDataDir: template });
  } catch (err) {
    // A damaged template must not stop a service: forget what it wrote and run initdb.
    log.warn("embedded database template failed to load; running initdb", {
      error: (err as Error).message,
    });
    if (options.dataDir !== undefined) {
      await rm(options.dataDir, { recursive: true, force: true });
      await mkdir(options.dataDir, { recursive: true });
    }
    return PGlite.create(dataDir);
  }
}

async function openEmbedded(options: OpenDatabaseOptions, log: Logger): Promise<Database> {
  const target = options.dataDir ?? "memory";
  let pglite: PGlite;
  try {
    pglite = await createEngine(options, log);
  } catch (cause) {
    throw new DatabaseOpenError("pglite", target, { cause });
  }
  // maxConnections 2: the pool holds one; the spare lets the pool reconnect while the server is
  // still tearing down a connection the pool discarded.
  const server = new PGLiteSocketServer({ db: pglite, host: "127.0.0.1", port: 0, maxConnections: 2 });
  let pool: pg.Pool | undefined;
  try {
    await server.start();
    const url = `postgres://postgres@${server.getServerConn()}/postgres`;
    pool = new pg.Pool({ connectionString: url, max: 1, idleTimeoutMillis: 0 });
    pool.on("error", (err) => log.warn("embedded database connection failed", { error: err.message }));
    await pool.query("SELECT 1");
    const db = new PgDatabase("pglite", url, pool, log, async () => {
      try {
        await server.stop();
      } finally {
        await pglite.close();
      }
    });
    embeddedEngines.set(db, pglite);
    return db;
  } catch (cause) {
    await pool?.end().catch(() => {});
    await server.stop().catch(() => {});
    await pglite.close().catch(() => {});
    throw new DatabaseOpenError("pglite", target, { cause });
  }
}

/**
 * Writes a PGlite data-directory tarball of an embedded database, to start other embedded
 * databases from with `openDatabase({loadDataDir})`. Only for `kind === "pglite"` databases opened
 * by this module; the database stays usable. Returns the tarball.
 */
export async function dumpEmbedded(db: Database): Promise<Blob> {
  const pglite = embeddedEngines.get(db);
  if (!pglite) throw new TypeError(`dumpEmbedded: database is ${db.kind}, not an embedded PGlite`);
  return pglite.dumpDataDir("none");
}
