/**
 * The object store: every object of a cluster indexed by type, namespace and name, one
 * cluster-wide monotonic resourceVersion, a bounded history of change events for watch resumes,
 * and the live watchers that events fan out to. Each object's JSON is serialized once per write
 * and shared by gets, lists and every watcher.
 */
import type { V1OwnerReference } from "@kubernetes/client-node";
import type { FieldSelector, LabelSelector } from "./selectors.js";

/** Kubernetes object metadata (the fields the server interprets). */
export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  ownerReferences?: OwnerReference[];
  [key: string]: unknown;
}

/** An ownerReference entry: Kubernetes' own type, as client-node declares it. */
export type OwnerReference = V1OwnerReference;

/** Any Kubernetes object. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  [key: string]: unknown;
}

/** A stored object with its serialized JSON (kept in sync; never mutate `obj`). */
export interface Stored {
  readonly obj: KubeObject;
  readonly json: string;
}

/** A watch event type on the wire. */
export type EventType = "ADDED" | "MODIFIED" | "DELETED";

/** One committed change. `prev` is the object before the change (for selector transitions). */
export interface ChangeEvent {
  readonly rv: number;
  readonly type: EventType;
  readonly typeKey: string;
  readonly namespace: string;
  readonly obj: KubeObject;
  readonly json: string;
  readonly prev: KubeObject | undefined;
  /** Wire frames of this event per delivered type, built once and shared by all watchers. */
  frames: Partial<Record<EventType, Buffer>>;
}

/** A live watch registered on one type. */
export interface Watcher {
  readonly typeKey: string;
  /** Restricts to one namespace when set. */
  readonly namespace: string | undefined;
  readonly label: LabelSelector;
  readonly field: FieldSelector;
  /**
   * Sends one event. `json` is the object's serialization; `event` is the committed change
   * (undefined for the synthetic ADDED events of an initial listing) whose `frames` cache lets
   * watchers share one encoded frame.
   */
  deliver(type: EventType, json: string, obj: KubeObject, event: ChangeEvent | undefined): void;
  /** Closes the watch stream. */
  close(): void;
}

/** Thrown when a write would exceed the configured object size limit. */
export class ObjectTooLargeError extends Error {
  readonly size: number;
  readonly limit: number;
  constructor(size: number, limit: number) {
    super(`object of ${size} bytes exceeds the storage limit of ${limit} bytes`);
    this.name = "ObjectTooLargeError";
    this.size = size;
    this.limit = limit;
  }
}

/** Thrown when a watch asks to resume from a compacted resourceVersion. */
export class CompactedError extends Error {
  readonly requested: number;
  readonly oldest: number;
  constructor(requested: number, oldest: number) {
    super(`too old resource version: ${requested} (${oldest})`);
    this.name = "CompactedError";
    this.requested = requested;
    this.oldest = oldest;
  }
}

/** Options of the store. */
export interface StoreOptions {
  /** Limit on an object's stored JSON size in bytes. */
  objectSizeLimitBytes: number;
  /** How many change events are kept for watch resumes. */
  compactionWindow: number;
}

type Bucket = Map<string, Stored>;

/**
 * The in-memory store. All methods are synchronous: a write commits, appends its event to the
 * history and fans it out to watchers before returning.
 */
export class ObjectStore {
  private rv = 1;
  private readonly types = new Map<string, Map<string, Bucket>>();
  private readonly history: ChangeEvent[] = [];
  private historyStart = 0;
  /** Resource versions at or below this one can no longer be resumed from. */
  private compactedRv = 0;
  private readonly watchers = new Map<string, Set<Watcher>>();
  private readonly listeners: ((e: ChangeEvent) => void)[] = [];
  /** Sorted `namespace/name` ids per type, then per namespace (or `*`), kept in step with writes. */
  private readonly sortedCache = new Map<string, Map<string, string[]>>();

  constructor(private readonly options: StoreOptions) {}

  /** The latest committed resourceVersion. */
  currentRv(): number {
    return this.rv;
  }

  /** The object stored under type/namespace/name. */
  get(typeKey: string, namespace: string, name: string): Stored | undefined {
    return this.types.get(typeKey)?.get(namespace)?.get(name);
  }

  /** Number of objects of a type in a namespace (or cluster-wide with `undefined`). */
  count(typeKey: string, namespace: string | undefined): number {
    const byNs = this.types.get(typeKey);
    if (!byNs) return 0;
    if (namespace !== undefined) return byNs.get(namespace)?.size ?? 0;
    let total = 0;
    for (const bucket of byNs.values()) total += bucket.size;
    return total;
  }

