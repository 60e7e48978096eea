import {
  HolderConflictError,
  InvalidArgumentError,
  LeaseNotFoundError,
  PoolInUseError,
  PoolNotFoundError,
  RequestExceedsLimitError,
} from "./errors.js";
import { randomUUID } from "node:crypto";
import { dnsLabelProblem } from "@flotilla/common";
import {
  EndReason,
  RejectReason,
  WaitReason,
  type AllocateOutcome,
  type AllocateRequest,
  type AllocatorObserver,
  type CapSpec,
  type HolderRecord,
  type Lease,
  type PoolConfig,
  type PoolSnapshot,
  type QueuedRequest,
  type TenantConfig,
  type TenantUsage,
} from "./types.js";

interface ProjectState {
  readonly name: string;
  inUse: number;
  cap: number;
  weight: number;
  readonly domains: Map<string, LeafState>;
}

interface LeafState {
  readonly project: ProjectState;
  readonly domain: string;
  inUse: number;
  cap: number;
  weight: number;
  /** FIFO by insertion order (Map iteration order). */
  readonly queue: Map<string, QueuedRequest>;
}

interface PoolState {
  config: PoolConfig;
  limit: number;
  allowBorrowing: boolean;
  defaultTtlMs: number;
  inUse: number;
  readonly projects: Map<string, ProjectState>;
  readonly leases: Map<string, Lease>;
  readonly waiting: Map<string, QueuedRequest>;
  /** Leaves whose queue is non-empty. */
  readonly waitingLeaves: Set<LeafState>;
  /** Bumped on every change of leases, queues or configuration (invalidates `order`). */
  version: number;
  /** Times of the most recent grants (ring buffer), for the wait estimate. */
  readonly recentGrants: number[];
  recentGrantsNext: number;
  /** Cached virtual service order of the waiting requests (holder -> 1-based position). */
  order: { version: number; computedAt: number; positions: Map<string, number> } | undefined;
}

/** Queues up to this size get exact positions on every poll; larger ones a cached estimate. */
const EXACT_POSITION_QUEUE = 64;
/** How stale a cached position estimate of a large queue may be, in milliseconds. */
const POSITION_REFRESH_MS = 250;
/** How many recent grants the wait estimate averages over. */
const RECENT_GRANTS = 64;

/** Options of {@link Allocator}. */
export interface AllocatorOptions {
  readonly observer?: AllocatorObserver;
  /** Generates lease ids; random UUIDs by default. */
  readonly newLeaseId?: () => string;
}

/** Longest lease TTL / poll deadline accepted, in milliseconds (24 h). */
export const MAX_TTL_MS = 24 * 60 * 60 * 1000;
/** Default lease TTL of a pool that names none, in milliseconds. */
export const DEFAULT_TTL_MS = 60_000;

/**
 * The authoritative, in-memory token allocator: pure TypeScript, synchronous, no I/O, time passed
 * in by the caller. Every public method runs to completion before the next, so no interleaving of
 * calls can over-allocate (JavaScript's single thread is the decision loop).
 *
 * Scheduling (documented with its guarantees in resource-manager/README.md):
 * - Every request is appended to its project/domain FIFO queue, then `dispatch` grants from the
 *   heads of the queues while capacity remains.
 * - A head is *within caps* when granting it keeps both its project/domain and its project at
 *   or under their caps. While any within-caps head is waiting, only within-caps heads are
 *   eligible: a tenant over its cap (a borrower) gets nothing new while others wait. When every
 *   waiting head would borrow, borrowing is allowed (work conservation), up to the global limit.
 * - Among eligible heads the winner is the project with the lowest in-use/weight, then within
 *   it the project/domain with the lowest in-use/weight, then the oldest request.
 * - If the winner does not fit in the free capacity, dispatch stops: the capacity released next
 *   is reserved for it, so large requests are not starved by small ones.
 *
 * Changes to durable state are recorded and handed out by {@link Allocator.takeChanges} so the
 * caller can write them ahead to the database before replying.
 */
export class Allocator {
  private readonly pools = new Map<string, PoolState>();
  private readonly observer: AllocatorObserver;
  private readonly newLeaseId: () => string;
  private readonly leaseIds = new Map<string, { resource: string; holder: string }>();
  private changes = new Map<string, HolderRecord | null>();
  private nextSeq = 1;

  constructor(options: AllocatorOptions = {}) {
    this.observer = options.observer ?? {};
    this.newLeaseId = options.newLeaseId ?? randomUUID;
  }

