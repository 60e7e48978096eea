import { Allocator, validateAllocateRequest } from "../allocator/allocator.js";
import {
  HolderMismatchError,
  InvalidArgumentError,
  LeadershipLostError,
  LeaseNotFoundError,
  NotLeaderError,
  PoolManagedByConfigError,
  PoolNotFoundError,
  ResourceManagerError,
} from "../allocator/errors.js";
import type {
  AllocateOutcome,
  AllocateRequest,
  Lease,
  PoolConfig,
  PoolSnapshot,
  QueuedRequest,
} from "../allocator/types.js";
import type { ResourceManagerMetrics } from "../metrics.js";
import type { StateRepository } from "../repository/state-repository.js";
import { GroupCommitter } from "./group-commit.js";
import { silentLogger, type Logger } from "@flotilla/runtime";

/** Options of {@link ResourceManager}. */
export interface ResourceManagerOptions {
  readonly repository: StateRepository;
  /** Pools from the config file; applied (and persisted with source "config") on every activation. */
  readonly configPools?: readonly PoolConfig[];
  /** This instance's id, recorded in the fencing row. */
  readonly instance: string;
  /**
   * The URL clients should use to reach this instance, recorded for standbys' leader hints (a
   * function when it is only known once the server listens).
   */
  readonly advertiseUrl: string | (() => string);
  readonly metrics?: ResourceManagerMetrics;
  readonly log?: Logger;
  /** Wall clock in epoch milliseconds; Date.now by default. */
  readonly clock?: () => number;
  /** How often expired leases and unpolled queued requests are reclaimed (default 200 ms). */
  readonly sweepIntervalMs?: number;
  /**
   * Called when the active term ends on its own (a durable write failed, e.g. fenced by a new
   * leader or the database went away). The host decides whether to re-elect or exit.
   */
  readonly onTermEnded?: (err: unknown) => void;
}

/** What a release returned. */
export interface ReleaseResult {
  readonly releasedTokens: number;
  readonly dequeued: boolean;
}

/** Most items one batch call may carry. */
export const MAX_BATCH_SIZE = 1000;

/** One item's result in a batch: its value, or the domain error its unary call would have thrown. */
export type BatchResult<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: ResourceManagerError };

/** What a release names: a lease by id, or a holder's lease or queued request. */
export type ReleaseTarget =
  { readonly leaseId: string } | { readonly resource: string; readonly holder: string };

interface Term {
  readonly epoch: number;
  readonly allocator: Allocator;
  readonly committer: GroupCommitter;
  readonly sweep: NodeJS.Timeout;
}

/** Lifecycle state of a {@link ResourceManager}. */
export type ResourceManagerState = "standby" | "activating" | "active" | "stopped";

/**
 * The manager layer: the rules of allocation around an {@link Allocator} for one leadership
 * term, with write-ahead durability. Every decision is taken synchronously in memory (so no
 * interleaving of calls can over-allocate) and the reply waits until the decision's changes are
 * committed by the {@link GroupCommitter}. Reads wait for everything decided before them.
 *
 * ```
 *  standby --activate()--> activating --(claim epoch, load)--> active
 *     ^                                                          |
 *     +----------- deactivate() / write failed (onTermEnded) ----+
 * ```
 */
export class ResourceManager {
  private term: Term | undefined;
  private stateValue: ResourceManagerState = "standby";
  private leaderHint: string | undefined;
  private readonly clock: () => number;
  private readonly log: Logger;

  constructor(private readonly options: ResourceManagerOptions) {
    this.clock = options.clock ?? Date.now;
    this.log = options.log ?? silentLogger;
  }

  /** Current lifecycle state. */
  get state(): ResourceManagerState {
    return this.stateValue;
  }

  /** Epoch of the active term, or undefined when not active. */
  get epoch(): number | undefined {
    return this.term?.epoch;
  }

  /** The leader URL this standby reports to callers, once an election round has read it. */
  get leader(): string | undefined {
    return this.leaderHint;
  }

  /** Sets the leader URL reported to callers while this instance is a standby. */
  setLeaderHint(url: string | undefined): void {
    this.leaderHint = url;
  }

