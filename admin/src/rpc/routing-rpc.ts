/**
 * What the cluster and routing RPC handlers share: the error mapping of routing's domain errors
 * and the small request checks both sides make.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { DataPlaneError } from "../dataplane/errors.js";
import { InvalidArgumentError } from "../errors.js";
import type { AdminLogger } from "../logger.js";
import { StaleRevisionError } from "../routing-errors.js";
import { toConnectError } from "./errors.js";

/**
 * Maps an error of the routing subsystem to a ConnectError: a stale revision is Aborted (re-read
 * and retry), an unreachable or refusing cluster Unavailable, every other admin error as admin
 * maps it (`rpc/errors.ts`); anything unexpected is Internal with the cause logged, not sent.
 */
export function toRoutingConnectError(err: unknown, logger: AdminLogger): ConnectError {
  if (err instanceof StaleRevisionError) return new ConnectError(err.message, Code.Aborted);
  if (err instanceof DataPlaneError) return new ConnectError(err.message, Code.Unavailable);
  const mapped = toConnectError(err);
  if (mapped.code === Code.Internal && mapped !== err) {
    logger.error("internal error in routing RPC", {
      error: err instanceof Error ? (err.stack ?? err.message) : String(err),
    });
  }
  return mapped;
}

/** Wraps a handler so its errors leave through {@link toRoutingConnectError}. */
export function withRoutingErrors<A extends unknown[], R>(
  logger: AdminLogger,
  fn: (...args: A) => Promise<R>,
): (...args: A) => Promise<R> {
  return async (...args: A) => {
    try {
      return await fn(...args);
    } catch (err) {
      throw toRoutingConnectError(err, logger);
    }
  };
}

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
