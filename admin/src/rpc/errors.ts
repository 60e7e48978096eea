import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import {
  AdminError,
  AlreadyExistsError,
  CompilationError,
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
} from "../errors.js";
import type { AdminLogger } from "../logger.js";
import type { AdminMetrics } from "../metrics.js";

/**
 * Maps an error thrown by a handler to the ConnectError sent to the client: the one place
 * domain errors become status codes. ConnectErrors pass through; domain errors keep their
 * message; anything else becomes Internal with a generic message (the cause is logged by
 * {@link rpcInterceptor}, never sent).
 */
export function toConnectError(err: unknown): ConnectError {
  if (err instanceof ConnectError) return err;
  if (err instanceof CompilationError || err instanceof InvalidArgumentError)
    return new ConnectError(err.message, Code.InvalidArgument);
  if (err instanceof NotFoundError) return new ConnectError(err.message, Code.NotFound);
  if (err instanceof AlreadyExistsError) return new ConnectError(err.message, Code.AlreadyExists);
  if (err instanceof FailedPreconditionError) return new ConnectError(err.message, Code.FailedPrecondition);
  if (err instanceof AdminError) return new ConnectError(err.message, Code.FailedPrecondition);
  // Errors of other admin subsystems that follow the same convention (a PascalCase `reason`).
  const name = err instanceof Error ? err.name : "";
  if (/NotFound/.test(name)) return new ConnectError((err as Error).message, Code.NotFound);
  if (/AlreadyExists/.test(name)) return new ConnectError((err as Error).message, Code.AlreadyExists);
  return new ConnectError("internal error", Code.Internal);
}

/**
 * Server interceptor: maps thrown errors with {@link toConnectError}, logs unexpected ones
 * with their cause, and records `flotilla_admin_rpc_*` metrics by method and code.
 */
export function rpcInterceptor(metrics: AdminMetrics | undefined, logger: AdminLogger): Interceptor {
  return (next) => async (req) => {
    const method = req.method.name;
    const start = process.hrtime.bigint();
    let code = "ok";
    try {
      return await next(req);
    } catch (err) {
      const mapped = toConnectError(err);
      code = Code[mapped.code] ?? String(mapped.code);
      if (mapped.code === Code.Internal && mapped !== err) {
        logger.error("rpc failed", { method, error: err });
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
