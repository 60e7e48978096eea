/**
 * A controller workqueue in the style of client-go's: a key is queued at most once (dedup), a
 * key being processed is never handed to a second worker (a re-add while processing is parked
 * and re-queued when the worker is done), failed keys come back after an exponential per-key
 * backoff, and keys can be added after a delay. Workers take keys with {@link WorkQueue.get}.
 */
import { backoffCeiling, type BackoffOptions } from "@flotilla/common";

/** Counters and gauges a queue reports into (the propeller binds them to prom-client). */
export interface WorkQueueMetrics {
  /** Called on every add (including deduplicated ones, like client-go's `adds`). */
  onAdd(): void;
  /** Called when a key is re-queued after a failure. */
  onRetry(): void;
  /** Called whenever the queue depth changes. */
  onDepth(depth: number): void;
}

/** Options of {@link createWorkQueue}. */
export interface WorkQueueOptions {
  /** First retry delay of a failing key; doubles per consecutive failure. Default 50 ms. */
  baseDelayMs?: number;
  /** Upper bound of the retry delay. Default 60 s. */
  maxDelayMs?: number;
  /** Optional metric hooks. */
  metrics?: WorkQueueMetrics;
}

/** The queue was shut down; no more keys will be handed out. */
export class QueueShutDownError extends Error {
  override readonly name = "QueueShutDownError";
  constructor() {
    super("work queue is shut down");
  }
}

/** A deduplicating, rate-limited, delaying work queue of string keys. */
export interface WorkQueue {
  /** Queues `key` unless it is already queued; parks it if it is being processed. */
  add(key: string): void;
  /** Queues `key` after `delayMs`; an earlier pending delayed add of the same key wins. */
  addAfter(key: string, delayMs: number): void;
  /** Queues `key` after its exponential backoff (consecutive failures so far) and counts a retry. */
  addRateLimited(key: string): void;
  /** Resets the backoff of `key` (call after a successful round). */
  forget(key: string): void;
  /** Number of consecutive rate-limited re-queues of `key`. */
  retries(key: string): number;
  /** Resolves with the next key, waiting while the queue is empty; rejects with QueueShutDownError after shutdown. */
  get(): Promise<string>;
  /** Marks `key` processed; a re-add that arrived meanwhile is queued now. */
  done(key: string): void;
  /** Keys waiting to be handed out. */
  depth(): number;
  /** Keys handed out and not yet done. */
  processing(): number;
  /** Keys waiting for a delayed add. */
  delayed(): number;
  /** Age in ms of the oldest key handed out and not yet done (0 when none). */
  oldestProcessingAgeMs(): number;
  /** Stops the queue: pending and future get() calls reject; timers are cleared. */
  shutDown(): void;
}

/**
 * Creates a {@link WorkQueue}. Delayed adds share one timer (the earliest due time), so
 * thousands of delayed keys cost one timer, not thousands.
 */
export function createWorkQueue(options: WorkQueueOptions = {}): WorkQueue {
  // The delay is the backoff's ceiling, without jitter: one key's retries need no spreading, and
  // client-go's per-item limiter is deterministic too.
  const backoff: BackoffOptions = {
    initialMs: options.baseDelayMs ?? 50,
    maxMs: options.maxDelayMs ?? 60_000,
  };
  const metrics = options.metrics;

  // FIFO of queued keys: an array with a moving head avoids O(n) shift().
  let fifo: string[] = [];
  let head = 0;
  const queued = new Set<string>();
  const inFlight = new Map<string, number>();
  const dirtyWhileProcessing = new Set<string>();
  const failures = new Map<string, number>();
  const delayedDue = new Map<string, number>();
  let timer: NodeJS.Timeout | undefined;
  let timerDue = Infinity;
  const waiters: { resolve: (k: string) => void; reject: (e: Error) => void }[] = [];
  let shut = false;

  const report = (): void => metrics?.onDepth(queued.size);

  const enqueue = (key: string): void => {
    if (shut) return;
    if (inFlight.has(key)) {
      dirtyWhileProcessing.add(key);
      return;
    }
    if (queued.has(key)) return;
    const waiter = waiters.shift();
    if (waiter) {
      inFlight.set(key, Date.now());
      waiter.resolve(key);
      return;
    }
    queued.add(key);
    fifo.push(key);
    report();
  };

  const armTimer = (): void => {
    if (shut) return;
    let next = Infinity;
    for (const due of delayedDue.values()) if (due < next) next = due;
    if (next === Infinity) {
      if (timer) clearTimeout(timer);
      timer = undefined;
      timerDue = Infinity;
      return;
    }
    if (timer && timerDue <= next) return;
    if (timer) clearTimeout(timer);
    timerDue = next;
    timer = setTimeout(fire, Math.max(0, next - Date.now()));
  };

  const fire = (): void => {
    timer = undefined;
    timerDue = Infinity;
    const now = Date.now();
    for (const [key, due] of delayedDue) {
      if (due <= now) {
        delayedDue.delete(key);
        enqueue(key);
      }
    }
    armTimer();
  };

  const addAfter = (key: string, delayMs: number): void => {
    if (shut) return;
    if (delayMs <= 0) {
      enqueue(key);
      return;
    }
    const due = Date.now() + delayMs;
    const existing = delayedDue.get(key);
    if (existing !== undefined && existing <= due) return;
    delayedDue.set(key, due);
    if (due < timerDue) armTimer();
  };

  return {
    add(key) {
      metrics?.onAdd();
      enqueue(key);
    },
    addAfter(key, delayMs) {
      metrics?.onAdd();
      addAfter(key, delayMs);
    },
    addRateLimited(key) {
      const n = failures.get(key) ?? 0;
      failures.set(key, n + 1);
      metrics?.onRetry();
      metrics?.onAdd();
      addAfter(key, backoffCeiling(n, backoff));
    },
    forget(key) {
      failures.delete(key);
    },
    retries(key) {
      return failures.get(key) ?? 0;
    },
    get() {
      if (shut) return Promise.reject(new QueueShutDownError());
      if (head < fifo.length) {
        const key = fifo[head++];
        if (head > 1024 && head * 2 > fifo.length) {
          fifo = fifo.slice(head);
          head = 0;
        }
        queued.delete(key);
        inFlight.set(key, Date.now());
        report();
        return Promise.resolve(key);
      }
      return new Promise((resolve, reject) => waiters.push({ resolve, reject }));
    },
    done(key) {
      inFlight.delete(key);
      if (dirtyWhileProcessing.delete(key)) enqueue(key);
    },
    depth: () => queued.size,
    processing: () => inFlight.size,
    delayed: () => delayedDue.size,
    oldestProcessingAgeMs() {
      let oldest = Infinity;
      for (const t of inFlight.values()) if (t < oldest) oldest = t;
      return oldest === Infinity ? 0 : Date.now() - oldest;
    },
    shutDown() {
      shut = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      delayedDue.clear();
      for (const w of waiters.splice(0)) w.reject(new QueueShutDownError());
    },
  };
}
