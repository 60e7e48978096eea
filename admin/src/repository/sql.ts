import { isUniqueViolation, type Queryable, type QueryResult, type Row } from "@flotilla/db";
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

/**
 * Decodes a page request into LIMIT/OFFSET. `pageSize` 0 means 100; more than 1000 or a
 * malformed token is {@link InvalidArgumentError}.
 */
export function pageBounds(page: PageRequest): { limit: number; offset: number } {
  const limit = page.pageSize === 0 ? 100 : page.pageSize;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) {
    throw new InvalidArgumentError("page_size", `must be 1-${MAX_PAGE} (0 means 100), got ${page.pageSize}`);
  }
  if (page.pageToken === "") return { limit, offset: 0 };
  const match = /^o(\d{1,12})$/.exec(Buffer.from(page.pageToken, "base64url").toString("utf8"));
  if (!match) throw new InvalidArgumentError("page_token", "is not a token returned by a previous page");
  return { limit, offset: Number(match[1]) };
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
  const nextPageToken = more ? Buffer.from(`o${bounds.offset + bounds.limit}`).toString("base64url") : "";
  return { items, nextPageToken };
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
