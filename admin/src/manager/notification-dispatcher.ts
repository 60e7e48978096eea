import { randomUUID } from "node:crypto";
import { AbortedError, backoffDelay, sleep, type BackoffOptions } from "@flotilla/common";
import type { AdminLogger } from "../logger.js";
import type { AdminMetrics } from "../metrics.js";
import { DeliveryError, type NotificationSender } from "../notifications/senders.js";
import type { ClaimedMessage, NotificationRepository } from "../repository/notification-repository.js";

/** Settings of {@link NotificationDispatcher} (from the `notifications` config section). */
export interface NotificationDispatcherOptions {
  pollIntervalMs: number;
  batchSize: number;
  maxAttempts: number;
  backoff: BackoffOptions;
  leaseMs: number;
  /** DELIVERED messages older than this are deleted, checked every tenth of it (at most hourly). */
  retentionMs: number;
  /** Random source of the backoff jitter (tests). */
  random?: () => number;
}

/** Dependencies of {@link NotificationDispatcher}. */
export interface NotificationDispatcherDeps {
  outbox: NotificationRepository;
  sender: NotificationSender;
  logger: AdminLogger;
  metrics?: AdminMetrics;
}

/** Most rows one retention DELETE removes (a pass repeats until fewer are left). */
const PRUNE_CHUNK = 1000;

/** What happened to one claimed message. */
export type DeliveryOutcome = "delivered" | "retry" | "failed" | "lost";

/**
 * Delivers the notification outbox at least once. Each round claims a batch of due PENDING
 * messages (`FOR UPDATE SKIP LOCKED` + a lease, so concurrent admins split the work instead of
 * sending twice) and sends them concurrently:
 *
 * ```
 *   PENDING ──claim (attempts+1, lease)──▶ sending ──2xx / SMTP accepted──▶ DELIVERED
 *      ▲                                     │
 *      └──── transient error, attempts left ─┤ (next attempt after the common backoff)
 *                                            └── permanent error or attempts spent ──▶ FAILED (last error kept)
 *   crash while sending: the lease expires and another round claims it again (a retry)
 * ```
 *
 * A full batch is followed by another round at once; otherwise the dispatcher waits
 * `pollIntervalMs`. Database errors are logged and the round is retried after the interval.
 * Every tenth of `retentionMs` (at most hourly) it deletes DELIVERED messages older than that.
 */
export class NotificationDispatcher {
  private readonly abort = new AbortController();
  private running: Promise<void> | undefined;
  private nextPruneAt = 0;

  constructor(
    private readonly deps: NotificationDispatcherDeps,
    private readonly options: NotificationDispatcherOptions,
  ) {}

  /** Starts the background loop (idempotent). */
  start(): void {
    this.running ??= this.loop();
  }

  /** Stops claiming, waits for the deliveries in flight to be recorded, closes the sender. */
  async stop(): Promise<void> {
    this.abort.abort(new Error("dispatcher stopping"));
    await this.running;
    this.deps.sender.close();
  }

  private async loop(): Promise<void> {
    const signal = this.abort.signal;
    while (!signal.aborted) {
      let claimed = 0;
      try {
        claimed = (await this.runOnce()).length;
        await this.pruneWhenDue();
      } catch (err) {
        this.deps.logger.warn("notification round failed", { error: (err as Error).message });
      }
      if (claimed >= this.options.batchSize) continue;
      try {
        await sleep(this.options.pollIntervalMs, signal);
      } catch (err) {
        if (err instanceof AbortedError) return;
        throw err;
      }
    }
  }

  /**
   * One round: claims up to `batchSize` due messages and delivers them. Returns each claimed
   * message's outcome. Side effects: network deliveries, outbox updates, metrics.
   */
  async runOnce(): Promise<{ key: string; outcome: DeliveryOutcome }[]> {
    const token = randomUUID();
    const batch = await this.deps.outbox.claimDue(this.options.batchSize, this.options.leaseMs, token);
    return Promise.all(batch.map(async (m) => ({ key: m.idempotencyKey, outcome: await this.deliver(m) })));
  }

  /** Deletes DELIVERED messages past the retention, in chunks, when a pass is due. */
  private async pruneWhenDue(): Promise<void> {
    const now = Date.now();
    if (now < this.nextPruneAt) return;
    const { retentionMs, pollIntervalMs } = this.options;
    this.nextPruneAt = now + Math.max(pollIntervalMs, Math.min(retentionMs / 10, 3_600_000));
    let pruned = 0;
    for (;;) {
      const n = await this.deps.outbox.pruneDelivered(retentionMs, PRUNE_CHUNK);
      pruned += n;
      if (n < PRUNE_CHUNK || this.abort.signal.aborted) break;
    }
    if (pruned > 0) this.deps.logger.info("delivered notifications pruned", { pruned });
  }

  private async deliver(m: ClaimedMessage): Promise<DeliveryOutcome> {
    const { outbox, sender, logger, metrics } = this.deps;
    const fields = { key: m.idempotencyKey, channel: m.target.channel, attempt: m.attempts };
    let outcome: DeliveryOutcome;
    try {
      await sender.send(m);
      outcome = (await outbox.markDelivered(m.pk, m.claimToken)) ? "delivered" : "lost";
      if (outcome === "delivered") logger.info("notification delivered", fields);
    } catch (err) {
      const error = (err as Error).message || String(err);
      const permanent = err instanceof DeliveryError && err.permanent;
      if (permanent || m.attempts >= this.options.maxAttempts) {
        outcome = (await outbox.markFailed(m.pk, m.claimToken, error)) ? "failed" : "lost";
        if (outcome === "failed") logger.warn("notification undeliverable", { ...fields, error, permanent });
      } else {
        const delay = backoffDelay(m.attempts - 1, this.options.backoff, this.options.random);
        outcome = (await outbox.markRetry(m.pk, m.claimToken, delay, error)) ? "retry" : "lost";
        if (outcome === "retry")
          logger.info("notification attempt failed", { ...fields, error, retryInMs: delay });
      }
    }
    // "lost": the lease expired mid-delivery and another dispatcher owns the message now.
    if (outcome === "lost") logger.warn("notification lease lost", fields);
    metrics?.notificationDeliveries.inc({ channel: m.target.channel, outcome });
    return outcome;
  }
}
