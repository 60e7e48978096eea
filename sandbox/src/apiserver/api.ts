/**
 * The resource semantics of kube-apiserver over the object store: create/get/list/update/
 * patch/delete with admission (namespace lifecycle, ResourceQuota), optimistic concurrency,
 * generation, status subresources, finalizers, graceful pod deletion, CRD registration, and the
 * garbage-collector, namespace and quota controllers that run asynchronously like their
 * kube-controller-manager counterparts.
 */
import { randomUUID } from "node:crypto";
import {
  ApiError,
  MODIFIED_MESSAGE,
  type StatusCause,
  alreadyExists,
  badRequest,
  conflict,
  etcdTooLarge,
  forbidden,
  forbiddenCause,
  invalid,
  invalidCause,
  notFound,
  requiredCause,
} from "./errors.js";
import { applyPatch } from "./patch.js";
import { addUsage, formatUsage, missingSpecs, parseHard, podCounts, podUsage, type Usage } from "./quota.js";
import { type ResourceType, TypeRegistry, builtinTypes, groupVersion, typeKey } from "./registry.js";
import { type JsonSchema, defaultAndPrune, validateSchema } from "./schema.js";
import { type FieldSelector, type LabelSelector } from "./selectors.js";
import { type ChangeEvent, type KubeObject, ObjectStore, ObjectTooLargeError, type Stored } from "./store.js";
import {
  canonicalJson,
  validateMetadata,
  validateName,
  validatePodSpec,
  validatePodUpdate,
} from "./validation.js";

/** Options of a delete call (kube `DeleteOptions`). */
export interface DeleteOptions {
  propagationPolicy?: "Background" | "Foreground" | "Orphan";
  gracePeriodSeconds?: number;
  preconditions?: { uid?: string; resourceVersion?: string };
  dryRun?: boolean;
}

/** Options of a write (create, update, patch). */
export interface WriteOptions {
  /** `dryRun=All`: run every check but commit nothing. */
  dryRun?: boolean;
  /** `fieldValidation=Strict`: unknown fields of custom resources are an error, not pruned. */
  strict?: boolean;
}

/** Result of a delete: the object as last stored and whether it is gone. */
export interface DeleteResult {
  stored: Stored;
  deleted: boolean;
}

/** A page of a list. */
export interface ListResult {
  items: Stored[];
  resourceVersion: string;
  continueToken?: string;
  remainingItemCount?: number;
}

/** Options of `ClusterApi`. */
export interface ClusterApiOptions {
  objectSizeLimitBytes: number;
  compactionWindow: number;
  /** Receives unexpected controller errors (default: written to stderr). */
  onError?: (err: unknown) => void;
}

const NAMESPACES = "/namespaces";
const PODS = "/pods";
const QUOTAS = "/resourcequotas";
const SECRETS = "/secrets";
const CRDS = "apiextensions.k8s.io/customresourcedefinitions";
const FOREGROUND = "foregroundDeletion";
const ORPHAN = "orphan";
const NAMESPACE_FINALIZER = "kubernetes";
const GENERATE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789";

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function now(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, "Z");
}

function objId(key: string, ns: string, name: string): string {
  return `${key}|${ns}|${name}`;
}

/** A mutable deep copy of a stored object (parsing its cached JSON beats structuredClone). */
function clone(stored: Stored): KubeObject {
  return JSON.parse(stored.json) as KubeObject;
}

function withoutRv(obj: KubeObject): string {
  const { resourceVersion: _rv, managedFields: _mf, ...meta } = obj.metadata;
  return canonicalJson({ ...obj, metadata: meta });
}

function specView(obj: KubeObject): string {
  const { metadata: _m, status: _s, ...rest } = obj;
  return canonicalJson(rest);
}

/**
 * One cluster's API semantics. Every method is synchronous and commits before returning;
 * controllers (GC, namespace, quota status, graceful pod deletion) run later on timers.
 */
export class ClusterApi {
  readonly store: ObjectStore;
  readonly types: TypeRegistry;
  private readonly dependents = new Map<string, Map<string, { key: string; ns: string; name: string }>>();
  private readonly uids = new Map<string, string>();
  private readonly quotaUsage = new Map<string, Usage>();
  private readonly gcQueue = new Set<string>();
  private readonly nsQueue = new Set<string>();
  private readonly quotaQueue = new Set<string>();
  private readonly crdCleanup: KubeObject[] = [];
  private scheduled = false;
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopped = false;

  private readonly onError: (err: unknown) => void;

  constructor(options: ClusterApiOptions) {
    this.onError = options.onError ?? ((err) => console.error("sandbox apiserver controller error:", err));
    this.store = new ObjectStore(options);
    this.types = new TypeRegistry(builtinTypes());
    this.store.onChange((e) => this.track(e));
    this.bootstrap();
  }

  private bootstrap(): void {
    const nsType = this.types.get("", "v1", "namespaces")!;
    for (const name of ["default", "kube-system", "kube-public", "kube-node-lease"]) {
      this.create(nsType, undefined, { apiVersion: "v1", kind: "Namespace", metadata: { name } });
    }
  }

  /** Stops controller timers. */
  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  // ---------------------------------------------------------------- reads

  /** Returns the stored object or throws 404 NotFound. */
  get(t: ResourceType, ns: string | undefined, name: string): Stored {
    const s = this.store.get(typeKey(t), t.namespaced ? (ns ?? "") : "", name);
    if (!s) throw notFound(t, name);
    return s;
  }

