/** Plain data types of the allocator: configuration, requests, leases and snapshots. */

/** A tenant cap: an absolute token count, or a proportion (0..1] of the pool's global limit. */
export type CapSpec = { readonly tokens: number } | { readonly proportion: number };

/** Per-tenant settings of a pool. A tenant is a project (no domain) or a project/domain. */
export interface TenantConfig {
  readonly project: string;
  /** Absent or empty: the entry configures the whole project. */
  readonly domain?: string;
  /** Absent: the pool's default cap applies. */
  readonly cap?: CapSpec;
  /** Fair-share weight, > 0; absent: the pool's default weight. */
  readonly weight?: number;
}

/** A resource pool: a global token limit plus per-tenant caps and weights. */
export interface PoolConfig {
  readonly resource: string;
  readonly limit: number;
  readonly tenants?: readonly TenantConfig[];
  /**
   * Cap of every tenant (project, and project/domain) without an explicit cap. Absent: such
   * tenants are capped only by the global limit.
   */
  readonly defaultCap?: CapSpec;
  /** Weight of every tenant without an explicit weight; default 1. */
  readonly defaultWeight?: number;
  /** Lease TTL used when a request names none, in milliseconds; default 60 s. */
  readonly defaultTtlMs?: number;
  /**
   * Whether a tenant may borrow idle capacity beyond its cap (up to the global limit) when no
   * tenant that could be served within its cap is waiting. Default true.
   */
  readonly allowBorrowing?: boolean;
}

/** A request for tokens by one holder (execution/node/attempt). */
export interface AllocateRequest {
  readonly resource: string;
  readonly project: string;
  readonly domain: string;
  readonly holder: string;
  readonly tokens: number;
  /** Lease TTL (granted) or poll deadline (queued), in milliseconds; absent: the pool default. */
  readonly ttlMs?: number;
  /** When false, a request that cannot be granted now is rejected instead of queued. Default true. */
  readonly wait?: boolean;
}

/** What a holder asked for, shared by its lease and its queued request. */
export interface HolderRequest {
  readonly resource: string;
  readonly project: string;
  readonly domain: string;
  readonly holder: string;
  readonly tokens: number;
  readonly ttlMs: number;
}

/** A granted lease. Times are epoch milliseconds. */
export interface Lease extends HolderRequest {
  /** Unique id generated at grant time. */
  readonly leaseId: string;
  /** When the holder first asked (its arrival in the queue). */
  readonly requestedAt: number;
  readonly grantedAt: number;
  readonly expiresAt: number;
  /** The grant took the tenant (or its project) beyond its cap. */
  readonly borrowed: boolean;
}

/** A request waiting in its tenant's queue. */
export interface QueuedRequest extends HolderRequest {
  /** Global arrival order; lower is older. */
  readonly seq: number;
  readonly enqueuedAt: number;
  /** The request is dropped when not polled (re-allocated) before this time. */
  readonly pollDeadline: number;
}

/** Why a request waits or was refused. */
export const WaitReason = {
  GlobalLimitReached: "GlobalLimitReached",
  TenantCapReached: "TenantCapReached",
  /** Capacity is free but reserved for an earlier, larger request of a tenant served first. */
  CapacityReserved: "CapacityReserved",
} as const;
/** See {@link WaitReason}. */
export type WaitReason = (typeof WaitReason)[keyof typeof WaitReason];

/** Why a request was refused outright. */
export const RejectReason = {
  ...WaitReason,
  /** More tokens than the pool's limit: it can never be granted. */
  ExceedsLimit: "ExceedsLimit",
  /** More tokens than the tenant's cap in a pool without borrowing: it can never be granted. */
  ExceedsTenantCap: "ExceedsTenantCap",
} as const;
/** See {@link RejectReason}. */
export type RejectReason = (typeof RejectReason)[keyof typeof RejectReason];

/** Result of an allocate call. */
export type AllocateOutcome =
  | { readonly status: "granted"; readonly lease: Lease }
  | {
      readonly status: "queued";
      readonly request: QueuedRequest;
      /**
       * 1-based position among the pool's waiting requests in the order the scheduler would
       * serve them if capacity freed now and nobody else arrived (1 = next).
       */
      readonly position: number;
      readonly reason: WaitReason;
      /** position / recent grant rate of the pool; absent until enough grants were seen. */
      readonly estimatedWaitMs?: number;
    }
  | { readonly status: "rejected"; readonly reason: RejectReason; readonly message: string };

/** Usage and configuration of one tenant in a pool snapshot. */
export interface TenantUsage {
  /** "project": the project as a whole (domain ""), summing its domains; "domain": one project/domain. */
  readonly scope: "project" | "domain";
  readonly project: string;
  readonly domain: string;
  readonly inUse: number;
  /** Effective cap in tokens (the global limit when uncapped). */
  readonly cap: number;
  readonly weight: number;
  /** Tokens held beyond the cap. */
  readonly borrowed: number;
  /** Requests waiting (for a project row: across its domains). */
  readonly queuedRequests: number;
  /** Tokens asked by the waiting requests. */
  readonly queuedTokens: number;
}

/** Point-in-time view of a pool. */
export interface PoolSnapshot {
  readonly config: PoolConfig;
  readonly limit: number;
  readonly inUse: number;
  readonly leases: number;
  readonly queued: number;
  /** Tokens held beyond tenant caps (per project: the larger of its own and its domains' excess). */
  readonly borrowed: number;
  /**
   * Project rows followed by their project/domain rows. Requests made for the project as a whole
   * (domain "") are accounted in the project row only.
   */
  readonly tenants: readonly TenantUsage[];
}

/**
 * The durable form of a holder's state, written ahead to the database: a granted lease or a
 * queued request. `null` in a change set means "deleted".
 */
export interface HolderRecord {
  /** Lease id (granted rows; "" for queued rows). */
  readonly leaseId: string;
  readonly resource: string;
  readonly holder: string;
  readonly project: string;
  readonly domain: string;
  readonly tokens: number;
  readonly state: "granted" | "queued";
  readonly ttlMs: number;
  readonly seq: number;
  /** When the holder first asked. */
  readonly requestedAt: number;
  /** grantedAt for leases, the enqueue time for queued requests. */
  readonly since: number;
  /** Lease expiry; for queued rows, the poll deadline. */
  readonly expiresAt: number;
  readonly borrowed: boolean;
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
