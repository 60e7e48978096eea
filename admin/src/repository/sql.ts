import { isUniqueViolation, type Database, type Queryable, type QueryResult, type Row } from "@flotilla/db";
import { AlreadyExistsError, InvalidArgumentError } from "../errors.js";

/** Receives the duration of every repository query, labelled by a bounded operation name. */
export type QueryObserver = (operation: string, seconds: number) => void;

/** An observer that records nothing. */
export const noQueryObserver: QueryObserver = () => {};

/**
 * Runs one statement on `q`, reporting its latency to `observe` under `operation`, and
 * translates a unique violation into {@link AlreadyExistsError} for `kind`/`id` (the one place
 * driver errors become domain errors). Returns the driver result.
 */
export async function run<T extends Row = Row>(
  q: Queryable,
  observe: QueryObserver,
  operation: string,
  sql: string,
  params: readonly unknown[] = [],
  conflict?: { kind: string; id: string },
): Promise<QueryResult<T>> {
  const start = process.hrtime.bigint();
  try {
    return await q.query<T>(sql, params);
  } catch (err) {
    if (conflict && isUniqueViolation(err)) throw new AlreadyExistsError(conflict.kind, conflict.id);
    throw err;
  } finally {
    observe(operation, Number(process.hrtime.bigint() - start) / 1e9);
  }
}

/**
 * Base of admin's PostgreSQL repositories: the database, the query observer every statement
 * reports to, and readers of one row or all rows of a statement.
 */
export abstract class PostgresRepository {
  constructor(
    protected readonly db: Database,
    protected readonly observe: QueryObserver = noQueryObserver,
  ) {}

  /** Runs a read on the database and maps its first row, or returns undefined when there is none. */
  protected async first<T>(
    operation: string,
    sql: string,
    params: readonly unknown[],
    map: (row: Row) => T,
  ): Promise<T | undefined> {
    const res = await run(this.db, this.observe, operation, sql, params);
    return res.rows[0] ? map(res.rows[0]) : undefined;
  }

  /**
   * Runs a read on the database for one page: appends `LIMIT`/`OFFSET` placeholders to `sql`
   * (after `params`), reads one row more than the page to know whether another follows, and
   * maps the rows. Throws {@link InvalidArgumentError} for a bad page size or token.
   */
  protected async paged<T>(
    operation: string,
    sql: string,
    params: readonly unknown[],
    page: PageRequest,
    map: (row: Row) => T,
  ): Promise<Page<T>> {
    const b = pageBounds(page);
    const n = params.length;
    const res = await run(this.db, this.observe, operation, `${sql} LIMIT $${n + 1} OFFSET $${n + 2}`, [
      ...params,
      b.limit + 1,
      b.offset,
    ]);
    return toPage(res.rows, b, map);
  }

  /**
   * Runs one statement on `q` over many `rows` at once, passing one array parameter per column
   * (`$1` = every row's first column, ...) for the statement to `unnest`. Returns the result's
   * rows; runs nothing and returns none when `rows` is empty.
   */
  protected async unnested<T>(
    q: Queryable,
    operation: string,
    sql: string,
    rows: readonly T[],
    columns: readonly ((row: T) => unknown)[],
  ): Promise<Row[]> {
    if (rows.length === 0) return [];
    const res = await run(
      q,
      this.observe,
      operation,
      sql,
      columns.map((column) => rows.map(column)),
    );
    return res.rows;
  }

  /** Runs a read on the database and maps every row. */
  protected async all<T>(
    operation: string,
    sql: string,
    params: readonly unknown[],
    map: (row: Row) => T,
  ): Promise<T[]> {
    const res = await run(this.db, this.observe, operation, sql, params);
    return res.rows.map(map);
  }
}

/** A page request: how many rows and from where (an opaque token from a previous page). */
export interface PageRequest {
  pageSize: number;
  pageToken: string;
}

/** One page of results and the token of the next ("" when there is none). */
export interface Page<T> {
  items: T[];
  nextPageToken: string;
}

const MAX_PAGE = 1000;

function pageLimit(pageSize: number): number {
  const limit = pageSize === 0 ? 100 : pageSize;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) {
    throw new InvalidArgumentError("page_size", `must be 1-${MAX_PAGE} (0 means 100), got ${pageSize}`);
  }
  return limit;
}

// A token is "<kind letter><number>" in base64url: "o" an offset, "a" a position to read after.
function decodeToken(token: string, kind: "o" | "a"): number {
  const match = new RegExp(`^${kind}(\\d{1,15})$`).exec(Buffer.from(token, "base64url").toString("utf8"));
  if (!match) throw new InvalidArgumentError("page_token", "is not a token returned by a previous page");
  return Number(match[1]);
}

const encodeToken = (kind: "o" | "a", n: number) => Buffer.from(`${kind}${n}`).toString("base64url");

/**
 * Decodes a page request into LIMIT/OFFSET. `pageSize` 0 means 100; more than 1000 or a
 * malformed token is {@link InvalidArgumentError}.
 */
export function pageBounds(page: PageRequest): { limit: number; offset: number } {
  const limit = pageLimit(page.pageSize);
  return { limit, offset: page.pageToken === "" ? 0 : decodeToken(page.pageToken, "o") };
}

/**
 * Builds a page from rows fetched with LIMIT `limit + 1`: the extra row (if any) proves there is
 * a next page, whose token is returned.
 */
export function toPage<R, T>(
  rows: R[],
  bounds: { limit: number; offset: number },
  map: (r: R) => T,
): Page<T> {
  const more = rows.length > bounds.limit;
  const items = rows.slice(0, bounds.limit).map(map);
  return { items, nextPageToken: more ? encodeToken("o", bounds.offset + bounds.limit) : "" };
}

/**
 * Decodes a keyset page request over an ordered position (append-only logs, where offsets
 * would drift): LIMIT and the position to read after, the later of `after` and the token's.
 * Throws {@link InvalidArgumentError} like {@link pageBounds}.
 */
export function cursorBounds(page: PageRequest, after = 0): { limit: number; after: number } {
  const limit = pageLimit(page.pageSize);
  return { limit, after: page.pageToken === "" ? after : Math.max(after, decodeToken(page.pageToken, "a")) };
}

/**
 * Builds a keyset page from rows fetched with LIMIT `limit + 1`, in position order; the next
 * token reads after the last returned row's position.
 */
export function toCursorPage<R, T>(
  rows: R[],
  bounds: { limit: number },
  positionOf: (r: R) => number,
  map: (r: R) => T,
): Page<T> {
  const kept = rows.slice(0, bounds.limit);
  const last = kept[kept.length - 1];
  const more = rows.length > bounds.limit && last !== undefined;
  return { items: kept.map(map), nextPageToken: more ? encodeToken("a", positionOf(last)) : "" };
}

/** Converts a bytea column value to a Uint8Array (pg returns Buffers). */
export function bytes(value: unknown): Uint8Array {
  if (value instanceof Uint8Array) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  throw new TypeError(`expected a bytea value, got ${typeof value}`);
}

/** Converts a timestamptz column value (Date or null) to a Date or undefined. */
export function date(value: unknown): Date | undefined {
  if (value === null || value === undefined) return undefined;
  if (value instanceof Date) return value;
  return new Date(value as string);
}
