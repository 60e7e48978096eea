/**
 * The {@link TokenBroker} backed by the resource manager's `ResourceManagerService`: Allocate
 * (waiting allowed, idempotent per holder), Renew and Release.
 */
import { create } from "@bufbuild/protobuf";
import { durationFromMs, timestampDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import {
  AllocateRequestSchema,
  ReleaseRequestSchema,
  RenewRequestSchema,
  ResourceManagerService,
  TenantSchema,
} from "@flotilla/proto";
import type { PropellerMetrics } from "../metrics.js";
import type { TokenBroker, TokenOutcome } from "../workflow/ports.js";

/** A Connect transport to the resource manager at `url`. */
export function resourceManagerTransport(url: string): Transport {
  return createConnectTransport({ baseUrl: url, httpVersion: "1.1" });
}

/** Creates a TokenBroker over `transport`, asking for leases of `ttlMs`. */
export function createResourceManagerBroker(
  transport: Transport,
  options: { ttlMs: number; metrics?: PropellerMetrics; timeoutMs?: number },
): TokenBroker {
  const client = createClient(ResourceManagerService, transport);
  const timeoutMs = options.timeoutMs ?? 10_000;
  const count = (resource: string, outcome: string) =>
    options.metrics?.tokenRequests.inc({ resource, outcome });
  return {
    async acquire(r): Promise<TokenOutcome> {
      let res;
      try {
        res = await client.allocate(
          create(AllocateRequestSchema, {
            resource: r.resource,
            tenant: create(TenantSchema, { project: r.tenant.project, domain: r.tenant.domain }),
            holder: r.holder,
            tokens: r.tokens,
            ttl: durationFromMs(options.ttlMs),
            wait: true,
          }),
          { timeoutMs },
        );
      } catch (err) {
        if (err instanceof ConnectError && err.code === Code.NotFound) {
          count(r.resource, "rejected");
          return { outcome: "rejected", reason: "UnknownResource", message: err.rawMessage };
        }
        count(r.resource, "error");
        throw err;
      }
      const o = res.outcome;
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
      await client.release(
        create(
          ReleaseRequestSchema,
          r.leaseId ? { leaseId: r.leaseId } : { resource: r.resource, holder: r.holder },
        ),
        { timeoutMs },
      );
      if (r.leaseId) {
        // Also cancel any queue entry of the same holder (release by lease id only returns tokens).
        await client.release(create(ReleaseRequestSchema, { resource: r.resource, holder: r.holder }), {
          timeoutMs,
        });
      }
    },
  };
}