  /**
   * Creates or replaces a pool's configuration. Existing leases are kept (lowering the limit
   * below the tokens in use revokes nothing; new grants wait until usage drops). Queued
   * requests larger than a new, lower limit are dropped. May grant queued requests.
   * Throws {@link InvalidArgumentError} for an invalid configuration.
   */
  upsertPool(config: PoolConfig, now: number): void {
    validatePoolConfig(config);
    let pool = this.pools.get(config.resource);
    if (!pool) {
      pool = {
        config,
        limit: config.limit,
        allowBorrowing: true,
        defaultTtlMs: DEFAULT_TTL_MS,
        inUse: 0,
        projects: new Map(),
        leases: new Map(),
        waiting: new Map(),
        waitingLeaves: new Set(),
        version: 0,
        order: undefined,
        recentGrants: [],
        recentGrantsNext: 0,
      };
      this.pools.set(config.resource, pool);
    }
    pool.config = config;
    pool.version++;
    pool.limit = config.limit;
    pool.allowBorrowing = config.allowBorrowing ?? true;
    pool.defaultTtlMs = config.defaultTtlMs ?? DEFAULT_TTL_MS;
    for (const project of pool.projects.values()) {
      this.resolveProject(pool, project);
      for (const leaf of project.domains.values()) this.resolveLeaf(pool, leaf);
    }
    for (const request of [...pool.waiting.values()]) {
      if (this.impossible(pool, request, this.leafOf(pool, request.project, request.domain))) {
        this.removeQueued(pool, request, EndReason.Rejected);
      }
    }
    this.dispatch(pool, now);
  }

  /**
   * Deletes a pool. Throws {@link PoolNotFoundError} if absent and {@link PoolInUseError} while it
   * has leases or queued requests.
   */
  deletePool(resource: string): void {
    const pool = this.requirePool(resource);
    if (pool.leases.size > 0 || pool.waiting.size > 0) {
      throw new PoolInUseError(resource, pool.leases.size, pool.waiting.size);
    }
    this.pools.delete(resource);
  }

  /** Returns true when the pool exists. */
  hasPool(resource: string): boolean {
    return this.pools.has(resource);
  }

  /** Returns the (resource, holder) of a live lease id, if any. */
  findLease(leaseId: string): Lease | undefined {
    const ref = this.leaseIds.get(leaseId);
    return ref ? this.pools.get(ref.resource)?.leases.get(ref.holder) : undefined;
  }

  /**
   * Requests `tokens` for a holder. Idempotent per (resource, holder): a holder that already has
   * a lease gets it back, renewed with the new TTL; a queued holder gets its current position and
   * its poll deadline is pushed to now + ttl. A new request is queued, then dispatched; when it
   * cannot be granted now and `wait` is false it is rejected instead. A request that can never be
   * granted (more than the limit, or more than the tenant's cap without borrowing) is rejected.
   * Throws {@link PoolNotFoundError}, {@link InvalidArgumentError} or {@link HolderConflictError}.
   */
  allocate(request: AllocateRequest, now: number): AllocateOutcome {
    validateAllocateRequest(request);
    const pool = this.requirePool(request.resource);
    const ttlMs = request.ttlMs ?? pool.defaultTtlMs;
    const lease = pool.leases.get(request.holder);
    if (lease) {
      assertSameHolder(lease, request);
      const renewed: Lease = { ...lease, ttlMs, expiresAt: now + ttlMs };
      pool.leases.set(lease.holder, renewed);
      this.recordLease(renewed);
      return { status: "granted", lease: renewed };
    }
    const queued = pool.waiting.get(request.holder);
    if (queued) {
      assertSameHolder(queued, request);
      const polled: QueuedRequest = { ...queued, ttlMs, pollDeadline: now + ttlMs };
      pool.waiting.set(polled.holder, polled);
      this.leafOf(pool, polled.project, polled.domain).queue.set(polled.holder, polled);
      return this.queuedOutcome(pool, polled, now);
    }
    const leaf = this.leafOf(pool, request.project, request.domain);
    const entry: QueuedRequest = {
      resource: request.resource,
      project: request.project,
      domain: request.domain,
      holder: request.holder,
      tokens: request.tokens,
      ttlMs,
      seq: this.nextSeq++,
      enqueuedAt: now,
      pollDeadline: now + ttlMs,
    };
    const impossible = this.impossible(pool, entry, leaf);
    if (impossible) return impossible;
    this.addQueued(pool, entry);
    this.dispatch(pool, now);
    const granted = pool.leases.get(request.holder);
    if (granted) return { status: "granted", lease: granted };
    const outcome = this.queuedOutcome(pool, entry, now);
    if (request.wait === false) {
      this.removeQueuedEntry(pool, leaf, entry);
      const reason = outcome.status === "queued" ? outcome.reason : WaitReason.GlobalLimitReached;
      return {
        status: "rejected",
        reason,
        message: `${request.tokens} token(s) of "${request.resource}" not available now (${reason})`,
      };
    }
    this.observer.onQueued?.(entry);
    this.recordQueued(entry);
    return outcome;
  }