  /**
   * Lists objects matching selectors, sorted by namespace/name, paginated with `limit` and an
   * opaque `continue` token. Uses the `spec.nodeName`/`metadata.name` equality fields to avoid
   * scanning when possible.
   */
  list(
    t: ResourceType,
    ns: string | undefined,
    label: LabelSelector,
    field: FieldSelector,
    limit: number | undefined,
    continueToken: string | undefined,
  ): ListResult {
    const key = typeKey(t);
    let start = "";
    let rv = String(this.store.currentRv());
    if (continueToken) {
      try {
        const decoded = JSON.parse(Buffer.from(continueToken, "base64").toString("utf8"));
        start = String(decoded.start);
        rv = String(decoded.rv);
      } catch {
        throw badRequest("continue key is not valid: illegal base64 data or JSON");
      }
    }
    const nsFilter = t.namespaced ? ns : undefined;
    const fieldNs = field.equalityValue("metadata.namespace");
    const scopeNs = nsFilter ?? (t.namespaced ? fieldNs : undefined);
    const pinnedName = field.equalityValue("metadata.name");
    const matches = (st: Stored): boolean => label.matches(st.obj.metadata.labels) && field.matches(st.obj);
    if (pinnedName !== undefined && scopeNs !== undefined) {
      const one = this.store.get(key, scopeNs, pinnedName);
      const sortKey = `${scopeNs}/${pinnedName}`;
      return { items: one && sortKey > start && matches(one) ? [one] : [], resourceVersion: rv };
    }
    // Walk the cached sorted order from the continue point and stop as soon as the page is
    // full: a page costs O(page + skipped non-matching objects), not a sort of everything.
    const ids = this.store.sortedIds(key, scopeNs);
    let i = 0;
    if (start) {
      let hi = ids.length;
      while (i < hi) {
        const mid = (i + hi) >> 1;
        if (ids[mid] <= start) i = mid + 1;
        else hi = mid;
      }
    }
    const pageSize = limit && limit > 0 ? limit : Infinity;
    const items: Stored[] = [];
    let lastId = "";
    for (; i < ids.length; i++) {
      const id = ids[i];
      const slash = id.indexOf("/");
      const stored = this.store.get(key, id.slice(0, slash), id.slice(slash + 1));
      if (!stored || !matches(stored)) continue;
      if (items.length === pageSize) {
        const selective = !label.empty || !field.empty;
        return {
          items,
          resourceVersion: rv,
          continueToken: Buffer.from(JSON.stringify({ rv, start: lastId })).toString("base64"),
          // Like kube, the remaining count is only given when no selector filters the list.
          remainingItemCount: selective ? undefined : ids.length - i,
        };
      }
      items.push(stored);
      lastId = id;
    }
    return { items, resourceVersion: rv };
  }

  // ---------------------------------------------------------------- create

  /**
   * Creates an object (POST). Applies defaults, validation, namespace lifecycle and quota
   * admission. Returns the stored object; throws ApiError (409/404/403/422/500).
   */
  create(t: ResourceType, ns: string | undefined, body: unknown, opts: WriteOptions = {}): Stored {
    const obj = this.decode(t, body, ns);
    const meta = obj.metadata;
    if (!meta.name && meta.generateName)
      meta.name = this.generateName(t, meta.namespace ?? "", meta.generateName);
    if (!meta.name) {
      throw invalid(t.kind, t.group, "", [
        requiredCause("metadata.name", "name or generateName is required"),
      ]);
    }
    const causes = [...validateName(meta.name, t.resource === "namespaces"), ...validateMetadata(obj)];
    if (causes.length) throw invalid(t.kind, t.group, meta.name, causes);
    if (t.namespaced) this.admitNamespace(t, meta.namespace!, meta.name);
    const key = typeKey(t);
    if (this.store.get(key, meta.namespace ?? "", meta.name)) throw alreadyExists(t, meta.name);

    meta.uid = randomUUID();
    meta.creationTimestamp = now();
    meta.generation = 1;
    delete meta.deletionTimestamp;
    delete meta.deletionGracePeriodSeconds;
    delete meta.resourceVersion;
    delete meta.managedFields;
    if (Array.isArray(meta.finalizers) && meta.finalizers.length === 0) delete meta.finalizers;
    this.prepareForCreate(t, obj, opts);
    if (key === `${PODS}`) this.admitPodQuota(t, obj);
    this.admitCountQuota(t, obj);
    if (opts.dryRun) return { obj, json: JSON.stringify(obj) };
    const stored = this.commit(t, "ADDED", obj);
    this.afterCreate(t, stored);
    return stored;
  }

  private decode(t: ResourceType, body: unknown, ns: string | undefined): KubeObject {
    if (!isObject(body)) throw badRequest("the body of the request was not a JSON object");
    const obj = body as KubeObject;
    const expected = groupVersion(t);
    if (obj.apiVersion !== undefined && obj.apiVersion !== expected) {
      const versions = this.types.versionsOf(typeKey(t)).map(groupVersion);
      if (!versions.includes(obj.apiVersion)) {
        throw badRequest(
          `the API version in the data (${obj.apiVersion}) does not match the expected API version (${expected})`,
        );
      }
    }
    if (obj.kind !== undefined && obj.kind !== t.kind) {
      throw badRequest(`the kind in the data (${obj.kind}) does not match the expected kind (${t.kind})`);
    }
    obj.apiVersion = groupVersion(this.storageType(t));
    obj.kind = t.kind;
    if (!isObject(obj.metadata)) obj.metadata = {};
    if (t.namespaced) {
      if (obj.metadata.namespace && ns && obj.metadata.namespace !== ns) {
        throw badRequest(
          "the namespace of the provided object does not match the namespace sent on the request",
        );
      }
      obj.metadata.namespace = ns ?? obj.metadata.namespace;
      if (!obj.metadata.namespace)
        throw badRequest("the server could not find the requested resource (namespace is required)");
    } else {
      delete obj.metadata.namespace;
    }
    return obj;
  }

  /** The version objects of a type are stored at (the first registered version). */
  private storageType(t: ResourceType): ResourceType {
    return this.types.versionsOf(typeKey(t))[0] ?? t;
  }

  private generateName(t: ResourceType, ns: string, prefix: string): string {
    for (;;) {
      let suffix = "";
      for (let i = 0; i < 5; i++)
        suffix += GENERATE_ALPHABET[Math.floor(Math.random() * GENERATE_ALPHABET.length)];
      const name = `${prefix.slice(0, 58)}${suffix}`;
      if (!this.store.get(typeKey(t), ns, name)) return name;
    }
  }

  private admitNamespace(t: ResourceType, ns: string, name: string): void {
    const nsObj = this.store.get(NAMESPACES, "", ns);
    if (!nsObj) throw notFound({ group: "", resource: "namespaces" }, ns);
    if (nsObj.obj.metadata.deletionTimestamp) {
      throw forbidden(
        t,
        name,
        `unable to create new content in namespace ${ns} because it is being terminated`,
      );
    }
  }

