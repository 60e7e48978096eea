import { create } from "@bufbuild/protobuf";
import { timestampFromMs, type Duration } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { silentLogger, type Logger } from "@flotilla/runtime";
import {
  AllocateBatchResponseSchema,
  AllocateResponseSchema,
  AllocationSchema,
  BatchItemErrorSchema,
  ConfigurePoolResponseSchema,
  DeletePoolResponseSchema,
  GetPoolStatusResponseSchema,
  LeaseSchema,
  ListAllocationsRequest_StateFilter,
  ListAllocationsResponseSchema,
  ListPoolsResponseSchema,
  PoolConfigSchema,
  ReleaseBatchResponseSchema,
  ReleaseResponseSchema,
  RenewResponseSchema,
  ResourceManagerService,
  TenantCapSchema,
  TenantScope,
  TenantUsageSchema,
  ValidationErrorSchema,
  type AllocateRequest as AllocateRequestMessage,
  type AllocateResponse,
  type Allocation,
  type BatchItemError,
  type GetPoolStatusResponse,
  type Lease as LeaseMessage,
  type PoolConfig as PoolConfigMessage,
  type ReleaseRequest,
  type TenantCap,
} from "@flotilla/proto";
import { MAX_TTL_MS, validateAllocateRequest } from "../allocator/allocator.js";
import {
  HolderConflictError,
  HolderMismatchError,
  InvalidArgumentError,
  LeadershipLostError,
  LeaseNotFoundError,
  NotLeaderError,
  PoolInUseError,
  PoolManagedByConfigError,
  PoolNotFoundError,
  RequestExceedsLimitError,
  ResourceManagerError,
} from "../allocator/errors.js";
import type {
  AllocateOutcome,
  AllocateRequest,
  CapSpec,
  Lease,
  PoolConfig,
  PoolSnapshot,
  TenantConfig,
} from "../allocator/types.js";
import {
  MAX_BATCH_SIZE,
  type BatchResult,
  type ReleaseTarget,
  type ResourceManager,
} from "../manager/resource-manager.js";

/** Response header carrying the leader's URL on Unavailable replies from a standby. */
export const LEADER_URL_HEADER = "flotilla-leader-url";

const MIN_TTL_MS = 1000;
const MAX_POOL_LIMIT = 1_000_000;
const MAX_TENANT_CAPS = 1000;
const DEFAULT_PAGE_SIZE = 100;
const MAX_PAGE_SIZE = 1000;

/**
 * The ResourceManagerService handlers: validate the request, call the {@link ResourceManager},
 * map the outcome to the proto, and map domain errors to Connect codes (here, and only here).
 * Returns the service implementation for `router.service(ResourceManagerService, impl)`.
 */