  /**
   * Starts a term: claims a new fencing epoch, applies config pools, loads pools and holders,
   * reclaims leases that expired while no leader ran, and starts the expiry sweep. Returns the
   * epoch. Side effects: database writes; a timer until deactivation.
   */
  async activate(): Promise<number> {
    if (this.stateValue === "stopped") throw new LeadershipLostError("resource manager is stopped");
    if (this.term) return this.term.epoch;
    this.stateValue = "activating";
    try {
      const { repository } = this.options;
      const { advertiseUrl } = this.options;
      const epoch = await repository.claimLeadership(
        this.options.instance,
        typeof advertiseUrl === "function" ? advertiseUrl() : advertiseUrl,
      );
      for (const config of this.options.configPools ?? []) await repository.savePool(epoch, config, "config");
      const allocator = new Allocator(
        this.options.metrics ? { observer: this.options.metrics.observer } : {},
      );
      const now = this.clock();
      for (const stored of await repository.loadPools()) allocator.upsertPool(stored.config, now);
      const orphans = allocator.load(await repository.loadHolders(), now);
      if (orphans.length > 0) {
        this.log.warn("holders of unknown pools ignored", { count: orphans.length });
      }
      if ((this.stateValue as ResourceManagerState) === "stopped")
        throw new LeadershipLostError("stopped while activating");
      const reclaimed = allocator.expire(now);
      const committer = new GroupCommitter((changes) => repository.applyChanges(epoch, changes), {
        onBatch: (size, seconds) => this.options.metrics?.committed(size, seconds),
      });
      const sweepMs = this.options.sweepIntervalMs ?? 200;
      const sweep = setInterval(() => this.sweep(), sweepMs);
      sweep.unref();
      this.term = { epoch, allocator, committer, sweep };
      this.stateValue = "active";
      this.options.metrics?.setAllocator(allocator, epoch);
      await this.commit(this.term);
      this.log.info("resource manager active", {
        epoch,
        pools: allocator.listPools().length,
        leases: allocator.listLeases().length,
        queued: allocator.queuedCount(),
        reclaimed: reclaimed.leases.length,
      });
      return epoch;
    } catch (err) {
      this.endTerm();
      if ((this.stateValue as ResourceManagerState) !== "stopped") this.stateValue = "standby";
      throw err;
    }
  }

  /** Ends the active term (e.g. leadership lost); pending replies fail with LeadershipLostError. */
  deactivate(reason: string): void {
    if (this.stateValue === "stopped") return;
    this.endTerm(new LeadershipLostError(reason));
    this.stateValue = "standby";
  }

  /** Stops for good: ends any term; later calls fail with NotLeaderError. */
  stop(): void {
    this.endTerm(new LeadershipLostError("resource manager stopping"));
    this.stateValue = "stopped";
  }

  /**
   * Allocates (or polls, or renews by re-allocating) a holder's tokens; see
   * {@link Allocator.allocate}. Resolves once the decision is durable.
   */
  async allocate(request: AllocateRequest): Promise<AllocateOutcome> {
    return this.decide("allocate", request.resource, (allocator) =>
      allocator.allocate(request, this.clock()),
    );
  }

  /** Renews a granted lease; resolves to the renewed lease once durable. */
  async renew(resource: string, holder: string, ttlMs?: number): Promise<Lease> {
    return this.decide("renew", resource, (allocator) =>
      allocator.renew(resource, holder, this.clock(), ttlMs),
    );
  }

  /**
   * Renews the lease with this id, which must belong to `holder`; resolves to the renewed lease
   * once durable. Throws {@link LeaseNotFoundError} or {@link HolderMismatchError}.
   */
  async renewById(leaseId: string, holder: string, ttlMs?: number): Promise<Lease> {
    return this.decide("renew", "", (allocator) => {
      const lease = allocator.findLease(leaseId);
      if (!lease) throw new LeaseNotFoundError("", holder, leaseId);
      if (lease.holder !== holder) throw new HolderMismatchError(leaseId, holder, lease.holder);
      return allocator.renew(lease.resource, lease.holder, this.clock(), ttlMs);
    });
  }

  /**
   * Releases a holder's lease or withdraws its queued request. Idempotent. Resolves, once
   * durable, to the tokens returned and whether a queued request was withdrawn.
   */
  async release(resource: string, holder: string): Promise<ReleaseResult> {
    return this.decide("release", resource, (allocator) => this.releaseIn(allocator, { resource, holder }));
  }

  /** Releases the lease with this id; an unknown id releases nothing (idempotent). */
  async releaseById(leaseId: string): Promise<ReleaseResult> {
    return this.decide("release", "", (allocator) => this.releaseIn(allocator, { leaseId }));
  }

  /**
   * Decides many allocations at once, in order, each exactly as {@link allocate} would (so one
   * item's failure, e.g. an unknown pool, does not affect the others), and resolves with one
   * result per request once every decision is durable: one wait for the group commit instead
   * of one per request. Throws {@link InvalidArgumentError} naming `requests[i].<field>`, before
   * deciding anything, when the batch is empty, larger than {@link MAX_BATCH_SIZE}, has an
   * invalid request or names a (resource, holder) twice.
   */
  async allocateBatch(requests: readonly AllocateRequest[]): Promise<BatchResult<AllocateOutcome>[]> {
    checkBatch(requests, (request, i) => {
      try {
        validateAllocateRequest(request);
      } catch (err) {
        throw prefixed(err, i);
      }
      return `${request.resource}\u0000${request.holder}`;
    });
    return this.decideBatch(
      "allocate_batch",
      requests,
      (r) => r.resource,
      (allocator, request) => allocator.allocate(request, this.clock()),
    );
  }

