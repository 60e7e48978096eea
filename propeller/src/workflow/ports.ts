/**
 * What the DAG executor needs from the outside world, as narrow interfaces. The controller
 * binds them to the Kubernetes API, the blob store and the resource manager; unit tests bind
 * them to in-memory fakes, so workflow logic is tested without Kubernetes.
 */
import type { V1Pod } from "@kubernetes/client-node";
import type { LiteralMap } from "@flotilla/proto";

/** Outcome of a pod create call. */
export type PodCreateResult =
  | { outcome: "created" }
  /** A pod with that name exists already (created by an earlier round or a previous process). */
  | { outcome: "exists" }
  /** Admission refused it for capacity reasons (ResourceQuota); try again later. */
  | { outcome: "quota"; message: string }
  /** The API server rejected the pod as invalid; retrying the same pod cannot help. */
  | { outcome: "invalid"; message: string };

/** Creates and deletes task pods. */
export interface PodPort {
  /** Creates `pod`; classifies the expected refusals, throws on anything else (the round is retried). */
  create(pod: V1Pod): Promise<PodCreateResult>;
  /** Deletes a pod; an absent pod is not an error. */
  delete(namespace: string, name: string): Promise<void>;
}

/** Blob I/O of task inputs and outputs. */
export interface TaskIO {
  /** Reads a serialized LiteralMap; throws BlobNotFoundError when absent. */
  readLiteralMap(uri: string): Promise<LiteralMap>;
  /** Writes a serialized LiteralMap. */
  writeLiteralMap(uri: string, map: LiteralMap): Promise<void>;
  /** Reads a text object, or undefined when it does not exist. */
  readText(uri: string): Promise<string | undefined>;
  /** Writes a text object. */
  writeText(uri: string, text: string): Promise<void>;
  /** Joins path segments onto a URI. */
  join(base: string, ...parts: string[]): string;
  /** Local filesystem path of a URI when the store is a local directory. */
  localPath(uri: string): string | undefined;
}

/** The tenant charged for external-resource tokens. */
export interface TokenTenant {
  project: string;
  domain: string;
}

/** Outcome of asking the resource manager for tokens. */
export type TokenOutcome =
  | { outcome: "granted"; leaseId: string; expiresAt: Date }
  | { outcome: "queued"; position: number; reason: string }
  | { outcome: "rejected"; reason: string; message: string };

/** Grants and returns external-resource tokens (the resource manager). */
export interface TokenBroker {
  /** Asks for `tokens` of `resource` for `holder`; idempotent per (resource, holder). */
  acquire(request: {
    resource: string;
    tokens: number;
    tenant: TokenTenant;
    holder: string;
  }): Promise<TokenOutcome>;
  /** Extends a lease; returns its new expiry, or "lost" when the lease is gone. */
  renew(request: { leaseId: string; holder: string }): Promise<{ expiresAt: Date } | "lost">;
  /** Returns a lease or cancels a queued request; idempotent. */
  release(request: { resource: string; holder: string; leaseId?: string }): Promise<void>;
}

/** Everything the executor calls out to. */
export interface ExecutorPorts {
  pods: PodPort;
  io: TaskIO;
  /** Absent when no resource manager is configured (tasks needing tokens then fail clearly). */
  tokens?: TokenBroker;
}

/** Tunables of the executor. */
export interface ExecutorConfig {
  /** The cluster id events are produced as. */
  clusterId: string;
  /** How long a started attempt's pod may be missing from the cache before it is a SYSTEM failure. */
  podMissingGraceMs: number;
  /** Lease lifetime requested from the resource manager. */
  tokenLeaseTtlMs: number;
  /** Poll interval while waiting in the resource manager queue. */
  tokenPollMs: number;
  /** Re-check interval of running workflows even without pod events (safety net). */
  runningRecheckMs: number;
  /**
   * Pod creates (node handlers of one wave) and finished-pod deletes in flight at once per
   * round: a level of a wide workflow starts and removes hundreds of pods, and a round lasts as
   * long as those calls take one batch after the other.
   */
  podConcurrency: number;
}

/**
 * Default {@link ExecutorConfig.podConcurrency}: 64, measured on the large benchmark (200
 * parallel chains) against 16 — rounds of a level a third shorter, and the API server keeps up.
 */
export const DEFAULT_POD_CONCURRENCY = 64;

/** Defaults for {@link ExecutorConfig} (except the cluster id). */
export const DEFAULT_EXECUTOR_CONFIG: Omit<ExecutorConfig, "clusterId"> = {
  podMissingGraceMs: 30_000,
  tokenLeaseTtlMs: 30_000,
  tokenPollMs: 1_000,
  runningRecheckMs: 30_000,
  podConcurrency: DEFAULT_POD_CONCURRENCY,
};
