/**
 * One Kubernetes API request on a cluster, the way every data-plane operation makes it: bounded
 * by the per-request timeout, with the HTTP statuses the operation expects turned into results
 * and every other failure into a DataPlaneError naming the cluster and the operation.
 */
import type { ClusterConnection } from "./connection.js";
import { ClusterUnreachableError, httpStatusOf, toDataPlaneError } from "./errors.js";

/** Options shared by data-plane calls. */
export interface CallOptions {
  /** Per-request timeout in milliseconds. */
  timeoutMs: number;
}

/**
 * Makes the request `send()` within `options.timeoutMs`. Returns its result, or
 * `expected[status]` when the API server answered with one of the `expected` statuses (e.g.
 * `{ 409: "exists" }` for an idempotent create, `{ 404: undefined }` for an optional read).
 * Throws a DataPlaneError otherwise; no answer in time is ClusterUnreachable (the request is
 * not cancelled, its late result is ignored).
 */
export async function callCluster<T, A = never>(
  conn: ClusterConnection,
  operation: string,
  options: CallOptions,
  send: () => Promise<T>,
  expected: Readonly<Record<number, A>> = {},
): Promise<T | A> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      const detail = `${operation} timed out after ${options.timeoutMs} ms`;
      reject(new ClusterUnreachableError(conn.cluster, operation, detail));
    }, options.timeoutMs);
    timer.unref();
  });
  try {
    return await Promise.race([send(), timedOut]);
  } catch (err) {
    const status = httpStatusOf(err);
    if (status !== undefined && Object.hasOwn(expected, status)) return expected[status];
    throw toDataPlaneError(conn.cluster, operation, err);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Creates an object unless reading it finds it: `read()` (404 = absent), then `create()` (409 =
 * a concurrent creator won, which counts as existing). Returns "created" or "exists"; throws a
 * DataPlaneError naming the cluster otherwise.
 */
export async function ensureExists(
  conn: ClusterConnection,
  operation: string,
  options: CallOptions,
  read: () => Promise<unknown>,
  create: () => Promise<unknown>,
): Promise<"created" | "exists"> {
  const found = await callCluster(conn, operation, options, () => read().then(() => true), { 404: false });
  if (found) return "exists";
  return callCluster(conn, operation, options, () => create().then(() => "created" as const), {
    409: "exists" as const,
  });
}
