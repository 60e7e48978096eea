/**
 * Runtime-adjustable fault injection and request counters of one API server. Tests use faults
 * to slow the server down, make it fail with 5xx/429, drop watches and force compaction, and
 * counters to prove properties such as "no pod was created twice".
 */
import { ApiError } from "./errors.js";

/** Which requests an injected error applies to. */
export interface ErrorFaultOptions {
  /** HTTP status to answer (default 500). 429 and 503 carry `Retry-After`. */
  code?: 429 | 500 | 502 | 503 | 504;
  /** `Retry-After` seconds for 429/503 (default 1). */
  retryAfterSeconds?: number;
  /** Only these verbs (`get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, ...). */
  verbs?: string[];
  /** Only these resources (plural names, e.g. `pods`, `workflowexecutions`). */
  resources?: string[];
}

/** Fault injection controls. Changes apply to requests that arrive afterwards. */
export class ApiFaults {
  /** Added latency for every API request, in milliseconds. */
  latencyMs = 0;
  /** Probability (0..1) that an API request fails with the configured error. */
  errorRate = 0;
  /** The error options used while `errorRate` > 0. */
  errorOptions: ErrorFaultOptions = {};

  constructor(
    private readonly dropAll: () => number,
    private readonly compactAll: () => void,
  ) {}

  /** Makes a fraction of matching requests fail; `rate` 0 disables. */
  setErrorRate(rate: number, options: ErrorFaultOptions = {}): void {
    if (rate < 0 || rate > 1) throw new RangeError(`error rate must be within [0, 1], got ${rate}`);
    this.errorRate = rate;
    this.errorOptions = options;
  }

  /** Sets the added latency in milliseconds. */
  setLatency(ms: number): void {
    if (ms < 0) throw new RangeError(`latency must be >= 0, got ${ms}`);
    this.latencyMs = ms;
  }

  /** Closes every open watch stream (clients see the connection end). Returns how many. */
  dropWatches(): number {
    return this.dropAll();
  }

  /** Drops the event history: resuming a watch from an earlier resourceVersion gets 410. */
  compact(): void {
    this.compactAll();
  }

  /** Clears latency and errors. */
  reset(): void {
    this.latencyMs = 0;
    this.errorRate = 0;
    this.errorOptions = {};
  }

  /** Decides whether a request with this verb/resource should fail now. */
  shouldFail(verb: string, resource: string): boolean {
    if (this.errorRate <= 0) return false;
    const { verbs, resources } = this.errorOptions;
    if (verbs && !verbs.includes(verb)) return false;
    if (resources && !resources.includes(resource)) return false;
    return Math.random() < this.errorRate;
  }

  /**
   * The error to answer a request with this verb/resource with now, as kube-apiserver words
   * it (429 TooManyRequests and 503 ServiceUnavailable carry `Retry-After`), or undefined
   * when the request is to be served.
   */
  injectedError(verb: string, resource: string): ApiError | undefined {
    if (!this.shouldFail(verb, resource)) return undefined;
    const code = this.errorOptions.code ?? 500;
    const retry = this.errorOptions.retryAfterSeconds ?? 1;
    const throttled = code === 429 || code === 503;
    const reason =
      code === 429
        ? "TooManyRequests"
        : code === 503
          ? "ServiceUnavailable"
          : code === 504
            ? "Timeout"
            : "InternalError";
    const message =
      code === 429
        ? "the server has received too many requests and has asked us to try again later"
        : "sandbox fault injection: the server is currently unable to handle the request";
    return new ApiError(
      code,
      reason,
      message,
      throttled ? { kind: resource, retryAfterSeconds: retry } : undefined,
      throttled ? { "Retry-After": String(retry) } : {},
    );
  }
}

/** Request counters of one API server. */
export class ApiCounters {
  private readonly byVerbResource = new Map<string, number>();
  private readonly podCreateMap = new Map<string, number>();
  private readonly expiredWatchMap = new Map<string, number>();

  /** Records one request. */
  countRequest(verb: string, resource: string): void {
    const key = `${verb} ${resource}`;
    this.byVerbResource.set(key, (this.byVerbResource.get(key) ?? 0) + 1);
  }

  /** Records one watch answered 410 Expired because its resume point was compacted. */
  countExpiredWatch(resource: string): void {
    this.expiredWatchMap.set(resource, (this.expiredWatchMap.get(resource) ?? 0) + 1);
  }

  /** Watches of `resource` (plural name) answered 410 Expired: each obliges the client to relist. */
  expiredWatches(resource: string): number {
    return this.expiredWatchMap.get(resource) ?? 0;
  }

  /** Records one successful pod create. */
  countPodCreate(namespace: string, name: string): void {
    const key = `${namespace}/${name}`;
    this.podCreateMap.set(key, (this.podCreateMap.get(key) ?? 0) + 1);
  }

  /** Requests served for a verb, optionally restricted to a resource (plural name). */
  requests(verb: string, resource?: string): number {
    if (resource !== undefined) return this.byVerbResource.get(`${verb} ${resource}`) ?? 0;
    let total = 0;
    for (const [k, v] of this.byVerbResource) if (k.startsWith(`${verb} `)) total += v;
    return total;
  }

  /** A snapshot of all request counts keyed `verb resource` (e.g. `create pods`). */
  requestCounts(): Record<string, number> {
    return Object.fromEntries(this.byVerbResource);
  }

  /** Successful creates of the pod `namespace/name` (a restarted pod name counts again). */
  podCreates(namespace: string, name: string): number {
    return this.podCreateMap.get(`${namespace}/${name}`) ?? 0;
  }

  /** A snapshot of successful pod creates keyed `namespace/name`. */
  podCreateCounts(): Record<string, number> {
    return Object.fromEntries(this.podCreateMap);
  }

  /** Pod names created more than once. */
  duplicatePodCreates(): string[] {
    return [...this.podCreateMap].filter(([, n]) => n > 1).map(([k]) => k);
  }

  /** Clears every counter. */
  reset(): void {
    this.byVerbResource.clear();
    this.podCreateMap.clear();
    this.expiredWatchMap.clear();
  }
}