  /** Iterates objects of a type, optionally in one namespace, in storage order. */
  *iterate(typeKey: string, namespace: string | undefined): Generator<Stored> {
    const byNs = this.types.get(typeKey);
    if (!byNs) return;
    if (namespace !== undefined) {
      const bucket = byNs.get(namespace);
      if (bucket) yield* bucket.values();
      return;
    }
    for (const bucket of byNs.values()) yield* bucket.values();
  }

  /**
   * The `namespace/name` ids of a type (optionally in one namespace) in sorted order, built on
   * first use and kept sorted as objects are added and removed (a list or a delete-collection
   * while pods churn costs no re-sort). Returns a shared array: do not mutate or hold it across
   * writes.
   */
  sortedIds(typeKey: string, namespace: string | undefined): string[] {
    let perType = this.sortedCache.get(typeKey);
    if (!perType) {
      perType = new Map();
      this.sortedCache.set(typeKey, perType);
    }
    const cacheKey = namespace ?? "*";
    let ids = perType.get(cacheKey);
    if (!ids) {
      ids = [];
      for (const s of this.iterate(typeKey, namespace))
        ids.push(`${s.obj.metadata.namespace ?? ""}/${s.obj.metadata.name}`);
      ids.sort();
      perType.set(cacheKey, ids);
    }
    return ids;
  }

  /** Inserts (`present`) or removes an object's id in the cached sorted orders that cover it. */
  private updateSorted(typeKey: string, namespace: string, name: string, present: boolean): void {
    const perType = this.sortedCache.get(typeKey);
    if (!perType) return;
    const id = `${namespace}/${name}`;
    for (const cacheKey of ["*", namespace]) {
      const ids = perType.get(cacheKey);
      if (!ids) continue;
      const at = lowerBound(ids, id);
      if (present && ids[at] !== id) ids.splice(at, 0, id);
      else if (!present && ids[at] === id) ids.splice(at, 1);
    }
  }

  /** The namespaces holding at least one object of the type. */
  namespacesOf(typeKey: string): string[] {
    const byNs = this.types.get(typeKey);
    return byNs ? [...byNs.entries()].filter(([, b]) => b.size > 0).map(([ns]) => ns) : [];
  }

  /** All type keys that have ever stored an object. */
  typeKeys(): string[] {
    return [...this.types.keys()];
  }

  /**
   * Subscribes to committed changes: `listener` is called synchronously after every write
   * (ADDED, MODIFIED or DELETED, with the object and the previous version), after the
   * watchers. Controllers keep their indexes and queues from these events.
   */
  onChange(listener: (e: ChangeEvent) => void): void {
    this.listeners.push(listener);
  }

  /**
   * Commits a write: assigns the next resourceVersion to `obj`, serializes it once, checks the
   * size limit (throws ObjectTooLargeError without committing), stores (or removes for DELETED)
   * and fans the event out. Returns the stored entry.
   */
  commit(typeKey: string, type: EventType, obj: KubeObject): Stored {
    const namespace = obj.metadata.namespace ?? "";
    const name = obj.metadata.name!;
    const nextRv = this.rv + 1;
    obj.metadata.resourceVersion = String(nextRv);
    const json = JSON.stringify(obj);
    if (type !== "DELETED" && Buffer.byteLength(json) > this.options.objectSizeLimitBytes) {
      throw new ObjectTooLargeError(Buffer.byteLength(json), this.options.objectSizeLimitBytes);
    }
    this.rv = nextRv;
    let byNs = this.types.get(typeKey);
    if (!byNs) {
      byNs = new Map();
      this.types.set(typeKey, byNs);
    }
    let bucket = byNs.get(namespace);
    if (!bucket) {
      bucket = new Map();
      byNs.set(namespace, bucket);
    }
    const prev = bucket.get(name)?.obj;
    const stored: Stored = { obj, json };
    if (type === "DELETED" || !prev) this.updateSorted(typeKey, namespace, name, type !== "DELETED");
    if (type === "DELETED") {
      bucket.delete(name);
      if (bucket.size === 0) byNs.delete(namespace);
    } else {
      bucket.set(name, stored);
    }
    const event: ChangeEvent = { rv: nextRv, type, typeKey, namespace, obj, json, prev, frames: {} };
    this.history.push(event);
    if (this.history.length - this.historyStart > this.options.compactionWindow) {
      this.compactedRv = this.history[this.historyStart].rv;
      this.historyStart++;
      if (this.historyStart > 4096 && this.historyStart * 2 > this.history.length) {
        this.history.splice(0, this.historyStart);
        this.historyStart = 0;
      }
    }
    this.fanOut(event);
    // Frames are only shared during this fan-out; replays rebuild them, history stays small.
    event.frames = {};
    for (const listener of this.listeners) listener(event);
    return stored;
  }

