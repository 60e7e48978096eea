/**
 * The buffer between rounds and the admin: rounds append workflow/node/task events, one sender
 * loop ships them in order in batches through `AdminService.IngestEvents`. A failed call is
 * retried with capped exponential backoff, the batch staying at the head of the buffer, so
 * events are never dropped while the admin is unreachable. The buffer is bounded: when it is
 * full, {@link EventSink.enqueue} waits, which slows rounds down instead of losing events.
 * Event ids are deterministic, so re-sending after an ambiguous failure only yields duplicates
 * the admin acknowledges as such.
 */
import type { Event } from "@flotilla/proto";
import { EventResult_Outcome, type EventResult } from "@flotilla/proto";
import type { PropellerMetrics } from "../metrics.js";

/** Ships one batch; throws when the batch was not (or not certainly) received. */
export interface EventTransport {
  ingest(events: Event[]): Promise<EventResult[]>;
}

/** Options of {@link EventSink}. */
export interface EventSinkOptions {
  /** Most events buffered before enqueue waits. Default 100,000. */
  capacity?: number;
  /** Events per IngestEvents call (the admin accepts 1-1000). Default 500. */
  batchSize?: number;
  /** First retry delay after a failed call. Default 100 ms. */
  baseBackoffMs?: number;
  /** Largest retry delay. Default 5 s. */
  maxBackoffMs?: number;
  metrics?: PropellerMetrics;
  /** Where rejected events and send failures are reported. Default console.warn. */
  log?: (message: string) => void;
}

/** The sink was stopped; no more events are accepted. */
export class EventSinkStoppedError extends Error {
  override readonly name = "EventSinkStoppedError";
  constructor() {
    super("event sink is stopped");
  }
}

/** Bounded, ordered, retrying event buffer with one sender loop. */
export class EventSink {
  private buffer: Event[] = [];
  private head = 0;
  private readonly capacity: number;
  private readonly batchSize: number;
  private readonly baseBackoff: number;
  private readonly maxBackoff: number;
  private readonly log: (m: string) => void;
  private spaceWaiters: (() => void)[] = [];
  private drainWaiters: (() => void)[] = [];
  private wake: (() => void) | undefined;
  private running = false;
  private loop: Promise<void> | undefined;
  private consecutiveFailures = 0;
  private sleepTimer: NodeJS.Timeout | undefined;
  /** Counts of acknowledged events by outcome, for tests and heartbeats. */
  readonly acknowledged = { accepted: 0, duplicate: 0, rejected: 0 };

  constructor(
    private readonly transport: EventTransport,
    private readonly options: EventSinkOptions = {},
  ) {
    this.capacity = options.capacity ?? 100_000;
    this.batchSize = Math.min(1000, options.batchSize ?? 500);
    this.baseBackoff = options.baseBackoffMs ?? 100;
    this.maxBackoff = options.maxBackoffMs ?? 5_000;
    this.log = options.log ?? ((m) => console.warn(m));
  }

  /** Events waiting to be acknowledged. */
  depth(): number {
    return this.buffer.length - this.head;
  }

  /** Whether the last send attempt failed (the admin looks unreachable). */
  isFailing(): boolean {
    return this.consecutiveFailures > 0;
  }

  /** Starts the sender loop. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /**
   * Appends events, waiting while the buffer is full (backpressure). Throws
   * {@link EventSinkStoppedError} after stop.
   */
  async enqueue(events: Event[]): Promise<void> {
    if (events.length === 0) return;
    for (;;) {
      if (!this.running) throw new EventSinkStoppedError();
      if (this.depth() === 0 || this.depth() + events.length <= this.capacity) break;
      await new Promise<void>((resolve) => this.spaceWaiters.push(resolve));
    }
    for (const e of events) this.buffer.push(e);
    this.options.metrics?.eventBufferDepth.set(this.depth());
    this.wake?.();
  }

  /** Resolves once every event enqueued so far was acknowledged (or rejects after `timeoutMs`). */
  async flush(timeoutMs = 30_000): Promise<void> {
    if (this.depth() === 0) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`event sink did not drain ${this.depth()} events in ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.drainWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Stops the loop after trying to drain for up to `drainMs`; events still buffered are reported. */
  async stop(drainMs = 5_000): Promise<void> {
    if (!this.running) return;
    try {
      await this.flush(drainMs);
    } catch (err) {
      this.log(`event sink stopping with ${this.depth()} unsent events: ${(err as Error).message}`);
    }
    this.running = false;
    if (this.sleepTimer) clearTimeout(this.sleepTimer);
    this.wake?.();
    for (const w of this.spaceWaiters.splice(0)) w();
    await this.loop;
  }

  private async sleep(ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      this.sleepTimer = setTimeout(resolve, ms);
      this.wake = resolve;
    });
    this.sleepTimer = undefined;
    this.wake = undefined;
  }

  private async run(): Promise<void> {
    const metrics = this.options.metrics;
    while (this.running) {
      if (this.depth() === 0) {
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = undefined;
        continue;
      }
      const batch = this.buffer.slice(this.head, this.head + this.batchSize);
      const started = performance.now();
      let results: EventResult[];
      try {
        results = await this.transport.ingest(batch);
      } catch (err) {
        this.consecutiveFailures++;
        metrics?.eventSendFailures.inc();
        if (this.consecutiveFailures === 1 || this.consecutiveFailures % 50 === 0) {
          this.log(
            `sending ${batch.length} events failed (attempt ${this.consecutiveFailures}), retrying: ${(err as Error).message}`,
          );
        }
        const delay = Math.min(
          this.maxBackoff,
          this.baseBackoff * 2 ** Math.min(this.consecutiveFailures - 1, 20),
        );
        await this.sleep(delay * (0.8 + Math.random() * 0.4));
        continue;
      }
      metrics?.eventSendLatency.observe((performance.now() - started) / 1000);
      this.consecutiveFailures = 0;
      for (const r of results) {
        if (r.outcome === EventResult_Outcome.ACCEPTED) this.acknowledged.accepted++;
        else if (r.outcome === EventResult_Outcome.DUPLICATE) this.acknowledged.duplicate++;
        else {
          this.acknowledged.rejected++;
          const ev = batch[r.index]?.event.value;
          this.log(`admin rejected event ${ev?.eventId ?? r.index}: ${r.reason} ${r.message}`);
        }
      }
      metrics?.eventsSent.inc(
        { outcome: "accepted" },
        results.filter((r) => r.outcome === EventResult_Outcome.ACCEPTED).length,
      );
      metrics?.eventsSent.inc(
        { outcome: "duplicate" },
        results.filter((r) => r.outcome === EventResult_Outcome.DUPLICATE).length,
      );
      metrics?.eventsSent.inc(
        { outcome: "rejected" },
        results.filter((r) => r.outcome === EventResult_Outcome.REJECTED).length,
      );
      this.head += batch.length;
      if (this.head > 10_000 && this.head * 2 > this.buffer.length) {
        this.buffer = this.buffer.slice(this.head);
        this.head = 0;
      }
      metrics?.eventBufferDepth.set(this.depth());
      for (const w of this.spaceWaiters.splice(0)) w();
      if (this.depth() === 0) for (const w of this.drainWaiters.splice(0)) w();
    }
  }
}