  /**
   * Extends a granted lease to now + ttl (the pool's default TTL when `ttlMs` is omitted).
   * Returns the renewed lease. Throws {@link LeaseNotFoundError} when the holder has no lease.
   */
  renew(resource: string, holder: string, now: number, ttlMs?: number): Lease {
    const pool = this.requirePool(resource);
    const lease = pool.leases.get(holder);
    if (!lease) throw new LeaseNotFoundError(resource, holder);
    if (ttlMs !== undefined) validateTtl(ttlMs);
    const ttl = ttlMs ?? pool.defaultTtlMs;
    const renewed: Lease = { ...lease, ttlMs: ttl, expiresAt: now + ttl };
    pool.leases.set(holder, renewed);
    this.recordLease(renewed);
    return renewed;
  }

  /**
   * Releases a holder's lease, or withdraws its queued request. Idempotent: returns what was
   * removed, or `"none"` when the holder had nothing. May grant queued requests.
   */
  release(resource: string, holder: string, now: number): "lease" | "queued" | "none" {
    const pool = this.requirePool(resource);
    const lease = pool.leases.get(holder);
    if (lease) {
      this.removeLease(pool, lease, EndReason.Released);
      this.dispatch(pool, now);
      return "lease";
    }
    const queued = pool.waiting.get(holder);
    if (queued) {
      this.removeQueued(pool, queued, EndReason.Released);
      this.dispatch(pool, now);
      return "queued";
    }
    return "none";
  }

  /**
   * Reclaims every lease whose expiry is at or before `now` and drops queued requests not polled
   * by their deadline, then dispatches. Returns what was removed.
   */
  expire(now: number): { leases: Lease[]; queued: QueuedRequest[] } {
    const leases: Lease[] = [];
    const queued: QueuedRequest[] = [];
    for (const pool of this.pools.values()) {
      let changed = false;
      for (const lease of pool.leases.values()) {
        if (lease.expiresAt <= now) leases.push(lease);
      }
      for (const request of pool.waiting.values()) {
        if (request.pollDeadline <= now) queued.push(request);
      }
      for (const lease of leases) {
        if (lease.resource !== pool.config.resource) continue;
        this.removeLease(pool, lease, EndReason.Expired);
        changed = true;
      }
      for (const request of queued) {
        if (request.resource !== pool.config.resource) continue;
        this.removeQueued(pool, request, EndReason.Dropped);
        changed = true;
      }
      if (changed) this.dispatch(pool, now);
    }
    return { leases, queued };
  }

  /**
   * Restores durable state (leases and queued requests, e.g. loaded from the database after a
   * restart or takeover). Pools must already exist; records of unknown pools are returned as
   * orphans and not loaded. Queued requests get a fresh poll deadline of now + ttl so holders
   * have a full TTL to find the new leader. Leases past expiry are reclaimed by the next
   * {@link Allocator.expire}. Loaded grants bypass the caps (they were legal when granted).
   */
  load(records: readonly HolderRecord[], now: number): HolderRecord[] {
    const orphans: HolderRecord[] = [];
    const sorted = [...records].sort((a, b) => a.seq - b.seq);
    for (const record of sorted) {
      const pool = this.pools.get(record.resource);
      if (!pool) {
        orphans.push(record);
        continue;
      }
      this.nextSeq = Math.max(this.nextSeq, record.seq + 1);
      if (pool.leases.has(record.holder) || pool.waiting.has(record.holder)) continue;
      const { resource, project, domain, holder, tokens, ttlMs } = record;
      const request = { resource, project, domain, holder, tokens, ttlMs };
      if (record.state === "granted") {
        const lease: Lease = {
          ...request,
          leaseId: record.leaseId,
          requestedAt: record.requestedAt,
          grantedAt: record.since,
          expiresAt: record.expiresAt,
          borrowed: record.borrowed,
        };
        this.addLease(pool, lease);
      } else {
        this.addQueued(pool, {
          ...request,
          seq: record.seq,
          enqueuedAt: record.requestedAt,
          pollDeadline: now + record.ttlMs,
        });
      }
    }
    for (const pool of this.pools.values()) this.dispatch(pool, now);
    return orphans;
  }

