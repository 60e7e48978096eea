/**
 * The small request checks the cluster and routing RPC handlers share. Their errors, like every
 * admin error, are mapped to Connect codes by the one interceptor (`rpc/errors.ts`).
 */
import { InvalidArgumentError } from "../errors.js";

/** The value of a required string field; InvalidArgumentError when blank. */
export function required(field: string, value: string): string {
  if (value.trim() === "") throw new InvalidArgumentError(field, "is required");
  return value;
}

/**
 * LIMIT/OFFSET of a list request: page size 0 means 100 (at most 1000), the token is the
 * decimal offset a previous page returned. Throws InvalidArgumentError otherwise.
 */
export function pageOf(pageSize: number, pageToken: string): { limit: number; offset: number } {
  if (pageSize > 1000) throw new InvalidArgumentError("page_size", "must be 0-1000");
  const limit = pageSize === 0 ? 100 : pageSize;
  let offset = 0;
  if (pageToken !== "") {
    offset = Number.parseInt(pageToken, 10);
    if (!Number.isSafeInteger(offset) || offset < 0 || String(offset) !== pageToken) {
      throw new InvalidArgumentError("page_token", "is not a token returned by a previous call");
    }
  }
  return { limit, offset };
}