export function createResourceManagerServiceImpl(
  manager: ResourceManager,
  log: Logger = silentLogger,
): ServiceImpl<typeof ResourceManagerService> {
  const handle = <Req, Res>(fn: (req: Req, ctx: HandlerContext) => Promise<Res>) => {
    return async (req: Req, ctx: HandlerContext): Promise<Res> => {
      try {
        return await fn(req, ctx);
      } catch (err) {
        throw toConnectError(err, ctx, log);
      }
    };
  };

  return {
    allocate: handle(async (req) => toAllocateResponse(await manager.allocate(toAllocateRequest(req, "")))),

    allocateBatch: handle(async (req) => {
      checkBatchSize(req.requests.length);
      const requests = req.requests.map((r, i) => toAllocateRequest(r, `requests[${i}].`));
      const results = await manager.allocateBatch(requests);
      return create(AllocateBatchResponseSchema, { results: toBatchResults(results, toAllocateResponse) });
    }),

    renew: handle(async (req) => {
      requireField(req.leaseId, "lease_id");
      requireField(req.holder, "holder");
      const ttlMs = req.ttl ? durationToMs(req.ttl, "ttl") : undefined;
      const lease = await manager.renewById(req.leaseId, req.holder, ttlMs);
      return create(RenewResponseSchema, { lease: toLeaseMessage(lease) });
    }),

    release: handle(async (req) => {
      const target = toReleaseTarget(req, "");
      const result =
        "leaseId" in target
          ? await manager.releaseById(target.leaseId)
          : await manager.release(target.resource, target.holder);
      return create(ReleaseResponseSchema, result);
    }),

    releaseBatch: handle(async (req) => {
      checkBatchSize(req.requests.length);
      const targets = req.requests.map((r, i) => toReleaseTarget(r, `requests[${i}].`));
      const results = await manager.releaseBatch(targets);
      return create(ReleaseBatchResponseSchema, {
        results: toBatchResults(results, (r) => create(ReleaseResponseSchema, r)),
      });
    }),

    configurePool: handle(async (req) => {
      if (!req.pool) throw new InvalidArgumentError("pool", "is required");
      const config = fromPoolMessage(req.pool);
      const created = !manager.hasPool(config.resource);
      const snapshot = await manager.upsertPool(config);
      return create(ConfigurePoolResponseSchema, { pool: toPoolMessage(snapshot.config), created });
    }),

    deletePool: handle(async (req) => {
      requireField(req.resource, "resource");
      await manager.deletePool(req.resource);
      return create(DeletePoolResponseSchema);
    }),

    getPoolStatus: handle(async (req) => {
      requireField(req.resource, "resource");
      return toPoolStatus(await manager.getPool(req.resource));
    }),

    listPools: handle(async (req) => {
      if (req.pageSize > MAX_PAGE_SIZE)
        throw new InvalidArgumentError("page_size", `must be at most ${MAX_PAGE_SIZE}`);
      const pageSize = req.pageSize === 0 ? DEFAULT_PAGE_SIZE : req.pageSize;
      const offset = decodePageToken(req.pageToken, "pools");
      const pools = await manager.listPools();
      const page = pools.slice(offset, offset + pageSize);
      const nextOffset = offset + page.length;
      return create(ListPoolsResponseSchema, {
        pools: page.map(toPoolStatus),
        nextPageToken: nextOffset < pools.length ? encodePageToken(nextOffset, "pools") : "",
      });
    }),

    listAllocations: handle(async (req) => {
      if (req.pageSize > MAX_PAGE_SIZE)
        throw new InvalidArgumentError("page_size", `must be at most ${MAX_PAGE_SIZE}`);
      if (req.holderPrefix.length > 512)
        throw new InvalidArgumentError("holder_prefix", "must be at most 512 characters");
      const pageSize = req.pageSize === 0 ? DEFAULT_PAGE_SIZE : req.pageSize;
      const filterKey = JSON.stringify([
        req.resource,
        req.tenant?.project ?? "",
        req.tenant?.domain ?? "",
        req.holderPrefix,
        req.state,
      ]);
      const offset = decodePageToken(req.pageToken, filterKey);
      const { leases, queued } = await manager.listHolders(req.resource === "" ? undefined : req.resource);
      const matches = (x: { project: string; domain: string; holder: string }): boolean =>
        (!req.tenant?.project || x.project === req.tenant.project) &&
        (!req.tenant?.domain || x.domain === req.tenant.domain) &&
        x.holder.startsWith(req.holderPrefix);
      const all: { sortKey: [string, number, string]; message: Allocation }[] = [];
      const add = (
        x: { resource: string; project: string; domain: string; holder: string; tokens: number },
        requestedAt: number,
        state: Allocation["state"],
      ) =>
        all.push({
          sortKey: [x.resource, requestedAt, x.holder],
          message: create(AllocationSchema, {
            resource: x.resource,
            tenant: { project: x.project, domain: x.domain },
            holder: x.holder,
            tokens: x.tokens,
            state,
            requestedAt: timestampFromMs(requestedAt),
          }),
        });
      if (req.state !== ListAllocationsRequest_StateFilter.QUEUED) {
        for (const l of leases.filter(matches))
          add(l, l.requestedAt, { case: "lease", value: toLeaseMessage(l) });
      }
      if (req.state !== ListAllocationsRequest_StateFilter.GRANTED) {
        for (const q of queued.filter(matches))
          add(q, q.enqueuedAt, { case: "queuePosition", value: q.position });
      }
      all.sort((a, b) => compareKeys(a.sortKey, b.sortKey));
      const page = all.slice(offset, offset + pageSize);
      const nextOffset = offset + page.length;
      return create(ListAllocationsResponseSchema, {
        allocations: page.map((x) => x.message),
        nextPageToken: nextOffset < all.length ? encodePageToken(nextOffset, filterKey) : "",
      });
    }),
  };
}