  /**
   * Returns and clears the durable changes made since the last call, keyed by
   * `resource \0 holder`: the record to upsert, or `null` to delete.
   */
  takeChanges(): Map<string, HolderRecord | null> {
    const changes = this.changes;
    this.changes = new Map();
    return changes;
  }

  /** Returns the holder's lease, if granted. */
  getLease(resource: string, holder: string): Lease | undefined {
    return this.pools.get(resource)?.leases.get(holder);
  }

  /** Returns the holder's queued request, if waiting. */
  getQueued(resource: string, holder: string): QueuedRequest | undefined {
    return this.pools.get(resource)?.waiting.get(holder);
  }

  /**
   * Returns a waiting request's estimated 1-based position in its pool's service order (see
   * the allocate reply), or undefined when the holder is not waiting.
   */
  queuePosition(resource: string, holder: string, now: number): number | undefined {
    const pool = this.pools.get(resource);
    const request = pool?.waiting.get(holder);
    return pool && request ? this.positionOf(pool, request, now) : undefined;
  }

  /** Lists the leases of a pool (all pools when `resource` is omitted). */
  listLeases(resource?: string): Lease[] {
    const pools = resource === undefined ? [...this.pools.values()] : [this.requirePool(resource)];
    return pools.flatMap((p) => [...p.leases.values()]);
  }

  /** Lists the queued requests of a pool (all pools when `resource` is omitted), oldest first. */
  listQueued(resource?: string): QueuedRequest[] {
    const pools = resource === undefined ? [...this.pools.values()] : [this.requirePool(resource)];
    return pools.flatMap((p) => [...p.waiting.values()]).sort((a, b) => a.seq - b.seq);
  }

  /** Returns a pool's snapshot. Throws {@link PoolNotFoundError}. */
  getPool(resource: string): PoolSnapshot {
    return snapshotOf(this.requirePool(resource));
  }

  /** Returns snapshots of every pool, ordered by resource name. */
  listPools(): PoolSnapshot[] {
    return [...this.pools.values()]
      .sort((a, b) => (a.config.resource < b.config.resource ? -1 : 1))
      .map(snapshotOf);
  }

  /** Number of requests waiting across every pool. */
  queuedCount(): number {
    let n = 0;
    for (const pool of this.pools.values()) n += pool.waiting.size;
    return n;
  }

  /**
   * Grants queued heads while capacity allows, following the rules in the class comment.
   * Terminates: each iteration either grants (removing a queued request) or stops.
   */
  private dispatch(pool: PoolState, now: number): void {
    while (pool.waitingLeaves.size > 0) {
      const pick = this.pickNext(
        pool,
        (leaf) => leaf.inUse,
        (project) => project.inUse,
        (leaf) => firstOf(leaf.queue),
      );
      if (!pick) return;
      const { leaf, head, within } = pick;
      if (pool.inUse + head.tokens > pool.limit) return;
      this.removeQueuedEntry(pool, leaf, head);
      const lease: Lease = {
        leaseId: this.newLeaseId(),
        resource: head.resource,
        project: head.project,
        domain: head.domain,
        holder: head.holder,
        tokens: head.tokens,
        ttlMs: head.ttlMs,
        requestedAt: head.enqueuedAt,
        grantedAt: now,
        expiresAt: now + head.ttlMs,
        borrowed: !within,
      };
      this.addLease(pool, lease);
      this.recordLease(lease, head.seq);
      pool.recentGrants[pool.recentGrantsNext] = now;
      pool.recentGrantsNext = (pool.recentGrantsNext + 1) % RECENT_GRANTS;
      this.observer.onGrant?.(lease, Math.max(0, now - head.enqueuedAt));
    }
  }

