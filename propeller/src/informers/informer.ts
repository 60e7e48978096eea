/**
 * A resilient wrapper around client-node's ListWatch informer: it waits for the initial list
 * (retrying until the API server answers), restarts the watch with backoff after errors (a
 * `410 Gone` makes ListWatch relist, which also reconciles deletions missed meanwhile), and
 * counts restarts. Rounds read only from these caches.
 */
import {
  ListWatch,
  Watch,
  type KubeConfig,
  type KubernetesObject,
  type KubernetesListObject,
} from "@kubernetes/client-node";
import { backoffDelay, silentLogger, sleep, type BackoffOptions, type Logger } from "@flotilla/common";
import type { PropellerMetrics } from "../metrics.js";

/** Callbacks of an informer. */
export interface InformerHandlers<T> {
  onAdd?(obj: T): void;
  onUpdate?(obj: T): void;
  onDelete?(obj: T): void;
}

/** Options of {@link ResilientInformer}. */
export interface ResilientInformerOptions<T extends KubernetesObject> {
  /** Name for metrics and logs ("workflows", "pods"). */
  name: string;
  kubeConfig: KubeConfig;
  /** Watch path, e.g. `/api/v1/pods`. */
  path: string;
  /** Lists the objects (same selector as the watch). */
  list: () => Promise<KubernetesListObject<T>>;
  labelSelector?: string;
  metrics?: PropellerMetrics;
  handlers: InformerHandlers<T>;
  /** Restart backoff bounds (full jitter; see the runtime's backoffDelay). Default 200 ms, 10 s. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** Where list and watch failures are reported (default silent). */
  logger?: Logger;
}

/** The informer was stopped before its first list completed. */
export class InformerStoppedError extends Error {
  override readonly name = "InformerStoppedError";
  constructor(readonly informer: string) {
    super(`informer ${informer} stopped before it synced`);
  }
}

/** A ListWatch that keeps itself running. */
export class ResilientInformer<T extends KubernetesObject> {
  private readonly lw: ListWatch<T>;
  private stopped = false;
  private synced = false;
  private listedOk = false;
  private failures = 0;
  private listError: unknown;
  private restartTimer: NodeJS.Timeout | undefined;
  private stopping = new AbortController();
  private readonly backoff: BackoffOptions;
  private readonly logger: Logger;

  constructor(private readonly options: ResilientInformerOptions<T>) {
    this.logger = (options.logger ?? silentLogger).child({ informer: options.name });
    // Exported at 0 from the start, so a restart shows as an increase rather than a new series.
    options.metrics?.informerRestarts.inc({ informer: options.name }, 0);
    this.backoff = { initialMs: options.minBackoffMs ?? 200, maxMs: options.maxBackoffMs ?? 10_000 };
    const list = async () => {
      try {
        const result = await options.list();
        this.listedOk = true;
        return result;
      } catch (err) {
        this.listError = err;
        throw err;
      }
    };
    this.lw = new ListWatch<T>(
      options.path,
      new Watch(options.kubeConfig),
      list,
      false,
      options.labelSelector,
    );
    const h = options.handlers;
    if (h.onAdd) this.lw.on("add", (o) => h.onAdd?.(o));
    if (h.onUpdate) this.lw.on("update", (o) => h.onUpdate?.(o));
    if (h.onDelete) this.lw.on("delete", (o) => h.onDelete?.(o));
    this.lw.on("connect", () => {
      this.failures = 0;
    });
    this.lw.on("error", (err) => this.onError(err));
  }

  /** Whether the initial list completed. */
  hasSynced(): boolean {
    return this.synced;
  }

  /** Why the cache is not usable yet (for `/readyz`), or undefined once it synced. */
  notSyncedReason(): string | undefined {
    if (this.synced) return undefined;
    const why = this.listError === undefined ? "has not listed yet" : describeListError(this.listError);
    return `informer ${this.options.name} not synced: ${why}`;
  }

  /**
   * Starts list+watch and resolves once the cache holds the initial list. Until the list
   * succeeds it retries with backoff, logging the first failure and every 20th (a 404 names the
   * likely cause: the resource's CustomResourceDefinition is not installed yet).
   */
  async start(): Promise<void> {
    this.stopped = false;
    this.stopping = new AbortController();
    for (let attempt = 0; ; attempt++) {
      if (this.stopped) throw new InformerStoppedError(this.options.name);
      this.listedOk = false;
      await this.lw.start();
      if (this.listedOk) break;
      const delay = backoffDelay(attempt, this.backoff);
      if (attempt === 0 || (attempt + 1) % 20 === 0) {
        this.logger.warn("initial list failed; retrying", {
          attempt: attempt + 1,
          error: describeListError(this.listError),
          retryInMs: delay,
        });
      }
      this.options.metrics?.informerRestarts.inc({ informer: this.options.name });
      // stop() cuts the wait short; the loop then throws InformerStoppedError.
      await sleep(delay, this.stopping.signal).catch(() => undefined);
    }
    this.synced = true;
  }

  private onError(err: unknown): void {
    if (this.stopped || !this.synced) return;
    this.failures++;
    this.options.metrics?.informerRestarts.inc({ informer: this.options.name });
    const delay = backoffDelay(this.failures - 1, this.backoff);
    if (this.failures === 1 || this.failures % 20 === 0) {
      this.logger.warn("watch failed; restarting", {
        failures: this.failures,
        error: err,
        restartInMs: delay,
      });
    }
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (!this.stopped) void this.lw.start().catch((e: unknown) => this.onError(e));
    }, delay);
  }

  /** The cached object, if any. */
  get(namespace: string, name: string): T | undefined {
    return this.lw.get(name, namespace);
  }

  /** Every cached object. */
  list(): readonly T[] {
    return this.lw.list();
  }

  /** Stops watching; the cache keeps its last content. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.stopping.abort();
    if (this.restartTimer) clearTimeout(this.restartTimer);
    await this.lw.stop();
  }
}

/** One line about a failed list; a 404 says what usually causes it. */
function describeListError(err: unknown): string {
  if ((err as { code?: unknown } | undefined)?.code === 404) {
    return "404 Not Found: is the resource's CustomResourceDefinition installed?";
  }
  const message = err instanceof Error ? err.message : String(err);
  return message.split("\n")[0] ?? message;
}
