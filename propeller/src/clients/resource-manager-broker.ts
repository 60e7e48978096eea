/**
 * The {@link TokenBroker} backed by the resource manager's `ResourceManagerService`: Allocate
 * (waiting allowed, idempotent per holder), Renew and Release — by default coalescing concurrent
 * acquires and releases into AllocateBatch / ReleaseBatch calls.
 */
import { create } from "@bufbuild/protobuf";
import { durationFromMs, timestampDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, type Client, type Transport } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import {
  AllocateRequestSchema,
  ReleaseRequestSchema,
  RenewRequestSchema,
  ResourceManagerService,
  TenantSchema,
  type AllocateRequest,
  type AllocateResponse,
  type BatchItemError,
  type ReleaseRequest,
  type ReleaseResponse,
} from "@flotilla/proto";
import {
  activeSpanContext,
  isTracing,
  tracingClientInterceptor,
  withSpan,
  type SpanContext,
} from "@flotilla/runtime";
import { PROPELLER_TRACER } from "../tracing.js";
import type { PropellerMetrics } from "../metrics.js";
import type { TokenBroker, TokenOutcome } from "../workflow/ports.js";
import { createMicroBatcher } from "./micro-batcher.js";

/** The resource manager's largest AllocateBatch / ReleaseBatch. */
export const MAX_RESOURCE_MANAGER_BATCH = 1000;

/** How the broker coalesces calls; see {@link ResourceManagerBrokerOptions.batch}. */
export interface ResourceManagerBatchOptions {
  /** How long a batch collects calls after its first one, in ms (0: the same event-loop turn). Default 1. */
  windowMs?: number;
  /** Largest batch, at most 1000 (the server's limit). Default 1000. */
  maxItems?: number;
}

/** Options of {@link createResourceManagerBroker}. */
export interface ResourceManagerBrokerOptions {
  /** Lease lifetime asked for. */
  ttlMs: number;
  /** Counts `token_requests_total{resource,outcome}`, once per acquire whether batched or not. */
  metrics?: PropellerMetrics;
  /** Deadline of each RPC (a batch is one RPC). Default 10 s. */
  timeoutMs?: number;
  /** Coalescing of acquires and releases; `false` sends one unary Allocate / Release per call. */
  batch?: ResourceManagerBatchOptions | false;
}

/**
 * A Connect transport to the resource manager at `url`; calls carry the W3C trace context while
 * tracing. A unary Allocate joins the trace of the round that asked; a coalesced batch runs in
 * a `token batch` span in the trace of the call that opened it, linked to every caller's span.
 */
export function resourceManagerTransport(url: string): Transport {
  return createConnectTransport({
    baseUrl: url,
    httpVersion: "1.1",
    interceptors: [tracingClientInterceptor()],
  });
}

/** One item's answer: what the unary call would have returned, or the error it would have thrown. */
type ItemResult<T> = { ok: true; value: T } | { ok: false; error: unknown };

/** The span each batched request was asked from (while tracing), for the batch span's links. */
const askedFrom = new WeakMap<object, SpanContext>();

/** Remembers the active span as the one `request` was asked from (nothing while tracing is off). */
function noteCaller<T extends object>(request: T): T {
  const caller = activeSpanContext();
  if (caller) askedFrom.set(request, caller);
  return request;
}

/**
 * Creates a TokenBroker over `transport`, asking for leases of `options.ttlMs`.
 *
 * With batching (the default), acquires arriving within `batch.windowMs` of each other go out
 * as one AllocateBatch (releases as one ReleaseBatch), split at `batch.maxItems`; each caller
 * gets its own item's result, mapped exactly as the unary answer would be (a `BatchItemError`
 * becomes the ConnectError the unary call would have thrown). A batch that fails as a whole
 * (transport error, deadline, Unavailable) fails each of its callers with that error, as their
 * unary calls would have. A batch refused whole with InvalidArgument (one caller's invalid
 * item) is re-sent as unary calls, so only the invalid caller gets the InvalidArgument and the
 * others are decided normally (the server decides nothing for an invalid batch, so this is safe).
 * Renew is always unary (there is no RenewBatch).
 */
