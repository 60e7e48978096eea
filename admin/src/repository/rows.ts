/**
 * Small helpers shared by the routing repositories' SQL.
 */
import type { Row } from "@flotilla/db";
import type { ExecutionKey } from "../manager/placement.js";

/**
 * The first row of a result that must have one. Returns it; throws the error `missing()` builds
 * (a NotFound of the caller's kind) when the result is empty.
 */
export function requireRow(rows: readonly Row[], missing: () => Error): Row {
  const row = rows[0];
  if (!row) throw missing();
  return row;
}

/** The `$1, $2, $3` parameters (project, domain, name) of an execution key. */
export function executionKeyParams(e: ExecutionKey): [string, string, string] {
  return [e.project, e.domain, e.name];
}

/** The execution key of a row with `project`, `domain` and `name` columns. */
export function executionKeyOf(r: Row): ExecutionKey {
  return { project: r.project as string, domain: r.domain as string, name: r.name as string };
}

/** A timestamp column as a Date (drivers return Date or an ISO string). */
export function timestamp(value: unknown): Date {
  return new Date(value as string | Date);
}