/** Maps a pool snapshot to GetPoolStatusResponse (tenants holding or waiting only). */
export function toPoolStatus(snapshot: PoolSnapshot): GetPoolStatusResponse {
  return create(GetPoolStatusResponseSchema, {
    pool: toPoolMessage(snapshot.config),
    inUse: snapshot.inUse,
    limit: snapshot.limit,
    queueLength: snapshot.queued,
    borrowed: snapshot.borrowed,
    tenants: snapshot.tenants
      .filter((t) => t.inUse > 0 || t.queuedRequests > 0)
      .map((t) =>
        create(TenantUsageSchema, {
          tenant: { project: t.project, domain: t.domain },
          scope: t.scope === "project" ? TenantScope.PROJECT : TenantScope.DOMAIN,
          inUse: t.inUse,
          cap: t.cap,
          borrowed: t.borrowed,
          queuedRequests: t.queuedRequests,
          queuedTokens: t.queuedTokens,
        }),
      ),
  });
}

/** Proto field names of the allocator's request fields, for error messages. */
const ALLOCATE_FIELDS: Record<string, string> = { project: "tenant.project", domain: "tenant.domain" };

/**
 * Maps and validates one AllocateRequest (the same rules for Allocate and each AllocateBatch
 * item); errors name the proto field behind `prefix` (e.g. "requests[3].tenant.project").
 */
function toAllocateRequest(req: AllocateRequestMessage, prefix: string): AllocateRequest {
  requireField(req.resource, `${prefix}resource`);
  if (!req.tenant) throw new InvalidArgumentError(`${prefix}tenant`, "is required");
  requireField(req.tenant.project, `${prefix}tenant.project`);
  if (req.tokens === 0) throw new InvalidArgumentError(`${prefix}tokens`, "must be > 0");
  const ttlMs = req.ttl ? durationToMs(req.ttl, `${prefix}ttl`) : undefined;
  const request: AllocateRequest = {
    resource: req.resource,
    project: req.tenant.project,
    domain: req.tenant.domain,
    holder: req.holder,
    tokens: req.tokens,
    ...(ttlMs !== undefined ? { ttlMs } : {}),
    wait: req.wait,
  };
  try {
    validateAllocateRequest(request);
  } catch (err) {
    if (!(err instanceof InvalidArgumentError)) throw err;
    throw new InvalidArgumentError(`${prefix}${ALLOCATE_FIELDS[err.field] ?? err.field}`, err.problem);
  }
  return request;
}

function toAllocateResponse(outcome: AllocateOutcome): AllocateResponse {
  switch (outcome.status) {
    case "granted":
      return create(AllocateResponseSchema, {
        outcome: { case: "granted", value: { lease: toLeaseMessage(outcome.lease) } },
      });
    case "queued":
      return create(AllocateResponseSchema, {
        outcome: {
          case: "queued",
          value: {
            position: outcome.position,
            reason: outcome.reason,
            ...(outcome.estimatedWaitMs !== undefined
              ? { estimatedWait: msToDuration(outcome.estimatedWaitMs) }
              : {}),
          },
        },
      });
    case "rejected":
      return create(AllocateResponseSchema, {
        outcome: { case: "rejected", value: { reason: outcome.reason, message: outcome.message } },
      });
  }
}

/** Maps one ReleaseRequest (Release and each ReleaseBatch item) to what it names. */
function toReleaseTarget(req: ReleaseRequest, prefix: string): ReleaseTarget {
  if (req.leaseId !== "") return { leaseId: req.leaseId };
  if (req.resource === "" || req.holder === "") {
    throw new InvalidArgumentError(`${prefix}lease_id`, "required unless both resource and holder are set");
  }
  return { resource: req.resource, holder: req.holder };
}

function checkBatchSize(n: number): void {
  if (n === 0) throw new InvalidArgumentError("requests", "must not be empty");
  if (n > MAX_BATCH_SIZE) {
    throw new InvalidArgumentError("requests", `at most ${MAX_BATCH_SIZE} items (got ${n})`);
  }
}

/** Maps a batch's per-item results to the `oneof result { response; error }` of its proto. */
function toBatchResults<T, R>(results: readonly BatchResult<T>[], toResponse: (value: T) => R) {
  return results.map((r) =>
    r.ok
      ? { result: { case: "response" as const, value: toResponse(r.value) } }
      : { result: { case: "error" as const, value: toBatchItemError(r.error) } },
  );
}