export function createResourceManagerBroker(
  transport: Transport,
  options: ResourceManagerBrokerOptions,
): TokenBroker {
  const client = createClient(ResourceManagerService, transport);
  const timeoutMs = options.timeoutMs ?? 10_000;
  const count = (resource: string, outcome: string) =>
    options.metrics?.tokenRequests.inc({ resource, outcome });

  const allocate =
    options.batch === false
      ? unaryAllocate(client, timeoutMs)
      : batchedAllocate(client, timeoutMs, options.batch);
  const release =
    options.batch === false
      ? unaryRelease(client, timeoutMs)
      : batchedRelease(client, timeoutMs, options.batch);

  return {
    async acquire(r): Promise<TokenOutcome> {
      const request = create(AllocateRequestSchema, {
        resource: r.resource,
        tenant: create(TenantSchema, { project: r.tenant.project, domain: r.tenant.domain }),
        holder: r.holder,
        tokens: r.tokens,
        ttl: durationFromMs(options.ttlMs),
        wait: true,
      });
      let result: ItemResult<AllocateResponse>;
      try {
        result = await allocate(noteCaller(request));
      } catch (err) {
        result = { ok: false, error: err };
      }
      if (!result.ok) {
        const err = result.error;
        if (err instanceof ConnectError && err.code === Code.NotFound) {
          count(r.resource, "rejected");
          return { outcome: "rejected", reason: "UnknownResource", message: err.rawMessage };
        }
        count(r.resource, "error");
        throw err;
      }
      const o = result.value.outcome;
      switch (o.case) {
        case "granted": {
          count(r.resource, "granted");
          const lease = o.value.lease;
          return {
            outcome: "granted",
            leaseId: lease?.leaseId ?? "",
            expiresAt: lease?.expiresAt
              ? timestampDate(lease.expiresAt)
              : new Date(Date.now() + options.ttlMs),
          };
        }
        case "queued":
          count(r.resource, "queued");
          return { outcome: "queued", position: o.value.position, reason: o.value.reason || "Queued" };
        case "rejected":
          count(r.resource, "rejected");
          return { outcome: "rejected", reason: o.value.reason || "Rejected", message: o.value.message };
        default:
          count(r.resource, "error");
          throw new Error(`resource manager answered Allocate for ${r.resource} without an outcome`);
      }
    },
    async renew(r) {
      try {
        const res = await client.renew(
          create(RenewRequestSchema, {
            leaseId: r.leaseId,
            holder: r.holder,
            ttl: durationFromMs(options.ttlMs),
          }),
          { timeoutMs },
        );
        const exp = res.lease?.expiresAt;
        return { expiresAt: exp ? timestampDate(exp) : new Date(Date.now() + options.ttlMs) };
      } catch (err) {
        if (
          err instanceof ConnectError &&
          (err.code === Code.NotFound || err.code === Code.FailedPrecondition)
        )
          return "lost";
        throw err;
      }
    },
    async release(r) {
      const byHolder = create(ReleaseRequestSchema, { resource: r.resource, holder: r.holder });
      noteCaller(byHolder);
      if (!r.leaseId) return throwIfFailed(await release(byHolder));
      const byLease = noteCaller(create(ReleaseRequestSchema, { leaseId: r.leaseId }));
      if (options.batch === false) {
        // Release by lease id only returns tokens; the second call also cancels any queue entry
        // of the same holder.
        throwIfFailed(await release(byLease));
        return throwIfFailed(await release(byHolder));
      }
      // Batched, both items usually share one ReleaseBatch (decided in this order); the first
      // failure is thrown once both are decided.
      const [a, b] = await Promise.all([release(byLease), release(byHolder)]);
      throwIfFailed(a);
      throwIfFailed(b);
    },
  };
}

type RmClient = Client<typeof ResourceManagerService>;

function throwIfFailed(r: ItemResult<unknown>): void {
  if (!r.ok) throw r.error;
}

