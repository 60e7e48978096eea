/**
 * The one retry policy of Flotilla: exponential backoff with full jitter (the delay before
 * attempt n is uniform in [0, min(max, initial × factor^n)]), so that many clients retrying
 * the same failure spread out instead of arriving together.
 */

/** Shape of the delays. */
export interface BackoffOptions {
  /** Ceiling of the first delay, in ms. */
  readonly initialMs: number;
  /** Ceiling of every delay, in ms. */
  readonly maxMs: number;
  /** Growth of the ceiling per attempt (default 2). */
  readonly factor?: number;
}

/**
 * The delay in ms to wait before retry number `attempt` (0 for the first retry): a uniform draw
 * in [0, min(maxMs, initialMs × factor^attempt)]. `random` returns a number in [0, 1)
 * (injectable for tests).
 */
export function backoffDelay(
  attempt: number,
  options: BackoffOptions,
  random: () => number = Math.random,
): number {
  return Math.floor(random() * backoffCeiling(attempt, options));
}

/** The largest delay {@link backoffDelay} can return for `attempt`. */
export function backoffCeiling(attempt: number, options: BackoffOptions): number {
  const factor = options.factor ?? 2;
  const grown = options.initialMs * Math.pow(factor, Math.max(0, attempt));
  return Math.min(options.maxMs, Number.isFinite(grown) ? grown : options.maxMs);
}

/** The wait was cut short by its abort signal; `reason` is the signal's reason. */
export class AbortedError extends Error {
  override readonly name = "AbortedError";
  constructor(readonly reason: unknown) {
    super(reason instanceof Error ? reason.message : "aborted");
  }
}

/**
 * Resolves after `ms`, or rejects with {@link AbortedError} as soon as `signal` aborts.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(new AbortedError(signal.reason));
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(new AbortedError(signal?.reason));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** Options of {@link retry}. */
export interface RetryOptions extends BackoffOptions {
  /** Retries after the first attempt (default: unbounded until `signal` aborts). */
  readonly retries?: number;
  /** Stops waiting and rethrows the last error (or AbortedError) when aborted. */
  readonly signal?: AbortSignal;
  /** Whether `err` is worth another attempt (default: every error is). */
  readonly shouldRetry?: (err: unknown, attempt: number) => boolean;
  /** Called before each wait, e.g. to log the failure (attempt counts from 0). */
  readonly onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
  /** Random source for the jitter (tests). */
  readonly random?: () => number;
}

/**
 * Calls `fn(attempt)` until it resolves, waiting {@link backoffDelay} between attempts. Returns
 * its value; rethrows the last error once `retries` are spent or `shouldRetry` says no, and
 * rejects with {@link AbortedError} when `signal` aborts during a wait.
 */
export async function retry<T>(fn: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      const spent = options.retries !== undefined && attempt >= options.retries;
      if (spent || options.signal?.aborted || !(options.shouldRetry?.(err, attempt) ?? true)) throw err;
      const delay = backoffDelay(attempt, options, options.random);
      options.onRetry?.(err, attempt, delay);
      await sleep(delay, options.signal);
    }
  }
}