  private fanOut(event: ChangeEvent): void {
    const watchers = this.watchers.get(event.typeKey);
    if (!watchers || watchers.size === 0) return;
    for (const w of watchers) deliverTo(w, event);
  }

  /**
   * Registers a watcher. With `fromRv` it first replays every retained event after that
   * resourceVersion (throws CompactedError when it is older than the retained history); with
   * `undefined` it first sends ADDED for every current matching object. Returns an unregister
   * function.
   */
  watch(watcher: Watcher, fromRv: number | undefined): () => void {
    if (fromRv !== undefined) {
      if (fromRv < this.compactedRv) throw new CompactedError(fromRv, this.compactedRv + 1);
      let lo = this.historyStart;
      let hi = this.history.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (this.history[mid].rv <= fromRv) lo = mid + 1;
        else hi = mid;
      }
      for (let i = lo; i < this.history.length; i++) {
        const e = this.history[i];
        if (e.typeKey === watcher.typeKey) deliverTo(watcher, e);
      }
    } else {
      for (const s of this.iterate(watcher.typeKey, watcher.namespace)) {
        if (watcher.label.matches(s.obj.metadata.labels) && watcher.field.matches(s.obj)) {
          watcher.deliver("ADDED", s.json, s.obj, undefined);
        }
      }
    }
    let set = this.watchers.get(watcher.typeKey);
    if (!set) {
      set = new Set();
      this.watchers.set(watcher.typeKey, set);
    }
    set.add(watcher);
    return () => {
      this.watchers.get(watcher.typeKey)?.delete(watcher);
    };
  }

  /** Every live watcher (for bookmarks and fault injection). */
  allWatchers(): Watcher[] {
    const out: Watcher[] = [];
    for (const set of this.watchers.values()) out.push(...set);
    return out;
  }

  /** Closes every watcher of a type (its API went away). */
  closeWatchers(typeKey: string): void {
    for (const w of [...(this.watchers.get(typeKey) ?? [])]) w.close();
    this.watchers.delete(typeKey);
  }

  /** Number of live watchers. */
  watcherCount(): number {
    let n = 0;
    for (const set of this.watchers.values()) n += set.size;
    return n;
  }

  /** Drops the whole event history: resumes from any earlier resourceVersion get 410 Gone. */
  compact(): void {
    this.compactedRv = this.rv;
    this.history.length = 0;
    this.historyStart = 0;
  }
}

function matches(w: Watcher, obj: KubeObject | undefined): boolean {
  if (!obj) return false;
  return w.label.matches(obj.metadata.labels) && w.field.matches(obj);
}

/**
 * Delivers one event to one watcher with kube's selector transition rules: an update that makes
 * an object start matching is ADDED, one that makes it stop matching is DELETED.
 */
function deliverTo(w: Watcher, e: ChangeEvent): void {
  if (w.namespace !== undefined && w.namespace !== e.namespace) return;
  const trivial = w.label.empty && w.field.empty;
  if (trivial) {
    w.deliver(e.type, e.json, e.obj, e);
    return;
  }
  const now = matches(w, e.obj);
  if (e.type === "ADDED") {
    if (now) w.deliver("ADDED", e.json, e.obj, e);
    return;
  }
  if (e.type === "DELETED") {
    if (now || matches(w, e.prev)) w.deliver("DELETED", e.json, e.obj, e);
    return;
  }
  const before = matches(w, e.prev);
  if (now && before) w.deliver("MODIFIED", e.json, e.obj, e);
  else if (now) w.deliver("ADDED", e.json, e.obj, e);
  else if (before) w.deliver("DELETED", e.json, e.obj, e);
}

/** The first index of sorted `ids` whose value is not below `id`. */
function lowerBound(ids: readonly string[], id: string): number {
  let lo = 0;
  let hi = ids.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (ids[mid] < id) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