  /**
   * The scheduling rule, shared by dispatch and the queue-position estimate: among the heads of
   * the waiting leaves, prefer heads within caps (borrowing heads only when none is, and only if
   * the pool allows borrowing), then the project with the lowest in-use/weight, then the leaf
   * with the lowest in-use/weight, then the oldest. In-use figures come from the accessors so the
   * estimate can run on virtual counters.
   */
  private pickNext(
    pool: PoolState,
    leafInUse: (leaf: LeafState) => number,
    projectInUse: (project: ProjectState) => number,
    headOf: (leaf: LeafState) => QueuedRequest | undefined,
  ): { leaf: LeafState; head: QueuedRequest; within: boolean } | undefined {
    let best: { leaf: LeafState; head: QueuedRequest; within: boolean } | undefined;
    for (const leaf of pool.waitingLeaves) {
      const head = headOf(leaf);
      if (!head) continue;
      const within =
        leafInUse(leaf) + head.tokens <= leaf.cap &&
        projectInUse(leaf.project) + head.tokens <= leaf.project.cap;
      if (!within && !pool.allowBorrowing) continue;
      if (
        best === undefined ||
        (within && !best.within) ||
        (within === best.within && precedes(leaf, head, best.leaf, best.head, leafInUse, projectInUse))
      ) {
        best = { leaf, head, within };
      }
    }
    return best;
  }

  /** Returns a rejection when the request could never be granted in this pool, else undefined. */
  private impossible(pool: PoolState, request: QueuedRequest, leaf: LeafState): AllocateOutcome | undefined {
    if (request.tokens > pool.limit) {
      return {
        status: "rejected",
        reason: RejectReason.ExceedsLimit,
        message: new RequestExceedsLimitError(request.resource, request.tokens, pool.limit).message,
      };
    }
    const cap = Math.min(leaf.cap, leaf.project.cap);
    if (!pool.allowBorrowing && request.tokens > cap) {
      return {
        status: "rejected",
        reason: RejectReason.ExceedsTenantCap,
        message: `request for ${request.tokens} token(s) of "${request.resource}" exceeds the cap of ${cap} of ${request.project}/${request.domain} and the pool does not allow borrowing`,
      };
    }
    return undefined;
  }

  private addLease(pool: PoolState, lease: Lease): void {
    const leaf = this.leafOf(pool, lease.project, lease.domain);
    pool.leases.set(lease.holder, lease);
    pool.version++;
    this.leaseIds.set(lease.leaseId, { resource: lease.resource, holder: lease.holder });
    pool.inUse += lease.tokens;
    leaf.inUse += lease.tokens;
    leaf.project.inUse += lease.tokens;
  }

  private removeLease(pool: PoolState, lease: Lease, reason: EndReason): void {
    const leaf = this.leafOf(pool, lease.project, lease.domain);
    pool.leases.delete(lease.holder);
    pool.version++;
    this.leaseIds.delete(lease.leaseId);
    pool.inUse -= lease.tokens;
    leaf.inUse -= lease.tokens;
    leaf.project.inUse -= lease.tokens;
    this.changes.set(keyOf(lease.resource, lease.holder), null);
    this.observer.onLeaseEnded?.(lease, reason);
  }

  private addQueued(pool: PoolState, request: QueuedRequest): void {
    const leaf = this.leafOf(pool, request.project, request.domain);
    pool.waiting.set(request.holder, request);
    pool.version++;
    leaf.queue.set(request.holder, request);
    pool.waitingLeaves.add(leaf);
  }

  private removeQueued(pool: PoolState, request: QueuedRequest, reason: EndReason): void {
    this.removeQueuedEntry(pool, this.leafOf(pool, request.project, request.domain), request);
    this.changes.set(keyOf(request.resource, request.holder), null);
    this.observer.onQueuedEnded?.(request, reason);
  }

  private removeQueuedEntry(pool: PoolState, leaf: LeafState, request: QueuedRequest): void {
    pool.waiting.delete(request.holder);
    pool.version++;
    leaf.queue.delete(request.holder);
    if (leaf.queue.size === 0) pool.waitingLeaves.delete(leaf);
  }

  private recordLease(lease: Lease, seq?: number): void {
    const key = keyOf(lease.resource, lease.holder);
    const previous = this.changes.get(key);
    this.changes.set(key, {
      leaseId: lease.leaseId,
      resource: lease.resource,
      holder: lease.holder,
      project: lease.project,
      domain: lease.domain,
      tokens: lease.tokens,
      state: "granted",
      ttlMs: lease.ttlMs,
      seq: seq ?? previous?.seq ?? 0,
      requestedAt: lease.requestedAt,
      since: lease.grantedAt,
      expiresAt: lease.expiresAt,
      borrowed: lease.borrowed,
    });
  }

  private recordQueued(request: QueuedRequest): void {
    this.changes.set(keyOf(request.resource, request.holder), {
      leaseId: "",
      resource: request.resource,
      holder: request.holder,
      project: request.project,
      domain: request.domain,
      tokens: request.tokens,
      state: "queued",
      ttlMs: request.ttlMs,
      seq: request.seq,
      requestedAt: request.enqueuedAt,
      since: request.enqueuedAt,
      expiresAt: request.pollDeadline,
      borrowed: false,
    });
  }

