import pg from "pg";
import { silentLogger, type Logger } from "@flotilla/common";

/** Options of {@link PostgresLeaderElection}. */
export interface LeaderElectionOptions {
  /** PostgreSQL URL; the election opens its own dedicated session on it. */
  readonly url: string;
  /**
   * Key of the session advisory lock (a bigint as a decimal string), one per kind of leader:
   * candidates for the same role use the same key. Two-int keys are @flotilla/db's migration
   * locks, so a bigint key never collides with them.
   */
  readonly lockKey: string;
  /** How often a standby retries the lock and a leader checks its session (ms). */
  readonly intervalMs: number;
  /** Called once the lock is held; must activate the term. A rejection gives the lock back. */
  readonly onElected: () => Promise<void>;
  /** Called when the lock session is lost or the election stops while leading. */
  readonly onDeposed: (reason: string) => void;
  /** Called on each standby round, e.g. to refresh the leader hint. */
  readonly onStandby?: () => Promise<void>;
  readonly log?: Logger;
}

/**
 * Leader election through a PostgreSQL session advisory lock (`pg_try_advisory_lock`) held on a
 * dedicated connection. The lock dies with its session, so when the leader process dies (or its
 * connection breaks) PostgreSQL frees it and the standby's next attempt wins. The leader pings
 * its session every interval and steps down (onDeposed) as soon as the session fails; the
 * leader's own writes must be safe if it was deposed while they were in flight (a fencing epoch,
 * or idempotent writes). Used by the resource manager and the admin's scheduler.
 *
 * ```
 *  start -> connect -> try lock --no--> onStandby, wait interval -> try lock ...
 *                         |yes
 *                         v
 *                     onElected --fails--> unlock, wait, retry
 *                         |ok
 *                         v
 *                     ping every interval --session lost / resign()--> onDeposed -> reconnect
 * ```
 */
export class PostgresLeaderElection {
  private stopped = false;
  private loop: Promise<void> | undefined;
  private client: pg.Client | undefined;
  private wake: (() => void) | undefined;
  private resignRequested = false;
  private leadingValue = false;

  constructor(private readonly options: LeaderElectionOptions) {}

  /** True while this instance holds the lock and its term is active. */
  get leading(): boolean {
    return this.leadingValue;
  }

  /** Starts campaigning in the background. Idempotent. */
  start(): void {
    this.loop ??= this.run();
  }

  /**
   * Gives up leadership now (e.g. after a failed durable write): drops the lock session and
   * campaigns again, so a healthy standby can win.
   */
  resign(): void {
    this.resignRequested = true;
    this.wake?.();
  }

  /** Stops campaigning; releases the lock by closing its session. Resolves when the loop ended. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    const client = this.client;
    if (client) await client.end().catch(() => {});
    await this.loop;
  }

  private get log(): Logger {
    return this.options.log ?? silentLogger;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        await this.campaign();
      } catch (err) {
        this.log.warn("leader election round failed", {
          error: err instanceof Error ? err.message : String(err),
        });
      }
      if (this.leadingValue) {
        this.leadingValue = false;
        this.options.onDeposed(this.stopped ? "stopping" : "leader lock session lost");
      }
      const client = this.client;
      this.client = undefined;
      if (client) await client.end().catch(() => {});
      if (!this.stopped) await this.sleep(this.options.intervalMs);
    }
  }

  private async campaign(): Promise<void> {
    const timeout = Math.max(2000, this.options.intervalMs * 3);
    const client = new pg.Client({
      connectionString: this.options.url,
      keepAlive: true,
      connectionTimeoutMillis: timeout,
      query_timeout: timeout,
    });
    this.client = client;
    let lost: string | undefined;
    client.on("error", (err) => {
      lost = err.message;
      this.wake?.();
    });
    client.on("end", () => {
      lost ??= "connection closed";
      this.wake?.();
    });
    await client.connect();
    for (;;) {
      if (this.stopped) return;
      if (lost !== undefined) throw new Error(`lock session lost: ${lost}`);
      const { rows } = await client.query<{ locked: boolean }>(
        "SELECT pg_try_advisory_lock($1::bigint) AS locked",
        [this.options.lockKey],
      );
      if (rows[0]?.locked) break;
      await this.options.onStandby?.().catch(() => {});
      await this.sleep(this.options.intervalMs);
    }
    this.resignRequested = false;
    try {
      await this.options.onElected();
    } catch (err) {
      this.log.error("activation after election failed; giving the lock back", {
        error: err instanceof Error ? err.message : String(err),
      });
      return;
    }
    this.leadingValue = true;
    this.log.info("elected leader");
    for (;;) {
      await this.sleep(this.options.intervalMs);
      if (this.stopped || this.resignRequested) return;
      if (lost !== undefined) throw new Error(`lock session lost: ${lost}`);
      await client.query("SELECT 1");
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }
}