  /**
   * Decides many releases at once, each exactly as {@link release} / {@link releaseById} would,
   * and resolves with one result per target once every decision is durable. Throws
   * {@link InvalidArgumentError}, before deciding anything, for an empty or oversized batch, a
   * target naming neither a lease id nor a resource and holder, or a target named twice.
   */
  async releaseBatch(targets: readonly ReleaseTarget[]): Promise<BatchResult<ReleaseResult>[]> {
    checkBatch(targets, (target, i) => {
      if ("leaseId" in target) {
        if (target.leaseId === "") throw new InvalidArgumentError(`requests[${i}].lease_id`, "is required");
        return `lease\u0000${target.leaseId}`;
      }
      if (target.resource === "" || target.holder === "") {
        throw new InvalidArgumentError(
          `requests[${i}].lease_id`,
          "required unless both resource and holder are set",
        );
      }
      return `holder\u0000${target.resource}\u0000${target.holder}`;
    });
    return this.decideBatch(
      "release_batch",
      targets,
      (t) => ("leaseId" in t ? "" : t.resource),
      (allocator, target) => this.releaseIn(allocator, target),
    );
  }

  /** True when the pool exists in the active term. */
  hasPool(resource: string): boolean {
    return this.activeTerm().allocator.hasPool(resource);
  }

  /** Creates or replaces a pool (persisted with source "api"); returns its snapshot. */
  async upsertPool(config: PoolConfig): Promise<PoolSnapshot> {
    const term = this.activeTerm();
    const probe = new Allocator();
    probe.upsertPool(config, 0);
    await this.options.repository.savePool(term.epoch, config, "api");
    this.assertSameTerm(term);
    term.allocator.upsertPool(config, this.clock());
    await this.commit(term);
    return term.allocator.getPool(config.resource);
  }

  /**
   * Deletes a pool created through the API. Throws {@link PoolNotFoundError},
   * {@link PoolInUseError} while it has leases or queued requests, and
   * {@link PoolManagedByConfigError} for a pool of the configuration file (the next activation
   * would create it again). The pool leaves the decision loop before the delete is written, so
   * no request can be granted in it meanwhile; if the write fails it is put back.
   */
  async deletePool(resource: string): Promise<void> {
    const term = this.activeTerm();
    const snapshot = term.allocator.getPool(resource);
    if ((this.options.configPools ?? []).some((p) => p.resource === resource)) {
      throw new PoolManagedByConfigError(resource);
    }
    term.allocator.deletePool(resource);
    try {
      await this.options.repository.deletePool(term.epoch, resource);
    } catch (err) {
      if (this.term === term && !term.allocator.hasPool(resource)) {
        term.allocator.upsertPool(snapshot.config, this.clock());
      }
      throw err;
    }
    this.assertSameTerm(term);
  }

  /** Returns a pool's snapshot; everything it shows is durable when this resolves. */
  async getPool(resource: string): Promise<PoolSnapshot> {
    return this.read((a) => a.getPool(resource));
  }

  /** Returns every pool's snapshot. */
  async listPools(): Promise<PoolSnapshot[]> {
    return this.read((a) => a.listPools());
  }

  /**
   * Lists leases and queued requests (with their estimated queue positions), optionally of one
   * pool.
   */
  async listHolders(
    resource?: string,
  ): Promise<{ leases: Lease[]; queued: (QueuedRequest & { position: number })[] }> {
    return this.read((a) => {
      if (resource !== undefined && !a.hasPool(resource)) throw new PoolNotFoundError(resource);
      const now = this.clock();
      return {
        leases: a.listLeases(resource),
        queued: a
          .listQueued(resource)
          .map((q) => ({ ...q, position: a.queuePosition(q.resource, q.holder, now) ?? 0 })),
      };
    });
  }

  private async decide<T>(method: string, resource: string, fn: (allocator: Allocator) => T): Promise<T> {
    const started = performance.now();
    const term = this.activeTerm();
    let result: T;
    try {
      result = fn(term.allocator);
    } catch (err) {
      if (err instanceof Error && "reason" in err) {
        this.options.metrics?.rejected(resource, String((err as { reason: unknown }).reason));
      }
      // A rejected call changes nothing, but it may have observed undecided state.
      await this.commit(term);
      throw err;
    }
    await this.commit(term);
    const outcome = result as { status?: unknown; reason?: unknown };
    if (outcome && outcome.status === "rejected")
      this.options.metrics?.rejected(resource, String(outcome.reason));
    this.options.metrics?.decided(method, (performance.now() - started) / 1000);
    return result;
  }