  private queuedOutcome(pool: PoolState, request: QueuedRequest, now: number): AllocateOutcome {
    const leaf = this.leafOf(pool, request.project, request.domain);
    let reason: WaitReason;
    if (!withinCaps(leaf, request.tokens)) reason = WaitReason.TenantCapReached;
    else if (pool.inUse + request.tokens > pool.limit) reason = WaitReason.GlobalLimitReached;
    else reason = WaitReason.CapacityReserved;
    const position = this.positionOf(pool, request, now);
    const estimatedWaitMs = estimateWait(pool, position, now);
    return {
      status: "queued",
      request,
      position,
      reason,
      ...(estimatedWaitMs !== undefined ? { estimatedWaitMs } : {}),
    };
  }

  /**
   * Estimates a waiting request's 1-based position: the scheduling rule replayed on virtual
   * counters (each pick charges its tokens), ignoring capacity, as if capacity freed one request
   * at a time and nobody else arrived. Exact for queues of up to {@link EXACT_POSITION_QUEUE}
   * requests; larger queues reuse an order at most {@link POSITION_REFRESH_MS} old (a request
   * that arrived since is placed last), so polling stays O(1) amortized.
   */
  private positionOf(pool: PoolState, request: QueuedRequest, now: number): number {
    let order = pool.order;
    const stale =
      order === undefined ||
      (order.version !== pool.version &&
        (pool.waiting.size <= EXACT_POSITION_QUEUE || now - order.computedAt >= POSITION_REFRESH_MS));
    if (stale || order === undefined) {
      order = { version: pool.version, computedAt: now, positions: this.serviceOrder(pool) };
      pool.order = order;
    }
    return order.positions.get(request.holder) ?? pool.waiting.size;
  }

  /** Replays the scheduling rule over every waiting request; O(waiting x waiting tenants). */
  private serviceOrder(pool: PoolState): Map<string, number> {
    const leafUse = new Map<LeafState, number>();
    const projectUse = new Map<ProjectState, number>();
    const cursors = new Map<LeafState, Iterator<QueuedRequest>>();
    const heads = new Map<LeafState, QueuedRequest | undefined>();
    const headOf = (leaf: LeafState): QueuedRequest | undefined => {
      if (!heads.has(leaf)) {
        let cursor = cursors.get(leaf);
        if (!cursor) {
          cursor = leaf.queue.values();
          cursors.set(leaf, cursor);
        }
        const next = cursor.next();
        heads.set(leaf, next.done ? undefined : next.value);
      }
      return heads.get(leaf);
    };
    const positions = new Map<string, number>();
    for (let position = 1; position <= pool.waiting.size; position++) {
      const pick = this.pickNext(
        pool,
        (leaf) => leafUse.get(leaf) ?? leaf.inUse,
        (project) => projectUse.get(project) ?? project.inUse,
        headOf,
      );
      if (!pick) break;
      positions.set(pick.head.holder, position);
      leafUse.set(pick.leaf, (leafUse.get(pick.leaf) ?? pick.leaf.inUse) + pick.head.tokens);
      projectUse.set(
        pick.leaf.project,
        (projectUse.get(pick.leaf.project) ?? pick.leaf.project.inUse) + pick.head.tokens,
      );
      heads.delete(pick.leaf);
    }
    // Heads that can never be picked (over cap in a pool without borrowing) come last.
    let last = positions.size;
    for (const holder of pool.waiting.keys()) if (!positions.has(holder)) positions.set(holder, ++last);
    return positions;
  }

  private requirePool(resource: string): PoolState {
    const pool = this.pools.get(resource);
    if (!pool) throw new PoolNotFoundError(resource);
    return pool;
  }

  private leafOf(pool: PoolState, projectName: string, domain: string): LeafState {
    let project = pool.projects.get(projectName);
    if (!project) {
      project = { name: projectName, inUse: 0, cap: pool.limit, weight: 1, domains: new Map() };
      this.resolveProject(pool, project);
      pool.projects.set(projectName, project);
    }
    let leaf = project.domains.get(domain);
    if (!leaf) {
      leaf = { project, domain, inUse: 0, cap: pool.limit, weight: 1, queue: new Map() };
      this.resolveLeaf(pool, leaf);
      project.domains.set(domain, leaf);
    }
    return leaf;
  }