  private prepareForCreate(t: ResourceType, obj: KubeObject, opts: WriteOptions): void {
    const key = typeKey(t);
    if (key === NAMESPACES) {
      obj.spec = { finalizers: [NAMESPACE_FINALIZER] };
      obj.status = { phase: "Active" };
      obj.metadata.labels = {
        ...(obj.metadata.labels ?? {}),
        "kubernetes.io/metadata.name": obj.metadata.name!,
      };
    } else if (key === PODS) {
      const causes = validatePodSpec(obj);
      if (causes.length) throw invalid(t.kind, t.group, obj.metadata.name!, causes);
      const spec = obj.spec as Record<string, unknown>;
      spec.restartPolicy ??= "Always";
      spec.terminationGracePeriodSeconds ??= 30;
      spec.dnsPolicy ??= "ClusterFirst";
      spec.schedulerName ??= "default-scheduler";
      spec.enableServiceLinks ??= true;
      for (const c of spec.containers as Record<string, unknown>[]) {
        c.terminationMessagePath ??= "/dev/termination-log";
        c.terminationMessagePolicy ??= "File";
        c.imagePullPolicy ??=
          String(c.image).endsWith(":latest") || !String(c.image).includes(":") ? "Always" : "IfNotPresent";
        c.resources ??= {};
      }
      obj.status = { phase: "Pending", qosClass: qosClass(obj) };
    } else if (key === QUOTAS) {
      delete obj.status;
    } else if (key === SECRETS) {
      foldStringData(obj);
    } else if (key === CRDS) {
      this.validateCrd(obj);
      obj.status = { conditions: [], acceptedNames: { kind: "", plural: "" }, storedVersions: [] };
    } else if (t.crdName) {
      if (t.statusSubresource) delete obj.status;
      this.validateCustom(t, obj, opts);
    }
  }

  private validateCustom(t: ResourceType, obj: KubeObject, opts: WriteOptions): void {
    if (!t.schema) return;
    const pruned: string[] = [];
    defaultAndPrune(t.schema, obj, pruned);
    if (opts.strict && pruned.length > 0) {
      throw badRequest(
        `${t.kind} in version "${t.version}" cannot be handled as a ${t.kind}: strict decoding error: ${pruned.map((p) => `unknown field "${p}"`).join(", ")}`,
      );
    }
    const causes = validateSchema(t.schema, obj);
    if (causes.length) throw invalid(t.kind, t.group, obj.metadata.name!, causes);
  }

  private afterCreate(t: ResourceType, stored: Stored): void {
    const key = typeKey(t);
    if (key === CRDS) this.establishCrd(stored.obj);
    if (key === QUOTAS) this.scheduleQuota(stored.obj.metadata.namespace!);
  }

  // ---------------------------------------------------------------- update

  /**
   * Replaces an object (PUT) or its status (`subresource === "status"`). Enforces
   * resourceVersion preconditions (409 Conflict), immutable metadata, finalizer rules and
   * per-type update validation. A no-op update returns the stored object unchanged.
   */
  update(
    t: ResourceType,
    ns: string | undefined,
    name: string,
    body: unknown,
    subresource?: string,
    opts: WriteOptions = {},
  ): Stored {
    const incoming = this.decode(t, body, ns);
    if (incoming.metadata.name !== undefined && incoming.metadata.name !== name) {
      throw badRequest(
        `the name of the object (${incoming.metadata.name}) does not match the name on the URL (${name})`,
      );
    }
    const key = typeKey(t);
    const nsKey = t.namespaced ? (ns ?? "") : "";
    const existing = this.store.get(key, nsKey, name);
    if (!existing) {
      if (key === "coordination.k8s.io/leases" && !subresource) {
        incoming.metadata.name = name;
        return this.create(t, ns, incoming, opts);
      }
      throw notFound(t, name);
    }
    const rv = incoming.metadata.resourceVersion;
    if ((rv === undefined || rv === "") && t.crdName) {
      // Custom resources do not allow unconditional updates (kube's CR strategy).
      throw invalid(t.kind, t.group, name, [
        {
          reason: "FieldValueInvalid",
          message: "Invalid value: 0x0: must be specified for an update",
          field: "metadata.resourceVersion",
        },
      ]);
    }
    if (rv !== undefined && rv !== "" && rv !== existing.obj.metadata.resourceVersion) {
      throw conflict(t, name, MODIFIED_MESSAGE);
    }
    return this.replace(t, existing, incoming, subresource, opts);
  }

