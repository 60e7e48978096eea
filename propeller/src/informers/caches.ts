/**
 * The propeller's caches, fed by informers:
 * - {@link WorkflowCache}: non-terminated WorkflowExecution CRs, plus the copies this propeller
 *   wrote most recently, so a round never acts on a cache entry older than its own last write.
 * - {@link PodIndex}: Flotilla-owned pods indexed by owning execution, with short-lived
 *   tombstones of pods that disappeared without the propeller deleting them (a preempted or
 *   evicted pod that is gone before its final status was seen still fails its attempt promptly).
 * Both report informer lag: the time from a propeller write to the cache showing it.
 */
import type { KubernetesObject, V1Pod } from "@kubernetes/client-node";
import { WorkflowExecutionResource } from "@flotilla/common";
import type { PropellerMetrics } from "../metrics.js";
import { TOMBSTONE_ANNOTATION } from "../plugins/pod/pod-plugin.js";

/** A WorkflowExecution CR as the informer caches it. */
export interface WorkflowExecutionCr extends KubernetesObject {
  spec?: unknown;
  status?: unknown;
}

/** `namespace/name`: the workqueue key of a CR. */
export function objectKey(namespace: string | undefined, name: string | undefined): string {
  return `${namespace ?? ""}/${name ?? ""}`;
}

/** Splits a workqueue key. */
export function splitKey(key: string): { namespace: string; name: string } {
  const i = key.indexOf("/");
  return { namespace: key.slice(0, i), name: key.slice(i + 1) };
}