  private resolveProject(pool: PoolState, project: ProjectState): void {
    const entry = findTenant(pool.config, project.name, "");
    project.cap = effectiveCap(entry?.cap ?? pool.config.defaultCap, pool.limit);
    project.weight = entry?.weight ?? pool.config.defaultWeight ?? 1;
  }

  private resolveLeaf(pool: PoolState, leaf: LeafState): void {
    // A request for the project as a whole (domain "") is charged to the project only.
    const entry = leaf.domain === "" ? undefined : findTenant(pool.config, leaf.project.name, leaf.domain);
    leaf.cap =
      leaf.domain === "" ? pool.limit : effectiveCap(entry?.cap ?? pool.config.defaultCap, pool.limit);
    leaf.weight = leaf.domain === "" ? 1 : (entry?.weight ?? pool.config.defaultWeight ?? 1);
  }
}

/**
 * Estimates how long a request at `position` waits: position / recent grant rate, where the rate
 * is measured over the last {@link RECENT_GRANTS} grants of the pool. Returns milliseconds, or
 * undefined when fewer than 8 grants are known.
 */
function estimateWait(pool: PoolState, position: number, now: number): number | undefined {
  const times = pool.recentGrants;
  if (times.length < 8) return undefined;
  const oldest = times.length < RECENT_GRANTS ? times[0] : times[pool.recentGrantsNext];
  if (oldest === undefined) return undefined;
  const span = Math.max(1, now - oldest);
  return Math.round((position * span) / times.length);
}

/** Returns the key used in change sets: `resource \0 holder`. */
export function keyOf(resource: string, holder: string): string {
  return `${resource}\u0000${holder}`;
}

/**
 * Converts a cap specification to tokens for a given limit (proportions round down, uncapped is
 * the limit itself). Returns the cap in tokens.
 */
export function effectiveCap(cap: CapSpec | undefined, limit: number): number {
  if (cap === undefined) return limit;
  if ("tokens" in cap) return Math.min(cap.tokens, limit);
  return Math.floor(cap.proportion * limit + 1e-9);
}

function withinCaps(leaf: LeafState, tokens: number): boolean {
  return leaf.inUse + tokens <= leaf.cap && leaf.project.inUse + tokens <= leaf.project.cap;
}

/** True when (leaf a, head ha) should be served before (leaf b, head hb). */
function precedes(
  a: LeafState,
  ha: QueuedRequest,
  b: LeafState,
  hb: QueuedRequest,
  leafInUse: (leaf: LeafState) => number,
  projectInUse: (project: ProjectState) => number,
): boolean {
  if (a.project !== b.project) {
    const sa = projectInUse(a.project) / a.project.weight;
    const sb = projectInUse(b.project) / b.project.weight;
    if (sa !== sb) return sa < sb;
  }
  const la = leafInUse(a) / a.weight;
  const lb = leafInUse(b) / b.weight;
  if (la !== lb) return la < lb;
  return ha.seq < hb.seq;
}

function firstOf(queue: Map<string, QueuedRequest>): QueuedRequest {
  for (const value of queue.values()) return value;
  throw new Error("invariant violated: empty queue in the waiting set");
}

function findTenant(config: PoolConfig, project: string, domain: string): TenantConfig | undefined {
  return config.tenants?.find((t) => t.project === project && (t.domain ?? "") === domain);
}

function assertSameHolder(
  existing: { resource: string; holder: string; project: string; domain: string; tokens: number },
  request: AllocateRequest,
): void {
  if (
    existing.project !== request.project ||
    existing.domain !== request.domain ||
    existing.tokens !== request.tokens
  ) {
    throw new HolderConflictError(existing.resource, existing.holder, existing, request);
  }
}

