/** Plain data types of the allocator: configuration, requests, leases and snapshots. */

/** A tenant cap: an absolute token count, or a proportion (0..1] of the pool's global limit. */
export type CapSpec = { readonly tokens: number } | { readonly proportion: number };

/** Per-tenant settings of a pool. A tenant is a project (no domain) or a project/domain. */
export interface TenantConfig {
  readonly project: string;
  /** Absent or empty: the entry configures the whole project. */
  readonly domain?: string;
  /** Absent: the tenant is capped only by the global limit. */
  readonly cap?: CapSpec;
  /** Fair-share weight, > 0; default 1. */
  readonly weight?: number;
}

/** A resource pool: a global token limit plus per-tenant caps and weights. */
export interface PoolConfig {
  readonly resource: string;
  readonly limit: number;
  readonly tenants?: readonly TenantConfig[];
  /** Cap applied to every project that has no explicit entry. */
  readonly defaultProjectCap?: CapSpec;
  /** Cap applied to every project/domain that has no explicit entry. */
  readonly defaultDomainCap?: CapSpec;
}

/** A request for tokens by one holder (execution/node/attempt). */
export interface AllocateRequest {
  readonly resource: string;
  readonly project: string;
  readonly domain: string;
  readonly holder: string;
  readonly tokens: number;
  /** Lease TTL (granted) or poll deadline (queued), in milliseconds. */
  readonly ttlMs: number;
}

/** A granted lease. Times are epoch milliseconds. */
export interface Lease {
  readonly resource: string;
  readonly project: string;
  readonly domain: string;
  readonly holder: string;
  readonly tokens: number;
  readonly ttlMs: number;
  readonly grantedAt: number;
  readonly expiresAt: number;
}

/** A request waiting in its tenant's queue. */
export interface QueuedRequest {
  readonly resource: string;
  readonly project: string;
  readonly domain: string;
  readonly holder: string;
  readonly tokens: number;
  readonly ttlMs: number;
  /** Global arrival order; lower is older. */
  readonly seq: number;
  readonly enqueuedAt: number;
  /** The request is dropped when not polled (re-allocated) before this time. */
  readonly pollDeadline: number;
}

/** Result of an allocate call. */
export type AllocateOutcome =
  | { readonly status: "granted"; readonly lease: Lease }
  | {
      readonly status: "queued";
      readonly request: QueuedRequest;
      /** 1-based position in the tenant's (project/domain) queue. */
      readonly position: number;
      /** Requests waiting in the whole pool. */
      readonly poolQueueLength: number;
    };

/** Usage and configuration of one tenant in a pool snapshot. */
export interface TenantUsage {
  readonly project: string;
  /** Empty for a project-level row. */
  readonly domain: string;
  readonly inUse: number;
  /** Effective cap in tokens (the global limit when uncapped). */
  readonly cap: number;
  readonly weight: number;
  /** Requests waiting (for a project row: across its domains). */
  readonly queued: number;
}

/** Point-in-time view of a pool. */
export interface PoolSnapshot {
  readonly config: PoolConfig;
  readonly limit: number;
  readonly inUse: number;
  readonly leases: number;
  readonly queued: number;
  /** Project rows (domain "") followed by their project/domain rows. */
  readonly tenants: readonly TenantUsage[];
}

/**
 * The durable form of a holder's state, written ahead to the database: a granted lease or a
 * queued request. `null` in a change set means "deleted".
 */
export interface HolderRecord {
  readonly resource: string;
  readonly holder: string;
  readonly project: string;
  readonly domain: string;
  readonly tokens: number;
  readonly state: "granted" | "queued";
  readonly ttlMs: number;
  readonly seq: number;
  /** grantedAt for leases, enqueuedAt for queued requests. */
  readonly since: number;
  /** Lease expiry; for queued rows, the poll deadline. */
  readonly expiresAt: number;
}

/** Why a holder's state ended. */
export const EndReason = {
  Released: "released",
  Expired: "expired",
  Dropped: "dropped",
  Rejected: "rejected",
} as const;
/** See {@link EndReason}. */
export type EndReason = (typeof EndReason)[keyof typeof EndReason];

/**
 * Callbacks invoked synchronously by the allocator after each state change (the state already
 * reflects the change). Used for metrics and by tests as an independent observer.
 */
export interface AllocatorObserver {
  onGrant?(lease: Lease, waitedMs: number): void;
  onQueued?(request: QueuedRequest): void;
  onLeaseEnded?(lease: Lease, reason: EndReason): void;
  onQueuedEnded?(request: QueuedRequest, reason: EndReason): void;
}