/** Numeric comparison of resourceVersions when both are integers (the common case), else undefined. */
function rvCompare(a: string | undefined, b: string | undefined): number | undefined {
  if (!a || !b || !/^\d+$/.test(a) || !/^\d+$/.test(b)) return undefined;
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Cache of WorkflowExecution CRs. */
export class WorkflowCache {
  private readonly objects = new Map<string, WorkflowExecutionCr>();
  private readonly written = new Map<string, { obj: WorkflowExecutionCr; at: number }>();

  constructor(private readonly metrics?: PropellerMetrics) {}

  /** Informer add/update. Returns the key. */
  upsert(obj: WorkflowExecutionCr): string {
    const key = objectKey(obj.metadata?.namespace, obj.metadata?.name);
    this.objects.set(key, obj);
    const w = this.written.get(key);
    if (w) {
      const cmp = rvCompare(obj.metadata?.resourceVersion, w.obj.metadata?.resourceVersion);
      if (cmp === undefined ? obj.metadata?.resourceVersion === w.obj.metadata?.resourceVersion : cmp >= 0) {
        if (obj.metadata?.resourceVersion === w.obj.metadata?.resourceVersion) {
          this.metrics?.informerLag.observe({ informer: "workflows" }, (Date.now() - w.at) / 1000);
        }
        this.written.delete(key);
      }
    }
    return key;
  }

  /** Informer delete. Returns the key. */
  remove(obj: WorkflowExecutionCr): string {
    const key = objectKey(obj.metadata?.namespace, obj.metadata?.name);
    this.objects.delete(key);
    this.written.delete(key);
    return key;
  }

  /** Records an object this propeller just wrote (the API server's answer). */
  noteWritten(obj: WorkflowExecutionCr): void {
    const key = objectKey(obj.metadata?.namespace, obj.metadata?.name);
    const cached = this.objects.get(key);
    const cmp = rvCompare(cached?.metadata?.resourceVersion, obj.metadata?.resourceVersion);
    if (cmp !== undefined && cmp >= 0) return;
    this.written.set(key, { obj, at: Date.now() });
  }

  /** Forgets a written copy (e.g. after a conflict showed it is stale). */
  forgetWritten(key: string): void {
    this.written.delete(key);
  }

  /** The newest known copy of a CR: this propeller's own write if the informer has not caught up. */
  get(key: string): WorkflowExecutionCr | undefined {
    const w = this.written.get(key);
    const cached = this.objects.get(key);
    if (w) {
      if (!cached) return undefined;
      const cmp = rvCompare(cached.metadata?.resourceVersion, w.obj.metadata?.resourceVersion);
      if (cmp === undefined || cmp < 0) return w.obj;
      this.written.delete(key);
    }
    return cached;
  }

  /** Every cached key. */
  keys(): IterableIterator<string> {
    return this.objects.keys();
  }

  /** Every cached object. */
  values(): IterableIterator<WorkflowExecutionCr> {
    return this.objects.values();
  }

  /** Number of cached CRs. */
  size(): number {
    return this.objects.size;
  }
}

const TOMBSTONE_TTL_MS = 10 * 60_000;

/** The execution key (`namespace/name`) of the WorkflowExecution that controls `pod`, if any. */
export function ownerKeyOf(pod: V1Pod): string | undefined {
  const ref = pod.metadata?.ownerReferences?.find(
    (r) => r.controller && r.kind === WorkflowExecutionResource.kind,
  );
  return ref ? objectKey(pod.metadata?.namespace, ref.name) : undefined;
}

/** Flotilla-owned pods indexed by owning execution. */
export class PodIndex {
  private readonly byOwner = new Map<string, Map<string, V1Pod>>();
  private readonly tombstones = new Map<string, Map<string, { pod: V1Pod; at: number }>>();
  private readonly expectedDeletes = new Set<string>();
  private readonly pendingCreates = new Map<string, number>();
  /** Per owner, the sequence number of the last change to its pods (see {@link changeOf}). */
  private readonly changes = new Map<string, number>();
  private sequence = 0;
  private size_ = 0;

  constructor(private readonly metrics?: PropellerMetrics) {}

  /** Informer add/update; returns the owner key to enqueue. */
  upsert(pod: V1Pod): string | undefined {
    const owner = ownerKeyOf(pod);
    if (!owner) return undefined;
    const name = pod.metadata?.name ?? "";
    let pods = this.byOwner.get(owner);
    if (!pods) {
      pods = new Map();
      this.byOwner.set(owner, pods);
    }
    const previous = pods.get(name);
    if (!previous) this.size_++;
    if (
      !previous ||
      previous.metadata?.resourceVersion !== pod.metadata?.resourceVersion ||
      !pod.metadata?.resourceVersion
    )
      this.changes.set(owner, ++this.sequence);
    pods.set(name, pod);
    const full = `${pod.metadata?.namespace ?? ""}/${name}`;
    const createdAt = this.pendingCreates.get(full);
    if (createdAt !== undefined) {
      this.pendingCreates.delete(full);
      this.metrics?.informerLag.observe({ informer: "pods" }, (Date.now() - createdAt) / 1000);
    }
    return owner;
  }

  /** Informer delete; returns the owner key to enqueue. */
  remove(pod: V1Pod): string | undefined {
    const owner = ownerKeyOf(pod);
    if (!owner) return undefined;
    const name = pod.metadata?.name ?? "";
    const pods = this.byOwner.get(owner);
    if (pods?.delete(name)) this.size_--;
    this.changes.set(owner, ++this.sequence);
    if (pods && pods.size === 0) this.byOwner.delete(owner);
    const full = `${pod.metadata?.namespace ?? ""}/${name}`;
    if (this.expectedDeletes.delete(full)) return owner;
    const phase = pod.status?.phase;
    const tomb: V1Pod =
      phase === "Succeeded" || phase === "Failed"
        ? pod
        : {
            ...pod,
            metadata: {
              ...pod.metadata,
              annotations: { ...pod.metadata?.annotations, [TOMBSTONE_ANNOTATION]: "true" },
            },
          };
    let stones = this.tombstones.get(owner);
    if (!stones) {
      stones = new Map();
      this.tombstones.set(owner, stones);
    }
    stones.set(name, { pod: tomb, at: Date.now() });
    return owner;
  }

  /** Notes that the propeller itself is deleting a pod (no tombstone when it disappears). */
  expectDelete(namespace: string, name: string): void {
    this.expectedDeletes.add(`${namespace}/${name}`);
    if (this.expectedDeletes.size > 100_000) this.expectedDeletes.clear();
  }

  /** Notes that the propeller created a pod now (for informer-lag measurement). */
  noteCreated(namespace: string, name: string): void {
    this.pendingCreates.set(`${namespace}/${name}`, Date.now());
    if (this.pendingCreates.size > 100_000) this.pendingCreates.clear();
  }

  /** Pods of the execution `namespace/name`, including recent tombstones of its pods. */
  podsOf(key: string): Map<string, V1Pod> {
    const out = new Map(this.byOwner.get(key) ?? []);
    const stones = this.tombstones.get(key);
    if (stones) {
      const now = Date.now();
      for (const [name, t] of stones) {
        if (now - t.at > TOMBSTONE_TTL_MS) stones.delete(name);
        else if (!out.has(name)) out.set(name, t.pod);
      }
      if (stones.size === 0) this.tombstones.delete(key);
    }
    return out;
  }

  /**
   * A number that changes whenever a pod of the execution `key` is added, changes
   * resourceVersion or goes away (0: none seen): the pod half of a round's input fingerprint,
   * in O(1) however many pods the execution has.
   */
  changeOf(key: string): number {
    return this.changes.get(key) ?? 0;
  }

  /** Live pods of an execution only (no tombstones). */
  livePodsOf(key: string): ReadonlyMap<string, V1Pod> | undefined {
    return this.byOwner.get(key);
  }

  /** Drops tombstones of an execution (after it finished or was deleted). */
  forgetExecution(key: string): void {
    this.tombstones.delete(key);
    if (!this.byOwner.has(key)) this.changes.delete(key);
  }

  /** Number of live pods cached. */
  size(): number {
    return this.size_;
  }
}
