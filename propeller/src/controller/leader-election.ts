/**
 * Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection does it:
 * a candidate takes the lease when it is free or expired (optimistic concurrency on the
 * resourceVersion, so two candidates never both win), the leader renews it every retry period,
 * and a leader that cannot renew within the renew deadline steps down before its lease can
 * expire for others. Only the leader runs rounds, so two replicas never both drive workflows.
 */
import { CoordinationV1Api, CoreV1Api, type KubeConfig, type V1Lease } from "@kubernetes/client-node";
import { silentLogger, sleep, type Logger } from "@flotilla/common";
import { statusCodeOf } from "./kube.js";

/** Options of {@link LeaderElector}. */
export interface LeaderElectionOptions {
  /** Namespace of the Lease (created when missing). Default "flotilla-system". */
  namespace: string;
  /** Lease name. Default "flotilla-propeller". */
  name: string;
  /** This replica's identity (unique per process). */
  identity: string;
  /** How long a lease is valid after its last renewal. Default 15 s. */
  leaseDurationMs: number;
  /** A leader that has not renewed for this long steps down. Default 10 s (< leaseDuration). */
  renewDeadlineMs: number;
  /** Interval between acquire/renew attempts. Default 2 s. */
  retryPeriodMs: number;
}

/** Defaults of {@link LeaderElectionOptions} (except identity). */
export const DEFAULT_LEADER_ELECTION = {
  namespace: "flotilla-system",
  name: "flotilla-propeller",
  leaseDurationMs: 15_000,
  renewDeadlineMs: 10_000,
  retryPeriodMs: 2_000,
} as const;

/** Callbacks of the elector. */
export interface LeaderCallbacks {
  onStartedLeading(): void;
  onStoppedLeading(): void;
}

/** Runs the election loop until stopped. */
export class LeaderElector {
  private readonly leases: CoordinationV1Api;
  private readonly core: CoreV1Api;
  private leading = false;
  private decided = false;
  private lastRenew = 0;
  private stopped = true;
  private stopping = new AbortController();
  private loop: Promise<void> = Promise.resolve();

  constructor(
    kc: KubeConfig,
    private readonly options: LeaderElectionOptions,
    private readonly callbacks: LeaderCallbacks,
    private readonly logger: Logger = silentLogger,
  ) {
    this.leases = kc.makeApiClient(CoordinationV1Api);
    this.core = kc.makeApiClient(CoreV1Api);
  }

  /** Whether this replica currently leads. */
  isLeader(): boolean {
    return this.leading;
  }

  /**
   * Whether an attempt to acquire or renew the lease has been answered, so that this replica
   * knows whether it leads or stands by (false while the API server has not answered yet).
   */
  isDecided(): boolean {
    return this.decided;
  }

  /** Starts campaigning: an attempt now, then one every retry period until stopped. */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.stopping = new AbortController();
    this.loop = this.campaign(this.stopping.signal);
  }

  private async campaign(signal: AbortSignal): Promise<void> {
    while (!this.stopped) {
      await this.step();
      // stop() aborts the wait; the loop then ends.
      await sleep(this.options.retryPeriodMs, signal).catch(() => undefined);
    }
  }

  private async step(): Promise<void> {
    let ok = false;
    try {
      ok = await this.tryAcquireOrRenew();
      this.decided = true;
    } catch (err) {
      this.logger.warn("leader election attempt failed", { error: err });
    }
    const now = Date.now();
    if (ok) {
      this.lastRenew = now;
      if (!this.leading && !this.stopped) {
        this.leading = true;
        this.callbacks.onStartedLeading();
      }
    } else if (this.leading && now - this.lastRenew > this.options.renewDeadlineMs) {
      this.leading = false;
      this.logger.warn("lost the leader lease", {
        identity: this.options.identity,
        sinceRenewalMs: now - this.lastRenew,
      });
      this.callbacks.onStoppedLeading();
    }
  }

  private async ensureNamespace(): Promise<void> {
    try {
      await this.core.createNamespace({ body: { metadata: { name: this.options.namespace } } });
    } catch (err) {
      if (statusCodeOf(err) !== 409) throw err;
    }
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const { namespace, name, identity } = this.options;
    const now = new Date();
    let lease: V1Lease;
    try {
      lease = await this.leases.readNamespacedLease({ name, namespace });
    } catch (err) {
      if (statusCodeOf(err) !== 404) throw err;
      await this.ensureNamespace();
      try {
        await this.leases.createNamespacedLease({
          namespace,
          body: {
            metadata: { name, namespace },
            spec: {
              holderIdentity: identity,
              leaseDurationSeconds: Math.ceil(this.options.leaseDurationMs / 1000),
              acquireTime: now,
              renewTime: now,
              leaseTransitions: 0,
            },
          },
        });
        return true;
      } catch (createErr) {
        if (statusCodeOf(createErr) === 409) return false;
        throw createErr;
      }
    }
    const spec = lease.spec ?? {};
    const holder = spec.holderIdentity ?? "";
    const renewed = spec.renewTime ? new Date(spec.renewTime).getTime() : 0;
    const durationMs = (spec.leaseDurationSeconds ?? Math.ceil(this.options.leaseDurationMs / 1000)) * 1000;
    const expired = renewed + durationMs < now.getTime();
    if (holder !== identity && holder !== "" && !expired) return false;
    const takingOver = holder !== identity;
    try {
      await this.leases.replaceNamespacedLease({
        name,
        namespace,
        body: {
          ...lease,
          spec: {
            ...spec,
            holderIdentity: identity,
            leaseDurationSeconds: Math.ceil(this.options.leaseDurationMs / 1000),
            renewTime: now,
            ...(takingOver ? { acquireTime: now, leaseTransitions: (spec.leaseTransitions ?? 0) + 1 } : {}),
          },
        },
      });
      return true;
    } catch (err) {
      if (statusCodeOf(err) === 409) return false;
      throw err;
    }
  }

  /**
   * Stops campaigning. When leading and `release` is true, gives the lease up (empties the
   * holder) so a successor need not wait for it to expire.
   */
  async stop(release = true): Promise<void> {
    this.stopped = true;
    this.stopping.abort();
    await this.loop;
    if (this.leading) {
      this.leading = false;
      this.callbacks.onStoppedLeading();
      if (release) {
        try {
          const lease = await this.leases.readNamespacedLease({
            name: this.options.name,
            namespace: this.options.namespace,
          });
          if (lease.spec?.holderIdentity === this.options.identity) {
            await this.leases.replaceNamespacedLease({
              name: this.options.name,
              namespace: this.options.namespace,
              body: { ...lease, spec: { ...lease.spec, holderIdentity: "", renewTime: new Date(0) } },
            });
          }
        } catch (err) {
          this.logger.warn("releasing the leader lease failed", { error: err });
        }
      }
    }
  }
}
