import { randomUUID } from "node:crypto";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { AdminError } from "../errors.js";
import type { AdminLogger } from "../logger.js";
import type { AdminMetrics } from "../metrics.js";

/** Header carrying the request id: taken from the request when given, echoed in the response. */
export const REQUEST_ID_HEADER = "x-request-id";

// A client's id is echoed into headers and log lines, so only a short printable token is kept.
const CLIENT_REQUEST_ID = /^[\x21-\x7e]{1,128}$/;

/** The request's id: its valid `x-request-id` header, or a new random UUID. */
export function requestIdOf(header: Headers): string {
  const given = header.get(REQUEST_ID_HEADER);
  return given !== null && CLIENT_REQUEST_ID.test(given) ? given : randomUUID();
}

/**
 * Maps an error thrown by a handler to the ConnectError sent to the client: the one place
 * domain errors become status codes. ConnectErrors pass through; an {@link AdminError} keeps
 * its message and is answered with its own `code` and typed `details()`; anything else becomes
 * Internal with a generic message (the cause is kept on the ConnectError for logging, never sent).
 */
export function toConnectError(err: unknown): ConnectError {
  if (err instanceof ConnectError) return err;
  if (err instanceof AdminError)
    return new ConnectError(err.message, err.code, undefined, err.details(), err);
  return new ConnectError("internal error", Code.Internal, undefined, undefined, err);
}

/**
 * Server interceptor: gives every call a request id (echoed in the `x-request-id` response
 * header), maps thrown errors with {@link toConnectError}, logs unexpected ones with their
 * cause and the request id, and records `flotilla_admin_rpc_*` metrics by method and code.
 */
export function rpcInterceptor(metrics: AdminMetrics | undefined, logger: AdminLogger): Interceptor {
  return (next) => async (req) => {
    const method = req.method.name;
    const requestId = requestIdOf(req.header);
    const start = process.hrtime.bigint();
    let code = "ok";
    try {
      const res = await next(req);
      res.header.set(REQUEST_ID_HEADER, requestId);
      return res;
    } catch (err) {
      const mapped = toConnectError(err);
      mapped.metadata.set(REQUEST_ID_HEADER, requestId);
      code = Code[mapped.code] ?? String(mapped.code);
      if (!(err instanceof ConnectError) && !(err instanceof AdminError)) {
        logger.error("rpc failed", { method, requestId, error: err });
      }
      throw mapped;
    } finally {
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      const labels = { method, code: code.replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase() };
      metrics?.rpcRequests.inc(labels);
      metrics?.rpcDuration.observe(labels, seconds);
    }
  };
}