  private async decideBatch<Item, T>(
    method: string,
    items: readonly Item[],
    resourceOf: (item: Item) => string,
    fn: (allocator: Allocator, item: Item) => T,
  ): Promise<BatchResult<T>[]> {
    const started = performance.now();
    const term = this.activeTerm();
    const results: BatchResult<T>[] = [];
    let unexpected: { error: unknown } | undefined;
    for (const item of items) {
      try {
        const value = fn(term.allocator, item);
        results.push({ ok: true, value });
        const outcome = value as { status?: unknown; reason?: unknown };
        if (outcome?.status === "rejected")
          this.options.metrics?.rejected(resourceOf(item), String(outcome.reason));
      } catch (err) {
        if (!(err instanceof ResourceManagerError)) {
          // A bug, not a verdict on the item: stop, but keep what was decided durable.
          unexpected = { error: err };
          break;
        }
        this.options.metrics?.rejected(resourceOf(item), err.reason);
        results.push({ ok: false, error: err });
      }
    }
    await this.commit(term);
    if (unexpected) throw unexpected.error;
    this.options.metrics?.decided(method, (performance.now() - started) / 1000);
    return results;
  }

  private releaseIn(allocator: Allocator, target: ReleaseTarget): ReleaseResult {
    if ("leaseId" in target) {
      const lease = allocator.findLease(target.leaseId);
      if (!lease) return { releasedTokens: 0, dequeued: false };
      allocator.release(lease.resource, lease.holder, this.clock());
      return { releasedTokens: lease.tokens, dequeued: false };
    }
    const lease = allocator.getLease(target.resource, target.holder);
    const what = allocator.release(target.resource, target.holder, this.clock());
    return { releasedTokens: what === "lease" && lease ? lease.tokens : 0, dequeued: what === "queued" };
  }

  private async read<T>(fn: (allocator: Allocator) => T): Promise<T> {
    const term = this.activeTerm();
    const result = fn(term.allocator);
    await term.committer.barrier();
    return result;
  }

  private commit(term: Term): Promise<void> {
    return term.committer.submit(term.allocator.takeChanges()).catch((err: unknown) => {
      this.termFailed(term, err);
      throw err instanceof LeadershipLostError ? err : new LeadershipLostError(describe(err));
    });
  }

  private sweep(): void {
    const term = this.term;
    if (!term) return;
    term.allocator.expire(this.clock());
    this.commit(term).catch(() => {
      // Reported through termFailed/onTermEnded.
    });
  }

  private termFailed(term: Term, err: unknown): void {
    if (this.term !== term) return;
    this.log.error("durable write failed; ending leadership term", {
      epoch: term.epoch,
      error: describe(err),
    });
    this.endTerm(err);
    this.stateValue = "standby";
    this.options.onTermEnded?.(err);
  }

  private endTerm(err?: unknown): void {
    const term = this.term;
    if (!term) return;
    this.term = undefined;
    clearInterval(term.sweep);
    term.committer.fail(err ?? new LeadershipLostError("term ended"));
    this.options.metrics?.setAllocator(undefined, term.epoch);
  }

  private activeTerm(): Term {
    if (!this.term || this.stateValue !== "active") throw new NotLeaderError(this.leaderHint);
    return this.term;
  }

  private assertSameTerm(term: Term): void {
    if (this.term !== term) throw new LeadershipLostError("the term ended while the pool change was written");
  }
}

/**
 * Checks a batch's size and that `keyOf` (which validates one item, throwing
 * {@link InvalidArgumentError}) gives every item a distinct key.
 */
function checkBatch<Item>(items: readonly Item[], keyOf: (item: Item, index: number) => string): void {
  if (items.length === 0) throw new InvalidArgumentError("requests", "must not be empty");
  if (items.length > MAX_BATCH_SIZE) {
    throw new InvalidArgumentError("requests", `at most ${MAX_BATCH_SIZE} items (got ${items.length})`);
  }
  const seen = new Map<string, number>();
  items.forEach((item, i) => {
    const key = keyOf(item, i);
    const first = seen.get(key);
    if (first !== undefined) {
      throw new InvalidArgumentError(
        `requests[${i}]`,
        `names the same holder or lease as requests[${first}]`,
      );
    }
    seen.set(key, i);
  });
}

function prefixed(err: unknown, index: number): unknown {
  return err instanceof InvalidArgumentError
    ? new InvalidArgumentError(`requests[${index}].${err.field}`, err.problem)
    : err;
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