function toBatchItemError(err: ResourceManagerError): BatchItemError {
  return create(BatchItemErrorSchema, {
    code: codeOf(err) ?? Code.Internal,
    reason: err.reason,
    message: err.message,
  });
}

function compareKeys(a: [string, number, string], b: [string, number, string]): number {
  if (a[0] !== b[0]) return a[0] < b[0] ? -1 : 1;
  if (a[1] !== b[1]) return a[1] - b[1];
  return a[2] < b[2] ? -1 : a[2] > b[2] ? 1 : 0;
}

function encodePageToken(offset: number, filterKey: string): string {
  return Buffer.from(JSON.stringify({ o: offset, f: filterKey })).toString("base64url");
}

function decodePageToken(token: string, filterKey: string): number {
  if (token === "") return 0;
  try {
    const parsed = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as {
      o?: unknown;
      f?: unknown;
    };
    if (
      typeof parsed.o === "number" &&
      Number.isInteger(parsed.o) &&
      parsed.o >= 0 &&
      parsed.f === filterKey
    ) {
      return parsed.o;
    }
  } catch {
    // fall through to the typed error
  }
  throw new InvalidArgumentError("page_token", "is not a token returned for these filters");
}

function requireField(value: string, field: string): void {
  if (value === "") throw new InvalidArgumentError(field, "is required");
}

function durationToMs(d: Duration, field: string): number {
  const ms = Number(d.seconds) * 1000 + Math.round(d.nanos / 1e6);
  if (!Number.isFinite(ms) || ms < MIN_TTL_MS || ms > MAX_TTL_MS) {
    throw new InvalidArgumentError(field, "must be between 1s and 24h");
  }
  return ms;
}

