import {
  HolderConflictError,
  InvalidArgumentError,
  LeaseNotFoundError,
  PoolInUseError,
  PoolNotFoundError,
  RequestExceedsLimitError,
} from "./errors.js";
import {
  EndReason,
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
  inUse: number;
  readonly projects: Map<string, ProjectState>;
  readonly leases: Map<string, Lease>;
  readonly waiting: Map<string, QueuedRequest>;
  /** Leaves whose queue is non-empty. */
  readonly waitingLeaves: Set<LeafState>;
}

/** Options of {@link Allocator}. */
export interface AllocatorOptions {
  readonly observer?: AllocatorObserver;
}

const MAX_TTL_MS = 24 * 60 * 60 * 1000;

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
  private changes = new Map<string, HolderRecord | null>();
  private nextSeq = 1;

  constructor(options: AllocatorOptions = {}) {
    this.observer = options.observer ?? {};
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
        inUse: 0,
        projects: new Map(),
        leases: new Map(),
        waiting: new Map(),
        waitingLeaves: new Set(),
      };
      this.pools.set(config.resource, pool);
    }
    pool.config = config;
    pool.limit = config.limit;
    for (const project of pool.projects.values()) {
      this.resolveProject(pool, project);
      for (const leaf of project.domains.values()) this.resolveLeaf(pool, leaf);
    }
    for (const request of [...pool.waiting.values()]) {
      if (request.tokens > pool.limit) this.removeQueued(pool, request, EndReason.Rejected);
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

  /**
   * Requests `tokens` for a holder. Idempotent per (resource, holder): a holder that already has
   * a lease gets it back, renewed with the new TTL; a queued holder gets its current position and
   * its poll deadline is pushed to now + ttl. A new request is queued, then dispatched.
   * Throws {@link PoolNotFoundError}, {@link InvalidArgumentError},
   * {@link RequestExceedsLimitError} or {@link HolderConflictError}.
   */
  allocate(request: AllocateRequest, now: number): AllocateOutcome {
    validateRequest(request);
    const pool = this.requirePool(request.resource);
    const lease = pool.leases.get(request.holder);
    if (lease) {
      assertSameHolder(lease, request);
      const renewed: Lease = { ...lease, ttlMs: request.ttlMs, expiresAt: now + request.ttlMs };
      pool.leases.set(lease.holder, renewed);
      this.recordLease(renewed);
      return { status: "granted", lease: renewed };
    }
    const queued = pool.waiting.get(request.holder);
    if (queued) {
      assertSameHolder(queued, request);
      const polled: QueuedRequest = { ...queued, ttlMs: request.ttlMs, pollDeadline: now + request.ttlMs };
      pool.waiting.set(polled.holder, polled);
      this.leafOf(pool, polled.project, polled.domain).queue.set(polled.holder, polled);
      return this.queuedOutcome(pool, polled);
    }
    if (request.tokens > pool.limit) {
      throw new RequestExceedsLimitError(request.resource, request.tokens, pool.limit);
    }
    const entry: QueuedRequest = {
      resource: request.resource,
      project: request.project,
      domain: request.domain,
      holder: request.holder,
      tokens: request.tokens,
      ttlMs: request.ttlMs,
      seq: this.nextSeq++,
      enqueuedAt: now,
      pollDeadline: now + request.ttlMs,
    };
    this.addQueued(pool, entry);
    this.dispatch(pool, now);
    const granted = pool.leases.get(request.holder);
    if (granted) return { status: "granted", lease: granted };
    this.observer.onQueued?.(entry);
    this.recordQueued(entry);
    return this.queuedOutcome(pool, entry);
  }

  /**
   * Extends a granted lease to now + ttl (the lease's previous TTL when `ttlMs` is omitted).
   * Returns the renewed lease. Throws {@link LeaseNotFoundError} when the holder has no lease.
   */
  renew(resource: string, holder: string, now: number, ttlMs?: number): Lease {
    const pool = this.requirePool(resource);
    const lease = pool.leases.get(holder);
    if (!lease) throw new LeaseNotFoundError(resource, holder);
    if (ttlMs !== undefined) validateTtl(ttlMs);
    const ttl = ttlMs ?? lease.ttlMs;
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
      if (record.state === "granted") {
        const lease: Lease = {
          resource: record.resource,
          project: record.project,
          domain: record.domain,
          holder: record.holder,
          tokens: record.tokens,
          ttlMs: record.ttlMs,
          grantedAt: record.since,
          expiresAt: record.expiresAt,
        };
        this.addLease(pool, lease);
      } else {
        this.addQueued(pool, {
          resource: record.resource,
          project: record.project,
          domain: record.domain,
          holder: record.holder,
          tokens: record.tokens,
          ttlMs: record.ttlMs,
          seq: record.seq,
          enqueuedAt: record.since,
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
      let best: LeafState | undefined;
      let bestHead: QueuedRequest | undefined;
      let bestWithin = false;
      for (const leaf of pool.waitingLeaves) {
        const head = firstOf(leaf.queue);
        const within = withinCaps(leaf, head.tokens);
        if (
          best === undefined ||
          bestHead === undefined ||
          (within && !bestWithin) ||
          (within === bestWithin && precedes(leaf, head, best, bestHead))
        ) {
          best = leaf;
          bestHead = head;
          bestWithin = within;
        }
      }
      if (!best || !bestHead) return;
      if (pool.inUse + bestHead.tokens > pool.limit) return;
      this.removeQueuedEntry(pool, best, bestHead);
      const lease: Lease = {
        resource: bestHead.resource,
        project: bestHead.project,
        domain: bestHead.domain,
        holder: bestHead.holder,
        tokens: bestHead.tokens,
        ttlMs: bestHead.ttlMs,
        grantedAt: now,
        expiresAt: now + bestHead.ttlMs,
      };
      this.addLease(pool, lease);
      this.recordLease(lease, bestHead.seq);
      this.observer.onGrant?.(lease, Math.max(0, now - bestHead.enqueuedAt));
    }
  }

  private addLease(pool: PoolState, lease: Lease): void {
    const leaf = this.leafOf(pool, lease.project, lease.domain);
    pool.leases.set(lease.holder, lease);
    pool.inUse += lease.tokens;
    leaf.inUse += lease.tokens;
    leaf.project.inUse += lease.tokens;
  }

  private removeLease(pool: PoolState, lease: Lease, reason: EndReason): void {
    const leaf = this.leafOf(pool, lease.project, lease.domain);
    pool.leases.delete(lease.holder);
    pool.inUse -= lease.tokens;
    leaf.inUse -= lease.tokens;
    leaf.project.inUse -= lease.tokens;
    this.changes.set(keyOf(lease.resource, lease.holder), null);
    this.observer.onLeaseEnded?.(lease, reason);
  }

  private addQueued(pool: PoolState, request: QueuedRequest): void {
    const leaf = this.leafOf(pool, request.project, request.domain);
    pool.waiting.set(request.holder, request);
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
    leaf.queue.delete(request.holder);
    if (leaf.queue.size === 0) pool.waitingLeaves.delete(leaf);
  }

  private recordLease(lease: Lease, seq?: number): void {
    const key = keyOf(lease.resource, lease.holder);
    const previous = this.changes.get(key);
    this.changes.set(key, {
      resource: lease.resource,
      holder: lease.holder,
      project: lease.project,
      domain: lease.domain,
      tokens: lease.tokens,
      state: "granted",
      ttlMs: lease.ttlMs,
      seq: seq ?? previous?.seq ?? 0,
      since: lease.grantedAt,
      expiresAt: lease.expiresAt,
    });
  }

  private recordQueued(request: QueuedRequest): void {
    this.changes.set(keyOf(request.resource, request.holder), {
      resource: request.resource,
      holder: request.holder,
      project: request.project,
      domain: request.domain,
      tokens: request.tokens,
      state: "queued",
      ttlMs: request.ttlMs,
      seq: request.seq,
      since: request.enqueuedAt,
      expiresAt: request.pollDeadline,
    });
  }

  private queuedOutcome(pool: PoolState, request: QueuedRequest): AllocateOutcome {
    const leaf = this.leafOf(pool, request.project, request.domain);
    let position = 0;
    for (const holder of leaf.queue.keys()) {
      position++;
      if (holder === request.holder) break;
    }
    return { status: "queued", request, position, poolQueueLength: pool.waiting.size };
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
    project.cap = effectiveCap(entry?.cap ?? pool.config.defaultProjectCap, pool.limit);
    project.weight = entry?.weight ?? 1;
  }

  private resolveLeaf(pool: PoolState, leaf: LeafState): void {
    const entry = findTenant(pool.config, leaf.project.name, leaf.domain);
    leaf.cap = effectiveCap(entry?.cap ?? pool.config.defaultDomainCap, pool.limit);
    leaf.weight = entry?.weight ?? 1;
  }
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
function precedes(a: LeafState, ha: QueuedRequest, b: LeafState, hb: QueuedRequest): boolean {
  if (a.project !== b.project) {
    const sa = a.project.inUse / a.project.weight;
    const sb = b.project.inUse / b.project.weight;
    if (sa !== sb) return sa < sb;
  }
  const la = a.inUse / a.weight;
  const lb = b.inUse / b.weight;
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
  const projects = [...pool.projects.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
  for (const project of projects) {
    const leaves = [...project.domains.values()].sort((a, b) => (a.domain < b.domain ? -1 : 1));
    tenants.push({
      project: project.name,
      domain: "",
      inUse: project.inUse,
      cap: project.cap,
      weight: project.weight,
      queued: leaves.reduce((n, l) => n + l.queue.size, 0),
    });
    for (const leaf of leaves) {
      tenants.push({
        project: project.name,
        domain: leaf.domain,
        inUse: leaf.inUse,
        cap: leaf.cap,
        weight: leaf.weight,
        queued: leaf.queue.size,
      });
    }
  }
  return {
    config: pool.config,
    limit: pool.limit,
    inUse: pool.inUse,
    leases: pool.leases.size,
    queued: pool.waiting.size,
    tenants,
  };
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

function validateName(field: string, value: string): void {
  if (!NAME.test(value)) {
    throw new InvalidArgumentError(
      field,
      `"${value}" must be 1-128 characters of letters, digits, ".", "_", ":" or "-", starting alphanumeric`,
    );
  }
}

function validateTtl(ttlMs: number): void {
  if (!Number.isInteger(ttlMs) || ttlMs <= 0 || ttlMs > MAX_TTL_MS) {
    throw new InvalidArgumentError("ttl", `must be a whole number of milliseconds in (0, ${MAX_TTL_MS}]`);
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
  validateCap(`${config.resource}.defaultProjectCap`, config.defaultProjectCap);
  validateCap(`${config.resource}.defaultDomainCap`, config.defaultDomainCap);
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

function validateRequest(request: AllocateRequest): void {
  validateName("resource", request.resource);
  validateName("project", request.project);
  validateName("domain", request.domain);
  if (request.holder.length === 0 || request.holder.length > 512) {
    throw new InvalidArgumentError("holder", "must be 1-512 characters");
  }
  if (!Number.isInteger(request.tokens) || request.tokens < 1) {
    throw new InvalidArgumentError("tokens", "must be a whole number >= 1");
  }
  validateTtl(request.ttlMs);
}