  private replace(
    t: ResourceType,
    existing: Stored,
    incoming: KubeObject,
    subresource: string | undefined,
    opts: WriteOptions,
  ): Stored {
    const old = existing.obj;
    const key = typeKey(t);
    let next: KubeObject;
    if (subresource === "status") {
      next = clone(existing);
      next.status = incoming.status;
      if (key === NAMESPACES && old.metadata.deletionTimestamp === undefined) {
        (next.status as Record<string, unknown> | undefined) ??= { phase: "Active" };
      }
    } else {
      next = incoming;
      const meta = next.metadata;
      if (meta.uid && meta.uid !== old.metadata.uid) {
        throw conflict(
          t,
          old.metadata.name!,
          `Precondition failed: UID in precondition: ${meta.uid}, UID in object meta: ${old.metadata.uid}`,
        );
      }
      meta.name = old.metadata.name;
      meta.namespace = old.metadata.namespace;
      meta.uid = old.metadata.uid;
      meta.creationTimestamp = old.metadata.creationTimestamp;
      meta.generation = old.metadata.generation;
      if (old.metadata.deletionTimestamp) {
        meta.deletionTimestamp = old.metadata.deletionTimestamp;
        if (old.metadata.deletionGracePeriodSeconds !== undefined) {
          meta.deletionGracePeriodSeconds = old.metadata.deletionGracePeriodSeconds;
        }
      } else {
        delete meta.deletionTimestamp;
        delete meta.deletionGracePeriodSeconds;
      }
      delete meta.managedFields;
      if (Array.isArray(meta.finalizers) && meta.finalizers.length === 0) delete meta.finalizers;
      if (t.statusSubresource) {
        if (old.status === undefined) delete next.status;
        else next.status = old.status;
      }
      if (key === NAMESPACES) next.spec = old.spec;
      if (key === SECRETS) foldStringData(next);
      const causes = validateMetadata(next);
      if (old.metadata.deletionTimestamp) {
        const before = new Set(old.metadata.finalizers ?? []);
        for (const f of meta.finalizers ?? []) {
          if (!before.has(f)) {
            causes.push(
              forbiddenCause(
                "metadata.finalizers",
                'no new finalizers can be added if the object is being deleted, found new finalizers []string{"' +
                  f +
                  '"}',
              ),
            );
          }
        }
      }
      if (key === PODS) causes.push(...validatePodUpdate(old, next));
      if (causes.length) throw invalid(t.kind, t.group, old.metadata.name!, causes);
      if (t.crdName) this.validateCustom(t, next, opts);
      if (key === CRDS) this.validateCrd(next);
      if (specView(old) !== specView(next)) meta.generation = (old.metadata.generation ?? 1) + 1;
    }
    if (t.crdName && subresource === "status") this.validateCustom(t, next, opts);
    next.metadata.resourceVersion = old.metadata.resourceVersion;
    const unchanged =
      subresource === "status"
        ? canonicalJson(next.status ?? null) === canonicalJson(old.status ?? null)
        : withoutRv(next) === withoutRv(old);
    if (unchanged) return existing;
    if (opts.dryRun) return { obj: next, json: JSON.stringify(next) };
    if (
      next.metadata.deletionTimestamp &&
      (next.metadata.finalizers ?? []).length === 0 &&
      !this.gracefulPending(key, next)
    ) {
      return this.commit(t, "DELETED", next);
    }
    const stored = this.commit(t, "MODIFIED", next);
    if (key === CRDS && subresource !== "status") this.establishCrd(stored.obj);
    if (key === QUOTAS) this.scheduleQuota(stored.obj.metadata.namespace!);
    if (next.metadata.deletionTimestamp) this.enqueueGc(next.metadata.uid!);
    return stored;
  }

  /** A pod in graceful deletion stays until the kubelet (or the grace timer) removes it. */
  private gracefulPending(key: string, obj: KubeObject): boolean {
    return key === PODS && (obj.metadata.deletionGracePeriodSeconds ?? 0) > 0;
  }

  /**
   * Patches an object or its status with a JSON merge, JSON or strategic merge patch.
   * Returns the stored result; throws like `update`.
   */
  patch(
    t: ResourceType,
    ns: string | undefined,
    name: string,
    contentType: string,
    body: string,
    subresource?: string,
    opts: WriteOptions = {},
  ): Stored {
    const existing = this.get(t, ns, name);
    const patched = applyPatch(clone(existing), contentType, body, !t.crdName) as KubeObject;
    if (!isObject(patched.metadata)) patched.metadata = {};
    const rv = patched.metadata.resourceVersion;
    if (rv !== undefined && rv !== existing.obj.metadata.resourceVersion) {
      throw conflict(t, name, MODIFIED_MESSAGE);
    }
    patched.metadata.resourceVersion = existing.obj.metadata.resourceVersion;
    const incoming = this.decode(t, patched, ns);
    return this.replace(t, existing, incoming, subresource, opts);
  }

  /** Commits a pod whose `spec.nodeName` was set by the binding subresource. */
  bindPod(pod: KubeObject): Stored {
    const t = this.typeFor(PODS)!;
    return this.commit(t, "MODIFIED", pod);
  }

  // ---------------------------------------------------------------- delete

  /**
   * Deletes an object (DELETE) with kube's semantics: preconditions, graceful pod deletion,
   * finalizers (`deletionTimestamp` set, object kept), `Foreground` and `Orphan` propagation
   * through the `foregroundDeletion`/`orphan` finalizers, namespace termination. Returns the
   * object and whether it is gone.
   */
  delete(t: ResourceType, ns: string | undefined, name: string, options: DeleteOptions = {}): DeleteResult {
    const existing = this.get(t, ns, name);
    const old = existing.obj;
    const pre = options.preconditions;
    if (pre?.uid && pre.uid !== old.metadata.uid) {
      throw conflict(
        t,
        name,
        `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${old.metadata.uid}`,
      );
    }
    if (pre?.resourceVersion && pre.resourceVersion !== old.metadata.resourceVersion) {
      throw conflict(
        t,
        name,
        `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${old.metadata.resourceVersion}`,
      );
    }
    const key = typeKey(t);
    if (options.dryRun) return { stored: existing, deleted: true };
    const next = clone(existing);
    const meta = next.metadata;
    const finalizers = new Set(meta.finalizers ?? []);
    if (key === NAMESPACES) {
      if (!meta.deletionTimestamp) {
        meta.deletionTimestamp = now();
        next.status = { ...(isObject(next.status) ? next.status : {}), phase: "Terminating" };
        const stored = this.commit(t, "MODIFIED", next);
        this.nsQueue.add(name);
        this.schedule();
        return { stored, deleted: false };
      }
      return { stored: existing, deleted: false };
    }
    const policy = options.propagationPolicy;
    if (policy === "Foreground") finalizers.add(FOREGROUND);
    if (policy === "Orphan") finalizers.add(ORPHAN);
    if (key === PODS) {
      const grace = this.podGrace(old, options.gracePeriodSeconds);
      if (grace > 0) {
        const currentGrace = meta.deletionGracePeriodSeconds;
        if (
          currentGrace !== undefined &&
          currentGrace <= grace &&
          finalizers.size === (meta.finalizers ?? []).length
        ) {
          return { stored: existing, deleted: false };
        }
        meta.deletionTimestamp = new Date(Date.now() + grace * 1000).toISOString().replace(/\.\d+Z$/, "Z");
        meta.deletionGracePeriodSeconds = grace;
        if (finalizers.size) meta.finalizers = [...finalizers];
        const stored = this.commit(t, "MODIFIED", next);
        this.armGraceTimer(t, stored.obj, grace);
        this.enqueueGc(meta.uid!);
        return { stored, deleted: false };
      }
      meta.deletionGracePeriodSeconds = 0;
    }
    if (finalizers.size > 0) {
      const changed = !meta.deletionTimestamp || finalizers.size !== (meta.finalizers ?? []).length;
      if (!changed && key !== PODS) return { stored: existing, deleted: false };
      meta.deletionTimestamp ??= now();
      meta.finalizers = [...finalizers];
      const stored = this.commit(t, "MODIFIED", next);
      this.enqueueGc(meta.uid!);
      return { stored, deleted: false };
    }
    const stored = this.commit(t, "DELETED", next);
    return { stored, deleted: true };
  }