async function settle<T>(p: Promise<T>): Promise<ItemResult<T>> {
  try {
    return { ok: true, value: await p };
  } catch (err) {
    return { ok: false, error: err };
  }
}

/** The ConnectError the unary call would have thrown for this batch item's error. */
function itemError(e: BatchItemError): ConnectError {
  const code = e.code in Code ? (e.code as Code) : Code.Unknown;
  return new ConnectError(e.message, code);
}

function isInvalidArgument(err: unknown): boolean {
  return err instanceof ConnectError && err.code === Code.InvalidArgument;
}

function unaryAllocate(client: RmClient, timeoutMs: number) {
  return (req: AllocateRequest) => settle(client.allocate(req, { timeoutMs }));
}

function unaryRelease(client: RmClient, timeoutMs: number) {
  return (req: ReleaseRequest) => settle(client.release(req, { timeoutMs }).then(() => undefined));
}

function batchOptions(batch: ResourceManagerBatchOptions | undefined) {
  return {
    windowMs: batch?.windowMs ?? 1,
    maxItems: Math.min(batch?.maxItems ?? MAX_RESOURCE_MANAGER_BATCH, MAX_RESOURCE_MANAGER_BATCH),
  };
}

/** One item of an AllocateBatch / ReleaseBatch answer: the unary response or the item's error. */
type BatchItem<R> = {
  result: { case: "response"; value: R } | { case: "error"; value: BatchItemError } | { case: undefined };
};

/**
 * Coalesces calls into batches: a batch of one goes out as `unary`; larger ones as one
 * `sendBatch` whose items become what each unary call would have returned (`valueOf` maps a
 * response). A batch refused whole with InvalidArgument decided nothing, so its items are
 * re-sent as unary calls. While tracing, a larger batch is a `token batch` span linked to the
 * span each of its requests was asked from (see {@link noteCaller}).
 */
function batched<Req extends object, Res, Out>(
  batch: ResourceManagerBatchOptions | undefined,
  keyOf: (request: Req) => string,
  unary: (request: Req) => Promise<ItemResult<Out>>,
  sendBatch: (requests: Req[]) => Promise<{ results: BatchItem<Res>[] }>,
  valueOf: (response: Res) => Out,
) {
  return createMicroBatcher<Req, ItemResult<Out>>({
    ...batchOptions(batch),
    keyOf,
    send: async (requests) => {
      if (requests.length === 1) return [await unary(requests[0])];
      try {
        const { results } = isTracing()
          ? await withSpan(PROPELLER_TRACER, "token batch", () => sendBatch(requests), {
              attributes: { "flotilla.batch.items": requests.length },
              links: requests.flatMap((r) => {
                const caller = askedFrom.get(r);
                return caller ? [{ context: caller }] : [];
              }),
            })
          : await sendBatch(requests);
        return results.map(({ result }): ItemResult<Out> => {
          if (result.case === "response") return { ok: true, value: valueOf(result.value) };
          const error = result.case === "error" ? itemError(result.value) : new Error("empty batch result");
          return { ok: false, error };
        });
      } catch (err) {
        if (isInvalidArgument(err)) return Promise.all(requests.map(unary));
        throw err;
      }
    },
  });
}

function batchedAllocate(
  client: RmClient,
  timeoutMs: number,
  batch: ResourceManagerBatchOptions | undefined,
) {
  return batched<AllocateRequest, AllocateResponse, AllocateResponse>(
    batch,
    (r) => `${r.resource}\u0000${r.holder}`,
    unaryAllocate(client, timeoutMs),
    (requests) => client.allocateBatch({ requests }, { timeoutMs }),
    (response) => response,
  );
}

function batchedRelease(client: RmClient, timeoutMs: number, batch: ResourceManagerBatchOptions | undefined) {
  return batched<ReleaseRequest, ReleaseResponse, void>(
    batch,
    (r) => (r.leaseId ? `lease\u0000${r.leaseId}` : `holder\u0000${r.resource}\u0000${r.holder}`),
    unaryRelease(client, timeoutMs),
    (requests) => client.releaseBatch({ requests }, { timeoutMs }),
    () => undefined,
  );
}
