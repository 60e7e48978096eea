import { Code } from "@connectrpc/connect";
import { AdminError } from "../errors.js";

/** A data-plane call did not answer in time: Unavailable, the client may retry. */
export class CallTimeoutError extends AdminError {
  readonly code = Code.Unavailable;
  constructor(
    readonly operation: string,
    readonly timeoutMs: number,
  ) {
    super(`${operation} timed out after ${timeoutMs} ms`);
  }
}

/**
 * Resolves or rejects like `promise`, or rejects with {@link CallTimeoutError} after
 * `timeoutMs`. The underlying request is not cancelled; its late result is ignored.
 */
export function withTimeout<T>(promise: Promise<T>, timeoutMs: number, operation: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new CallTimeoutError(operation, timeoutMs)), timeoutMs);
    timer.unref?.();
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}
