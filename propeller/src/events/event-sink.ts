/**
 * The buffer between rounds and the admin: rounds append workflow/node/task events, one sender
 * loop ships them in order in batches through `AdminService.IngestEvents`. A failed call is
 * retried with capped exponential backoff (full jitter), the batch staying at the head of the buffer, so
 * events are never dropped while the admin is unreachable. The buffer is bounded: when it is
 * full, {@link EventSink.enqueue} waits, which slows rounds down instead of losing events.
 * Event ids are deterministic, so re-sending after an ambiguous failure only yields duplicates
 * the admin acknowledges as such.
 */
import type { Event } from "@flotilla/proto";
import { EventResult_Outcome, type EventResult } from "@flotilla/proto";
import { backoffDelay, silentLogger, sleep, type BackoffOptions, type Logger } from "@flotilla/common";
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
  /** Ceiling of the first retry delay after a failed call (full jitter). Default 100 ms. */
  baseBackoffMs?: number;
  /** Largest retry delay. Default 5 s. */
  maxBackoffMs?: number;
  metrics?: PropellerMetrics;
  /** Where rejected events and send failures are reported. Default silent. */
  logger?: Logger;
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
  private readonly backoff: BackoffOptions;
  private readonly logger: Logger;
  private spaceWaiters: (() => void)[] = [];
  private drainWaiters: (() => void)[] = [];
  private wake: (() => void) | undefined;
  private running = false;
  private loop: Promise<void> | undefined;
  private consecutiveFailures = 0;
  /** Aborted by stop(): cuts a retry wait short. */
  private stopping = new AbortController();
  /** Counts of acknowledged events by outcome, for tests and heartbeats. */
  readonly acknowledged = { accepted: 0, duplicate: 0, rejected: 0 };

  constructor(
    private readonly transport: EventTransport,
    private readonly options: EventSinkOptions = {},
  ) {
    this.capacity = options.capacity ?? 100_000;
    this.batchSize = Math.min(1000, options.batchSize ?? 500);
    this.backoff = { initialMs: options.baseBackoffMs ?? 100, maxMs: options.maxBackoffMs ?? 5_000 };
    this.logger = options.logger ?? silentLogger;
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
    this.stopping = new AbortController();
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
      this.logger.warn("event sink stopping with unsent events", { unsent: this.depth(), error: err });
    }
    this.running = false;
    this.stopping.abort();
    this.wake?.();
    for (const w of this.spaceWaiters.splice(0)) w();
    await this.loop;
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
        const delay = backoffDelay(this.consecutiveFailures - 1, this.backoff);
        if (this.consecutiveFailures === 1 || this.consecutiveFailures % 50 === 0) {
          this.logger.warn("sending events failed; retrying", {
            events: batch.length,
            attempt: this.consecutiveFailures,
            retryInMs: delay,
            error: err,
          });
        }
        // stop() aborts the wait; the loop then ends.
        await sleep(delay, this.stopping.signal).catch(() => undefined);
        continue;
      }
      metrics?.eventSendLatency.observe((performance.now() - started) / 1000);
      this.consecutiveFailures = 0;
      for (const r of results) {
        if (r.outcome === EventResult_Outcome.ACCEPTED) this.acknowledged.accepted++;
        else if (r.outcome === EventResult_Outcome.DUPLICATE) this.acknowledged.duplicate++;
        else {
          this.acknowledged.rejected++;
          const event = batch[r.index];
          this.logger.warn("admin rejected an event", {
            execution: event ? executionNameOf(event) : undefined,
            event: event?.event.value?.eventId ?? r.index,
            reason: r.reason,
            message: r.message,
          });
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

/** The name of the execution an event is about (for log lines). */
function executionNameOf(event: Event): string | undefined {
  const e = event.event;
  switch (e.case) {
    case "workflowEvent":
      return e.value.executionId?.name;
    case "nodeEvent":
      return e.value.id?.executionId?.name;
    case "taskEvent":
      return e.value.id?.nodeExecutionId?.executionId?.name;
    default:
      return undefined;
  }
}