  private podGrace(pod: KubeObject, requested: number | undefined): number {
    const spec = isObject(pod.spec) ? pod.spec : {};
    const status = isObject(pod.status) ? pod.status : {};
    if (!spec.nodeName) return 0;
    if (status.phase === "Succeeded" || status.phase === "Failed") return 0;
    const grace =
      requested ??
      (typeof spec.terminationGracePeriodSeconds === "number" ? spec.terminationGracePeriodSeconds : 30);
    return Math.max(0, grace);
  }

  /**
   * Backstop for graceful pod deletion: when no kubelet confirms within the grace period (plus
   * a small margin), the server removes the pod itself.
   */
  private armGraceTimer(t: ResourceType, pod: KubeObject, grace: number): void {
    const { namespace, name, uid } = pod.metadata;
    const timer = setTimeout(
      () => {
        this.timers.delete(timer);
        const current = this.store.get(PODS, namespace!, name!);
        if (!current || current.obj.metadata.uid !== uid) return;
        try {
          this.delete(t, namespace, name!, { gracePeriodSeconds: 0 });
        } catch {
          return;
        }
      },
      grace * 1000 + 2000,
    );
    timer.unref();
    this.timers.add(timer);
  }

  /**
   * Deletes every object matching the selectors in a namespace (DELETE on a collection).
   * Returns the objects as last stored.
   */
  deleteCollection(
    t: ResourceType,
    ns: string | undefined,
    label: LabelSelector,
    field: FieldSelector,
    options: DeleteOptions,
  ): Stored[] {
    const out: Stored[] = [];
    for (const s of this.list(t, ns, label, field, undefined, undefined).items) {
      try {
        out.push(this.delete(t, s.obj.metadata.namespace, s.obj.metadata.name!, options).stored);
      } catch (err) {
        if (err instanceof ApiError && err.code === 404) continue;
        throw err;
      }
    }
    return out;
  }

  // ---------------------------------------------------------------- commit + tracking

  private commit(t: ResourceType, type: "ADDED" | "MODIFIED" | "DELETED", obj: KubeObject): Stored {
    try {
      return this.store.commit(typeKey(t), type, obj);
    } catch (err) {
      if (err instanceof ObjectTooLargeError) throw etcdTooLarge();
      throw err;
    }
  }

  /** Keeps the uid and owner indexes, quota usage and controller queues in step with writes. */
  private track(e: ChangeEvent): void {
    const id = objId(e.typeKey, e.namespace, e.obj.metadata.name!);
    const uid = e.obj.metadata.uid!;
    const prevOwners = e.prev?.metadata.ownerReferences ?? [];
    const owners = e.type === "DELETED" ? [] : (e.obj.metadata.ownerReferences ?? []);
    for (const o of prevOwners) {
      const deps = this.dependents.get(o.uid);
      deps?.delete(id);
      if (deps?.size === 0) this.dependents.delete(o.uid);
    }
    for (const o of owners) {
      let deps = this.dependents.get(o.uid);
      if (!deps) {
        deps = new Map();
        this.dependents.set(o.uid, deps);
      }
      deps.set(id, { key: e.typeKey, ns: e.namespace, name: e.obj.metadata.name! });
    }
    if (e.type === "DELETED") {
      if (e.typeKey === CRDS) {
        this.crdCleanup.push(e.obj);
        this.schedule();
      }
      this.uids.delete(uid);
      if (this.dependents.get(uid)?.size) this.enqueueGc(uid);
      for (const o of prevOwners) this.enqueueGc(o.uid);
      if (e.namespace) {
        const nsObj = this.store.get(NAMESPACES, "", e.namespace);
        if (nsObj?.obj.metadata.deletionTimestamp) {
          this.nsQueue.add(e.namespace);
          this.schedule();
        }
      }
    } else {
      this.uids.set(uid, id);
      if (e.type === "ADDED" && owners.some((o) => !this.uids.has(o.uid))) this.enqueueGcFor(id);
    }
    if (e.typeKey === PODS) {
      let usage = this.quotaUsage.get(e.namespace);
      if (!usage) {
        usage = new Map();
        this.quotaUsage.set(e.namespace, usage);
      }
      if (podCounts(e.prev)) addUsage(usage, podUsage(e.prev!), -1);
      if (e.type !== "DELETED" && podCounts(e.obj)) addUsage(usage, podUsage(e.obj), 1);
    }
    if (
      e.typeKey !== QUOTAS &&
      e.namespace &&
      this.store.count(QUOTAS, e.namespace) > 0 &&
      e.type !== "MODIFIED"
    ) {
      this.scheduleQuota(e.namespace);
    } else if (e.typeKey === PODS && e.type === "MODIFIED" && podCounts(e.prev) !== podCounts(e.obj)) {
      if (this.store.count(QUOTAS, e.namespace) > 0) this.scheduleQuota(e.namespace);
    }
  }

  private enqueueGc(uid: string): void {
    this.gcQueue.add(uid);
    this.schedule();
  }

  private enqueueGcFor(dependentId: string): void {
    this.gcQueue.add(`dep:${dependentId}`);
    this.schedule();
  }

