/**
 * Limits how many API requests run at once, in FIFO order, so a burst of 10,000 pods turns
 * into a steady stream instead of 10,000 sockets.
 */
export class RequestPool {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  /** @param limit maximum concurrent requests (>= 1). */
  constructor(private readonly limit: number) {}

  /** Runs `fn` when a slot is free; resolves or rejects with its result. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}

interface Pending {
  write: () => Promise<void>;
  waiters: Array<() => void>;
}

/**
 * Serialises writes per key with "latest wins": while a key's write is in flight, newer
 * writes for it replace each other and only the last one runs next. Used for pod status,
 * where only the newest state matters and an older one must never land after a newer one.
 */
export class LatestWinsWriter {
  private readonly running = new Set<string>();
  private readonly queued = new Map<string, Pending>();

  /** @param onError receives failures of writes (they are not retried here). */
  constructor(private readonly onError: (key: string, err: unknown) => void) {}

  /**
   * Queues `write` for `key`. Resolves once this write, or a newer one that superseded it,
   * has completed (successfully or not).
   */
  submit(key: string, write: () => Promise<void>): Promise<void> {
    return new Promise<void>((resolve) => {
      const existing = this.queued.get(key);
      if (existing) {
        existing.write = write;
        existing.waiters.push(resolve);
      } else {
        this.queued.set(key, { write, waiters: [resolve] });
      }
      if (!this.running.has(key)) void this.drain(key);
    });
  }

  /** Resolves once nothing is queued or running for `key`. */
  async idle(key: string): Promise<void> {
    if (!this.running.has(key) && !this.queued.has(key)) return;
    await this.submit(key, () => Promise.resolve());
  }

  private async drain(key: string): Promise<void> {
    this.running.add(key);
    try {
      for (let next = this.queued.get(key); next; next = this.queued.get(key)) {
        this.queued.delete(key);
        try {
          await next.write();
        } catch (err) {
          this.onError(key, err);
        }
        for (const w of next.waiters) w();
      }
    } finally {
      this.running.delete(key);
    }
  }
}