function snapshotOf(pool: PoolState): PoolSnapshot {
  const tenants: TenantUsage[] = [];
  let borrowed = 0;
  const projects = [...pool.projects.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
  for (const project of projects) {
    const leaves = [...project.domains.values()].sort((a, b) => (a.domain < b.domain ? -1 : 1));
    let queuedRequests = 0;
    let queuedTokens = 0;
    let leafExcess = 0;
    const rows: TenantUsage[] = [];
    for (const leaf of leaves) {
      let tokens = 0;
      for (const q of leaf.queue.values()) tokens += q.tokens;
      queuedRequests += leaf.queue.size;
      queuedTokens += tokens;
      const excess = Math.max(0, leaf.inUse - leaf.cap);
      leafExcess += excess;
      if (leaf.domain === "") continue;
      rows.push({
        scope: "domain",
        project: project.name,
        domain: leaf.domain,
        inUse: leaf.inUse,
        cap: leaf.cap,
        weight: leaf.weight,
        borrowed: excess,
        queuedRequests: leaf.queue.size,
        queuedTokens: tokens,
      });
    }
    const projectExcess = Math.max(0, project.inUse - project.cap);
    borrowed += Math.max(projectExcess, leafExcess);
    tenants.push(
      {
        scope: "project",
        project: project.name,
        domain: "",
        inUse: project.inUse,
        cap: project.cap,
        weight: project.weight,
        borrowed: projectExcess,
        queuedRequests,
        queuedTokens,
      },
      ...rows,
    );
  }
  return {
    config: pool.config,
    limit: pool.limit,
    inUse: pool.inUse,
    leases: pool.leases.size,
    queued: pool.waiting.size,
    borrowed,
    tenants,
  };
}

function validateName(field: string, value: string): void {
  const problem = dnsLabelProblem(value);
  if (problem) throw new InvalidArgumentError(field, problem);
}

function validateTtl(ttlMs: number): void {
  if (!Number.isInteger(ttlMs) || ttlMs < 1 || ttlMs > MAX_TTL_MS) {
    throw new InvalidArgumentError("ttl", `must be a whole number of milliseconds in [1, ${MAX_TTL_MS}]`);
  }
}

function validateCap(field: string, cap: CapSpec | undefined): void {
  if (cap === undefined) return;
  if ("tokens" in cap) {
    if (!Number.isInteger(cap.tokens) || cap.tokens < 0) {
      throw new InvalidArgumentError(field, "an absolute cap must be a whole number >= 0");
    }
  } else if (!(cap.proportion > 0 && cap.proportion <= 1)) {
    throw new InvalidArgumentError(field, "a proportional cap must be in (0, 1]");
  }
}

/** Validates a pool configuration; throws {@link InvalidArgumentError} naming the bad field. */
export function validatePoolConfig(config: PoolConfig): void {
  validateName("resource", config.resource);
  if (!Number.isInteger(config.limit) || config.limit < 0) {
    throw new InvalidArgumentError(`${config.resource}.limit`, "must be a whole number >= 0");
  }
  validateCap(`${config.resource}.defaultCap`, config.defaultCap);
  if (
    config.defaultWeight !== undefined &&
    !(config.defaultWeight > 0 && Number.isFinite(config.defaultWeight))
  ) {
    throw new InvalidArgumentError(`${config.resource}.defaultWeight`, "must be a finite number > 0");
  }
  if (config.defaultTtlMs !== undefined) {
    try {
      validateTtl(config.defaultTtlMs);
    } catch {
      throw new InvalidArgumentError(
        `${config.resource}.defaultTtl`,
        `must be a whole number of milliseconds in [1, ${MAX_TTL_MS}]`,
      );
    }
  }
  const seen = new Set<string>();
  for (const tenant of config.tenants ?? []) {
    const id = tenant.domain ? `${tenant.project}/${tenant.domain}` : tenant.project;
    const field = `${config.resource}.tenants[${id}]`;
    validateName(`${field}.project`, tenant.project);
    if (tenant.domain) validateName(`${field}.domain`, tenant.domain);
    if (seen.has(id)) throw new InvalidArgumentError(field, "tenant is listed twice");
    seen.add(id);
    validateCap(`${field}.cap`, tenant.cap);
    if (tenant.weight !== undefined && !(tenant.weight > 0 && Number.isFinite(tenant.weight))) {
      throw new InvalidArgumentError(`${field}.weight`, "must be a finite number > 0");
    }
  }
}

/**
 * Validates an allocation request's own fields (names, holder length, tokens, TTL) without
 * looking at any pool; throws {@link InvalidArgumentError} naming the bad field (`resource`,
 * `project`, `domain`, `holder`, `tokens`, `ttl`).
 */
export function validateAllocateRequest(request: AllocateRequest): void {
  validateName("resource", request.resource);
  validateName("project", request.project);
  if (request.domain !== "") validateName("domain", request.domain);
  if (request.holder.length === 0 || request.holder.length > 512) {
    throw new InvalidArgumentError("holder", "must be 1-512 characters");
  }
  if (!Number.isInteger(request.tokens) || request.tokens < 1) {
    throw new InvalidArgumentError("tokens", "must be a whole number >= 1");
  }
  if (request.ttlMs !== undefined) validateTtl(request.ttlMs);
}