  private scheduleQuota(ns: string): void {
    this.quotaQueue.add(ns);
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled || this.stopped) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (this.stopped) return;
      this.runControllers();
    });
  }

  private runControllers(): void {
    for (const crd of this.crdCleanup.splice(0)) this.safely(() => this.onCrdDeleted(crd));
    for (let round = 0; round < 100 && (this.gcQueue.size || this.nsQueue.size); round++) {
      const gc = [...this.gcQueue];
      this.gcQueue.clear();
      for (const item of gc) this.safely(() => this.processGc(item));
      const nss = [...this.nsQueue];
      this.nsQueue.clear();
      for (const ns of nss) this.safely(() => this.processNamespace(ns));
    }
    const quotas = [...this.quotaQueue];
    this.quotaQueue.clear();
    for (const ns of quotas) this.safely(() => this.syncQuotaStatus(ns));
    if (this.gcQueue.size || this.nsQueue.size) this.schedule();
  }

  /** Runs a controller step; expected races (404/409) are ignored, anything else reported. */
  private safely(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      if (err instanceof ApiError && (err.code === 404 || err.code === 409)) return;
      this.onError(err);
    }
  }

  private typeFor(key: string): ResourceType | undefined {
    return this.types.versionsOf(key)[0];
  }

  private lookup(id: string): Stored | undefined {
    const [key, ns, name] = id.split("|") as [string, string, string];
    return this.store.get(key, ns, name);
  }

  /**
   * Garbage collector step for one uid: an owner that is gone gets its dependents deleted (or
   * its reference removed when they have other live owners); an owner being deleted in the
   * foreground gets its dependents deleted and loses `foregroundDeletion` once none remain; an
   * owner with the `orphan` finalizer has its references removed from dependents.
   */
  private processGc(item: string): void {
    if (item.startsWith("dep:")) {
      const dep = this.lookup(item.slice(4));
      if (dep) this.collectDependent(dep);
      return;
    }
    const uid = item;
    const ownerId = this.uids.get(uid);
    const deps = [...(this.dependents.get(uid)?.values() ?? [])];
    if (!ownerId) {
      this.dependents.delete(uid);
      for (const d of deps) {
        const dep = this.store.get(d.key, d.ns, d.name);
        if (dep) this.collectDependent(dep);
      }
      return;
    }
    const owner = this.lookup(ownerId);
    if (!owner || !owner.obj.metadata.deletionTimestamp) return;
    const finalizers = owner.obj.metadata.finalizers ?? [];
    const ownerType = this.typeFor(ownerId.split("|")[0])!;
    if (finalizers.includes(ORPHAN)) {
      for (const d of deps) {
        const dep = this.store.get(d.key, d.ns, d.name);
        if (dep) this.removeOwnerRef(dep, uid);
      }
      this.removeFinalizer(ownerType, owner, ORPHAN);
      return;
    }
    if (finalizers.includes(FOREGROUND)) {
      const remaining = deps.filter((d) => this.store.get(d.key, d.ns, d.name));
      for (const d of remaining) {
        const dep = this.store.get(d.key, d.ns, d.name)!;
        if (dep.obj.metadata.deletionTimestamp) continue;
        const depType = this.typeFor(d.key);
        if (depType) this.delete(depType, d.ns || undefined, d.name, { propagationPolicy: "Foreground" });
      }
      // The owner waits only for dependents that block it (blockOwnerDeletion: true).
      const blocking = deps.filter((d) => {
        const dep = this.store.get(d.key, d.ns, d.name);
        return dep?.obj.metadata.ownerReferences?.some((r) => r.uid === uid && r.blockOwnerDeletion === true);
      });
      if (blocking.length === 0) this.removeFinalizer(ownerType, owner, FOREGROUND);
    }
  }

  private collectDependent(dep: Stored): void {
    const refs = dep.obj.metadata.ownerReferences ?? [];
    if (refs.length === 0) return;
    const live = refs.filter((r) => this.uids.has(r.uid));
    const depType = this.typeForObject(dep.obj);
    if (!depType) return;
    if (live.length === 0) {
      if (!dep.obj.metadata.deletionTimestamp) {
        this.delete(depType, dep.obj.metadata.namespace, dep.obj.metadata.name!, {
          propagationPolicy: "Background",
        });
      }
      return;
    }
    if (live.length < refs.length) {
      const next = clone(dep);
      next.metadata.ownerReferences = live;
      this.replace(depType, dep, next, undefined, {});
    }
  }

  private typeForObject(obj: KubeObject): ResourceType | undefined {
    const [g, v] = obj.apiVersion?.includes("/") ? obj.apiVersion.split("/") : ["", obj.apiVersion];
    return this.types.all().find((t) => t.group === g && t.version === v && t.kind === obj.kind);
  }

  private removeOwnerRef(dep: Stored, uid: string): void {
    const depType = this.typeForObject(dep.obj);
    if (!depType) return;
    const next = clone(dep);
    next.metadata.ownerReferences = (next.metadata.ownerReferences ?? []).filter((r) => r.uid !== uid);
    if (next.metadata.ownerReferences.length === 0) delete next.metadata.ownerReferences;
    this.replace(depType, dep, next, undefined, {});
  }

  private removeFinalizer(t: ResourceType, s: Stored, finalizer: string): void {
    const next = clone(s);
    next.metadata.finalizers = (next.metadata.finalizers ?? []).filter((f) => f !== finalizer);
    if (next.metadata.finalizers.length === 0) delete next.metadata.finalizers;
    this.replace(t, s, next, undefined, {});
  }

  /**
   * Namespace controller step: deletes everything in a terminating namespace; once it is
   * empty, drops the `kubernetes` finalizer and removes the namespace.
   */
  private processNamespace(name: string): void {
    const nsStored = this.store.get(NAMESPACES, "", name);
    if (!nsStored?.obj.metadata.deletionTimestamp) return;
    for (const key of this.store.typeKeys()) {
      if (key === NAMESPACES) continue;
      const t = this.typeFor(key);
      if (!t?.namespaced) continue;
      for (const s of [...this.store.iterate(key, name)]) {
        if (s.obj.metadata.deletionTimestamp) continue;
        this.safely(() => this.delete(t, name, s.obj.metadata.name!, { propagationPolicy: "Background" }));
      }
    }
    let left = 0;
    for (const key of this.store.typeKeys()) if (key !== NAMESPACES) left += this.store.count(key, name);
    if (left > 0) return;
    const nsType = this.typeFor(NAMESPACES)!;
    const next = clone(nsStored);
    const spec = isObject(next.spec) ? next.spec : {};
    spec.finalizers = (Array.isArray(spec.finalizers) ? spec.finalizers : []).filter(
      (f) => f !== NAMESPACE_FINALIZER,
    );
    next.spec = spec;
    if ((next.metadata.finalizers ?? []).length === 0) {
      this.commit(nsType, "DELETED", next);
      this.quotaUsage.delete(name);
    } else if (canonicalJson(next.spec) !== canonicalJson(nsStored.obj.spec)) {
      this.commit(nsType, "MODIFIED", next);
    }
  }

  // ---------------------------------------------------------------- quota

  private quotasIn(ns: string): Stored[] {
    return [...this.store.iterate(QUOTAS, ns)];
  }

  private admitPodQuota(t: ResourceType, pod: KubeObject): void {
    const ns = pod.metadata.namespace!;
    const quotas = this.quotasIn(ns);
    if (quotas.length === 0) return;
    const requested = podUsage(pod);
    const used = this.quotaUsage.get(ns) ?? new Map<string, number>();
    for (const q of quotas) {
      const hard = parseHard(q.obj);
      const spec = isObject(q.obj.spec) && isObject(q.obj.spec.hard) ? q.obj.spec.hard : {};
      const missing = missingSpecs(pod, spec);
      if (missing.length) {
        throw forbidden(
          t,
          pod.metadata.name!,
          `failed quota: ${q.obj.metadata.name}: must specify ${missing.join("; ")}`,
        );
      }
      const exceeded: string[] = [];
      for (const [res, limit] of hard) {
        const key = res === "count/pods" ? "pods" : res;
        const req = requested.get(key);
        if (req === undefined) continue;
        if ((used.get(key) ?? 0) + req > limit) exceeded.push(res);
      }
      if (exceeded.length) {
        exceeded.sort();
        const fmt = (f: (r: string) => number): string =>
          exceeded.map((r) => `${r}=${formatUsage(r, f(r))}`).join(",");
        const keyOf = (r: string): string => (r === "count/pods" ? "pods" : r);
        throw forbidden(
          t,
          pod.metadata.name!,
          `exceeded quota: ${q.obj.metadata.name}, requested: ${fmt((r) => requested.get(keyOf(r)) ?? 0)}, used: ${fmt((r) => used.get(keyOf(r)) ?? 0)}, limited: ${fmt((r) => hard.get(r) ?? 0)}`,
        );
      }
    }
  }

  private countKey(t: ResourceType): string {
    return t.group ? `count/${t.resource}.${t.group}` : `count/${t.resource}`;
  }

  private admitCountQuota(t: ResourceType, obj: KubeObject): void {
    if (!t.namespaced || typeKey(t) === PODS) return;
    const ns = obj.metadata.namespace!;
    if (this.store.count(QUOTAS, ns) === 0) return;
    const countKey = this.countKey(t);
    const plainKey =
      !t.group &&
      ["configmaps", "secrets", "services", "persistentvolumeclaims", "resourcequotas"].includes(t.resource)
        ? t.resource
        : undefined;
    const used = this.store.count(typeKey(t), ns);
    for (const q of this.quotasIn(ns)) {
      const hard = parseHard(q.obj);
      for (const res of [countKey, plainKey]) {
        if (!res || !hard.has(res)) continue;
        const limit = hard.get(res)!;
        if ((used + 1) * 1000 > limit) {
          throw forbidden(
            t,
            obj.metadata.name!,
            `exceeded quota: ${q.obj.metadata.name}, requested: ${res}=1, used: ${res}=${used}, limited: ${res}=${formatUsage(res, limit)}`,
          );
        }
      }
    }
  }

  /** Quota controller step: recomputes `status.hard`/`status.used` of every quota in a namespace. */
  private syncQuotaStatus(ns: string): void {
    const quotaType = this.typeFor(QUOTAS)!;
    for (const q of this.quotasIn(ns)) {
      const hard = parseHard(q.obj);
      const podUsed = this.quotaUsage.get(ns) ?? new Map<string, number>();
      const used: Record<string, string> = {};
      for (const res of hard.keys()) {
        let milli: number;
        if (
          res === "pods" ||
          res === "count/pods" ||
          res.startsWith("requests.") ||
          res.startsWith("limits.")
        ) {
          milli = podUsed.get(res === "count/pods" ? "pods" : res) ?? 0;
        } else if (res.startsWith("count/")) {
          const [resource, ...group] = res.slice(6).split(".");
          milli = this.store.count(`${group.join(".")}/${resource}`, ns) * 1000;
        } else {
          milli = this.store.count(`/${res}`, ns) * 1000;
        }
        used[res] = formatUsage(res, Math.max(0, milli));
      }
      const spec = isObject(q.obj.spec) && isObject(q.obj.spec.hard) ? q.obj.spec.hard : {};
      const status = { hard: spec, used };
      if (canonicalJson(status) === canonicalJson(q.obj.status ?? null)) continue;
      const next = clone(q);
      next.status = status;
      this.replace(quotaType, q, next, "status", {});
    }
  }

  // ---------------------------------------------------------------- CRDs

  private validateCrd(obj: KubeObject): void {
    const name = obj.metadata.name ?? "";
    const spec = isObject(obj.spec) ? obj.spec : undefined;
    const causes: StatusCause[] = [];
    if (!spec) {
      throw invalid("CustomResourceDefinition", "apiextensions.k8s.io", name, [requiredCause("spec")]);
    }
    const names = isObject(spec.names) ? spec.names : {};
    if (typeof spec.group !== "string" || !spec.group) causes.push(requiredCause("spec.group"));
    if (typeof names.plural !== "string" || !names.plural) causes.push(requiredCause("spec.names.plural"));
    if (typeof names.kind !== "string" || !names.kind) causes.push(requiredCause("spec.names.kind"));
    if (spec.scope !== "Namespaced" && spec.scope !== "Cluster") {
      causes.push({
        reason: "FieldValueNotSupported",
        message: `Unsupported value: ${JSON.stringify(spec.scope ?? "")}: supported values: "Cluster", "Namespaced"`,
        field: "spec.scope",
      });
    }
    const versions = Array.isArray(spec.versions) ? spec.versions : [];
    if (versions.length === 0)
      causes.push(requiredCause("spec.versions", "must have exactly one version marked as storage version"));
    if (versions.filter((v) => isObject(v) && v.storage === true).length !== 1 && versions.length > 0) {
      causes.push(
        invalidCause(
          "spec.versions",
          versions.map((v) => (isObject(v) ? v.name : v)),
          "must have exactly one version marked as storage version",
        ),
      );
    }
    if (
      typeof spec.group === "string" &&
      typeof names.plural === "string" &&
      name !== `${names.plural}.${spec.group}`
    ) {
      causes.push(invalidCause("metadata.name", name, `must be spec.names.plural+"."+spec.group`));
    }
    if (causes.length) throw invalid("CustomResourceDefinition", "apiextensions.k8s.io", name, causes);
  }

  /** Registers a CRD's served versions and marks it Established + NamesAccepted. */
  private establishCrd(crd: KubeObject): void {
    const spec = crd.spec as Record<string, unknown>;
    const names = spec.names as Record<string, unknown>;
    const group = spec.group as string;
    const plural = names.plural as string;
    this.types.remove(group, plural);
    const versions = (spec.versions as Record<string, unknown>[]).slice();
    versions.sort((a, b) => (a.storage === true ? -1 : b.storage === true ? 1 : 0));
    for (const v of versions) {
      if (v.served === false) continue;
      const schema =
        isObject(v.schema) && isObject(v.schema.openAPIV3Schema)
          ? (v.schema.openAPIV3Schema as JsonSchema)
          : undefined;
      const sub = isObject(v.subresources) ? v.subresources : {};
      this.types.add({
        group,
        version: v.name as string,
        resource: plural,
        kind: names.kind as string,
        listKind: (names.listKind as string | undefined) ?? `${names.kind as string}List`,
        singular: (names.singular as string | undefined) ?? (names.kind as string).toLowerCase(),
        namespaced: spec.scope === "Namespaced",
        shortNames: Array.isArray(names.shortNames) ? (names.shortNames as string[]) : [],
        categories: Array.isArray(names.categories) ? (names.categories as string[]) : [],
        statusSubresource: "status" in sub,
        schema,
        printerColumns: Array.isArray(v.additionalPrinterColumns)
          ? (v.additionalPrinterColumns as never[])
          : [],
        crdName: crd.metadata.name,
      });
    }
    const storage = versions.find((v) => v.storage === true)?.name as string | undefined;
    const ts = now();
    const status = {
      conditions: [
        {
          type: "NamesAccepted",
          status: "True",
          lastTransitionTime: ts,
          reason: "NoConflicts",
          message: "no conflicts found",
        },
        {
          type: "Established",
          status: "True",
          lastTransitionTime: ts,
          reason: "InitialNamesAccepted",
          message: "the initial names have been accepted",
        },
      ],
      acceptedNames: {
        plural,
        singular: names.singular ?? (names.kind as string).toLowerCase(),
        kind: names.kind,
        listKind: names.listKind ?? `${names.kind as string}List`,
        ...(names.shortNames ? { shortNames: names.shortNames } : {}),
        ...(names.categories ? { categories: names.categories } : {}),
      },
      storedVersions: storage ? [storage] : [],
    };
    const current = this.store.get(CRDS, "", crd.metadata.name!);
    if (!current) return;
    const prevStatus = isObject(current.obj.status) ? current.obj.status : {};
    if (Array.isArray(prevStatus.conditions) && prevStatus.conditions.length > 0) {
      const prevStored = Array.isArray(prevStatus.storedVersions)
        ? (prevStatus.storedVersions as string[])
        : [];
      status.storedVersions = [...new Set([...prevStored, ...status.storedVersions])];
      status.conditions = prevStatus.conditions as typeof status.conditions;
    }
    if (canonicalJson(status) === canonicalJson(prevStatus)) return;
    const next = clone(current);
    next.status = status;
    this.commit(this.typeFor(CRDS)!, "MODIFIED", next);
  }

  /** Removes a deleted CRD's type and every instance of it. */
  private onCrdDeleted(crd: KubeObject): void {
    const spec = crd.spec as Record<string, unknown>;
    const group = spec.group as string;
    const plural = (spec.names as Record<string, unknown>).plural as string;
    const key = `${group}/${plural}`;
    const t = this.typeFor(key);
    if (t) {
      for (const s of [...this.store.iterate(key, undefined)]) {
        const next = clone(s);
        this.commit(t, "DELETED", next);
      }
    }
    this.types.remove(group, plural);
    this.store.closeWatchers(key);
  }
}