function msToDuration(ms: number): { seconds: bigint; nanos: number } {
  return { seconds: BigInt(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1e6 };
}

/** Maps an internal lease to its proto message. */
export function toLeaseMessage(lease: Lease): LeaseMessage {
  return create(LeaseSchema, {
    leaseId: lease.leaseId,
    resource: lease.resource,
    tenant: { project: lease.project, domain: lease.domain },
    holder: lease.holder,
    tokens: lease.tokens,
    grantedAt: timestampFromMs(lease.grantedAt),
    expiresAt: timestampFromMs(lease.expiresAt),
    borrowed: lease.borrowed,
  });
}

function capToMessage(cap: CapSpec | undefined): TenantCap["limit"] {
  if (cap === undefined) return { case: undefined };
  return "tokens" in cap
    ? { case: "tokens", value: cap.tokens }
    : { case: "proportion", value: cap.proportion };
}

/** Maps an internal pool configuration to its proto message. */
export function toPoolMessage(config: PoolConfig): PoolConfigMessage {
  return create(PoolConfigSchema, {
    resource: config.resource,
    limit: config.limit,
    tenantCaps: (config.tenants ?? []).map((t) =>
      create(TenantCapSchema, {
        tenant: { project: t.project, domain: t.domain ?? "" },
        limit: capToMessage(t.cap),
        weight: t.weight ?? 0,
      }),
    ),
    ...(config.defaultCap !== undefined || config.defaultWeight !== undefined
      ? {
          defaultTenantCap: create(TenantCapSchema, {
            limit: capToMessage(config.defaultCap),
            weight: config.defaultWeight ?? 0,
          }),
        }
      : {}),
    ...(config.defaultTtlMs !== undefined ? { defaultTtl: msToDuration(config.defaultTtlMs) } : {}),
    allowBorrowing: config.allowBorrowing ?? true,
  });
}

function capFromMessage(limit: TenantCap["limit"], field: string, poolLimit: number): CapSpec | undefined {
  switch (limit.case) {
    case "tokens":
      if (limit.value > poolLimit)
        throw new InvalidArgumentError(field, `must be <= the pool limit ${poolLimit}`);
      return { tokens: limit.value };
    case "proportion":
      return { proportion: limit.value };
    default:
      return undefined;
  }
}

/**
 * Maps and validates a proto pool configuration (the API's rules: limit in (0, 1e6], at most
 * 1000 unique tenants, caps within the limit, default_ttl required within [1s, 24h]).
 * Throws {@link InvalidArgumentError}.
 */
export function fromPoolMessage(pool: PoolConfigMessage): PoolConfig {
  requireField(pool.resource, "pool.resource");
  if (pool.limit === 0 || pool.limit > MAX_POOL_LIMIT) {
    throw new InvalidArgumentError("pool.limit", `must be in (0, ${MAX_POOL_LIMIT}]`);
  }
  if (pool.tenantCaps.length > MAX_TENANT_CAPS) {
    throw new InvalidArgumentError("pool.tenant_caps", `at most ${MAX_TENANT_CAPS} entries`);
  }
  if (!pool.defaultTtl) throw new InvalidArgumentError("pool.default_ttl", "is required");
  const defaultTtlMs = durationToMs(pool.defaultTtl, "pool.default_ttl");
  const tenants = pool.tenantCaps.map((tc, i): TenantConfig => {
    const field = `pool.tenant_caps[${i}]`;
    if (!tc.tenant) throw new InvalidArgumentError(`${field}.tenant`, "is required");
    if (tc.limit.case === undefined)
      throw new InvalidArgumentError(`${field}.limit`, "tokens or proportion is required");
    if (tc.weight < 0) throw new InvalidArgumentError(`${field}.weight`, "must be > 0");
    const cap = capFromMessage(tc.limit, `${field}.tokens`, pool.limit);
    return {
      project: tc.tenant.project,
      ...(tc.tenant.domain ? { domain: tc.tenant.domain } : {}),
      ...(cap ? { cap } : {}),
      ...(tc.weight > 0 ? { weight: tc.weight } : {}),
    };
  });
  const def = pool.defaultTenantCap;
  if (def && def.weight < 0) throw new InvalidArgumentError("pool.default_tenant_cap.weight", "must be > 0");
  const defaultCap = def
    ? capFromMessage(def.limit, "pool.default_tenant_cap.tokens", pool.limit)
    : undefined;
  return {
    resource: pool.resource,
    limit: pool.limit,
    tenants,
    defaultTtlMs,
    allowBorrowing: pool.allowBorrowing,
    ...(defaultCap ? { defaultCap } : {}),
    ...(def && def.weight > 0 ? { defaultWeight: def.weight } : {}),
  };
}

/**
 * Maps any error thrown below the RPC boundary to a ConnectError: domain errors to their code
 * with their message, a standby's NotLeader to Unavailable plus the leader-URL header, anything
 * unexpected to Internal (cause logged, not sent).
 */
export function toConnectError(err: unknown, ctx: HandlerContext | undefined, log: Logger): ConnectError {
  if (err instanceof ConnectError) return err;
  if (err instanceof InvalidArgumentError) {
    // Machine-readable too: the conventional ValidationError detail names the field path.
    return new ConnectError(err.message, Code.InvalidArgument, undefined, [
      {
        desc: ValidationErrorSchema,
        value: {
          violations: [
            {
              field: err.field,
              rule: err.problem === "is required" ? "required" : "invalid",
              description: err.problem,
            },
          ],
        },
      },
    ]);
  }
  if (err instanceof NotLeaderError) {
    if (err.leaderUrl && ctx) ctx.responseHeader.set(LEADER_URL_HEADER, err.leaderUrl);
    const metadata = err.leaderUrl ? new Headers({ [LEADER_URL_HEADER]: err.leaderUrl }) : undefined;
    return new ConnectError(err.message, Code.Unavailable, metadata);
  }
  const code = codeOf(err);
  if (code !== undefined) return new ConnectError((err as Error).message, code);
  log.error("unexpected error in RPC handler", {
    error: err instanceof Error ? (err.stack ?? err.message) : String(err),
  });
  return new ConnectError("internal error", Code.Internal);
}

/** The Connect code of a domain error (shared by whole-call errors and batch item errors). */
function codeOf(err: unknown): Code | undefined {
  if (err instanceof InvalidArgumentError || err instanceof RequestExceedsLimitError) {
    return Code.InvalidArgument;
  }
  if (err instanceof PoolNotFoundError || err instanceof LeaseNotFoundError) return Code.NotFound;
  if (err instanceof HolderConflictError) return Code.AlreadyExists;
  if (
    err instanceof HolderMismatchError ||
    err instanceof PoolInUseError ||
    err instanceof PoolManagedByConfigError
  ) {
    return Code.FailedPrecondition;
  }
  if (err instanceof NotLeaderError || err instanceof LeadershipLostError) return Code.Unavailable;
  return undefined;
}
