import { Timeouts } from "./timeouts.js";

/** Options of {@link eventually}. */
export interface EventuallyOptions {
  /** Give up after this many ms (default {@link Timeouts.eventually}, 10 s). */
  timeout?: number;
  /** Wait this many ms between attempts (default {@link Timeouts.interval}, 50 ms). */
  interval?: number;
  /** What was awaited, for the error when it times out. */
  message?: string;
}

/**
 * Raised by {@link eventually} when it was given a `message` and the condition never held;
 * `cause` is the last attempt's error.
 */
export class EventuallyTimeoutError extends Error {
  override readonly name = "EventuallyTimeoutError";
  constructor(
    message: string,
    readonly timeout: number,
    readonly attempts: number,
    options: { cause: unknown },
  ) {
    const last = options.cause instanceof Error ? options.cause.message : String(options.cause);
    super(`${message}: not true after ${timeout} ms (${attempts} attempts); last error: ${last}`, options);
  }
}

class AttemptTimedOut extends Error {
  override readonly name = "AttemptTimedOut";
}

/**
 * Runs `fn` (an assertion, sync or async) until it returns without throwing, and returns its
 * value. Between failures it waits `interval` ms; once `timeout` ms have passed it rethrows the
 * last error (wrapped in {@link EventuallyTimeoutError} naming `message`, when given). An attempt
 * that hangs is abandoned when the time is up. Use it instead of sleeps.
 */
export async function eventually<T>(fn: () => T | Promise<T>, options: EventuallyOptions = {}): Promise<T> {
  const timeout = options.timeout ?? Timeouts.eventually;
  const interval = options.interval ?? Timeouts.interval;
  const deadline = Date.now() + timeout;
  let attempts = 0;
  for (;;) {
    attempts++;
    let last: unknown;
    try {
      return await withDeadline(Promise.resolve().then(fn), deadline);
    } catch (err) {
      last = err;
    }
    const remaining = deadline - Date.now();
    if (remaining <= 0) {
      if (options.message !== undefined)
        throw new EventuallyTimeoutError(options.message, timeout, attempts, { cause: last });
      throw last;
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(interval, remaining)));
  }
}

function withDeadline<T>(promise: Promise<T>, deadline: number): Promise<T> {
  const remaining = deadline - Date.now();
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new AttemptTimedOut(`attempt still running when the time was up`)),
      Math.max(0, remaining),
    );
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}