/** Secrets: `stringData` is write-only; kube merges it into `data` (base64) on every write. */
function foldStringData(secret: KubeObject): void {
  const stringData = secret.stringData;
  if (!isObject(stringData)) return;
  const data = isObject(secret.data) ? secret.data : {};
  for (const [k, v] of Object.entries(stringData)) {
    if (typeof v === "string") data[k] = Buffer.from(v, "utf8").toString("base64");
  }
  secret.data = data;
  delete secret.stringData;
}

/** Kube's QoS class of a pod from its requests and limits. */
function qosClass(pod: KubeObject): string {
  const spec = pod.spec as Record<string, unknown>;
  const containers = (spec.containers as Record<string, unknown>[]) ?? [];
  let anySet = false;
  let guaranteed = true;
  for (const c of containers) {
    const res = isObject(c.resources) ? c.resources : {};
    const req = isObject(res.requests) ? res.requests : {};
    const lim = isObject(res.limits) ? res.limits : {};
    if (Object.keys(req).length || Object.keys(lim).length) anySet = true;
    for (const r of ["cpu", "memory"]) {
      if (lim[r] === undefined) guaranteed = false;
      else if (req[r] !== undefined && req[r] !== lim[r]) guaranteed = false;
    }
  }
  if (!anySet) return "BestEffort";
  return guaranteed ? "Guaranteed" : "Burstable";
}
