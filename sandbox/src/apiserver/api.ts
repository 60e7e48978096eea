/**
 * The resource semantics of kube-apiserver over the object store: the verbs create/get/list/
 * update/patch/delete with admission (namespace lifecycle, ResourceQuota), optimistic
 * concurrency, generation, status subresources, finalizers and graceful pod deletion. The
 * controllers that act after a write (garbage collector, namespace, quota status, CRD
 * establishment and removal) live in `controllers/`, fed by the store's change events.
 */
import { randomUUID } from "node:crypto";
import { createLogger, type Logger } from "@flotilla/runtime";
import {
  ApiError,
  MODIFIED_MESSAGE,
  alreadyExists,
  badRequest,
  conflict,
  etcdTooLarge,
  forbiddenCause,
  invalid,
  notFound,
  requiredCause,
} from "./errors.js";
import type { ControllerHost } from "./controllers/controller-host.js";
import { ControllerLoop } from "./controllers/controller-loop.js";
import { CRDS, CrdController } from "./controllers/crd.js";
import { FOREGROUND_FINALIZER, GarbageCollector, ORPHAN_FINALIZER } from "./controllers/garbage-collector.js";
import { NAMESPACES, NAMESPACE_FINALIZER, NamespaceController } from "./controllers/namespace.js";
import { QUOTAS, ResourceQuotaController } from "./controllers/resource-quota.js";
import { defaultPod, foldStringData } from "./defaults.js";
import { clone, isObject, jsonEqual, kubeTime } from "./objects.js";
import { applyPatch } from "./patch.js";
import { type ResourceType, TypeRegistry, builtinTypes, groupVersion, typeKey } from "./registry.js";
import { defaultAndPrune, validateSchema } from "./schema.js";
import { type FieldSelector, type LabelSelector } from "./selectors.js";
import { type EventType, type KubeObject, ObjectStore, ObjectTooLargeError, type Stored } from "./store.js";
import { validateMetadata, validateName, validatePodSpec, validatePodUpdate } from "./validation.js";

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
  /** `status` writes only the status subresource (update and patch). */
  subresource?: string;
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
  /** Receives unexpected controller failures (default: a `sandbox-apiserver` logger on stderr). */
  logger?: Logger;
}

const PODS = "/pods";
const SECRETS = "/secrets";
const LEASES = "coordination.k8s.io/leases";
const GENERATE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789";

/** Whether two versions of an object differ only in resourceVersion and managedFields. */
function sameButRv(a: KubeObject, b: KubeObject): boolean {
  const { resourceVersion: _ra, managedFields: _ma, ...metaA } = a.metadata;
  const { resourceVersion: _rb, managedFields: _mb, ...metaB } = b.metadata;
  return jsonEqual({ ...a, metadata: metaA }, { ...b, metadata: metaB });
}

/** Whether two versions of an object have the same spec (everything but metadata and status). */
function sameSpec(a: KubeObject, b: KubeObject): boolean {
  const { metadata: _ma, status: _sa, ...restA } = a;
  const { metadata: _mb, status: _sb, ...restB } = b;
  return jsonEqual(restA, restB);
}

/**
 * One cluster's API semantics. Every verb is synchronous and commits before returning; the
 * controllers run after it (one pass per event-loop turn), graceful pod deletion's backstop on
 * a timer.
 */
export class ClusterApi {
  readonly store: ObjectStore;
  readonly types: TypeRegistry;
  private readonly loop: ControllerLoop;
  private readonly namespaces: NamespaceController;
  private readonly quotas: ResourceQuotaController;
  private readonly crds: CrdController;
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(options: ClusterApiOptions) {
    this.store = new ObjectStore(options);
    this.types = new TypeRegistry(builtinTypes());
    this.loop = new ControllerLoop(options.logger ?? createLogger({ component: "sandbox-apiserver" }));
    const host = this.controllerHost();
    this.crds = new CrdController(host, this.loop);
    this.namespaces = new NamespaceController(host, this.loop);
    this.quotas = new ResourceQuotaController(host, this.loop);
    this.loop.setPhases({
      cleanup: [this.crds],
      converge: [new GarbageCollector(host, this.loop), this.namespaces],
      status: [this.quotas],
    });
    this.bootstrap();
  }

  /** The write paths controllers use: the verbs' own, without client admission. */
  private controllerHost(): ControllerHost {
    return {
      store: this.store,
      types: this.types,
      typeFor: (key) => this.typeFor(key),
      delete: (t, ns, name, options) => this.delete(t, ns, name, options),
      replace: (t, existing, next, subresource) => this.replace(t, existing, next, { subresource }),
      commit: (t, type, obj) => this.commit(t, type, obj),
    };
  }

  private bootstrap(): void {
    const nsType = this.types.get("", "v1", "namespaces")!;
    for (const name of ["default", "kube-system", "kube-public", "kube-node-lease"]) {
      this.create(nsType, undefined, { apiVersion: "v1", kind: "Namespace", metadata: { name } });
    }
  }

  /** Stops the controllers and the graceful-deletion timers. */
  stop(): void {
    this.loop.stop();
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
    if (t.namespaced) this.namespaces.admit(t, meta.namespace!, meta.name);
    const key = typeKey(t);
    if (this.store.get(key, meta.namespace ?? "", meta.name)) throw alreadyExists(t, meta.name);

    meta.uid = randomUUID();
    meta.creationTimestamp = kubeTime();
    meta.generation = 1;
    delete meta.deletionTimestamp;
    delete meta.deletionGracePeriodSeconds;
    delete meta.resourceVersion;
    delete meta.managedFields;
    if (Array.isArray(meta.finalizers) && meta.finalizers.length === 0) delete meta.finalizers;
    this.prepareForCreate(t, obj, opts);
    this.quotas.admit(t, obj);
    if (opts.dryRun) return { obj, json: JSON.stringify(obj) };
    const stored = this.commit(t, "ADDED", obj);
    if (key === CRDS) this.crds.establish(stored.obj);
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
      defaultPod(obj);
    } else if (key === QUOTAS) {
      delete obj.status;
    } else if (key === SECRETS) {
      foldStringData(obj);
    } else if (key === CRDS) {
      this.crds.validate(obj);
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

  // ---------------------------------------------------------------- update

  /**
   * Replaces an object (PUT) or its status (`opts.subresource` "status"). Enforces
   * resourceVersion preconditions (409 Conflict), immutable metadata, finalizer rules and
   * per-type update validation. A no-op update returns the stored object unchanged.
   */
  update(
    t: ResourceType,
    ns: string | undefined,
    name: string,
    body: unknown,
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
      if (key === LEASES && !opts.subresource) {
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
    return this.replace(t, existing, incoming, opts);
  }

  private replace(t: ResourceType, existing: Stored, incoming: KubeObject, opts: WriteOptions): Stored {
    const { subresource } = opts;
    const old = existing.obj;
    const key = typeKey(t);
    let next: KubeObject;
    if (subresource === "status") {
      // Stored objects are never mutated, so the new version shares everything but metadata
      // (its resourceVersion is written) and status with the old one; custom resources are
      // copied whole, since defaulting and pruning below may rewrite any field.
      next = t.crdName ? clone(existing) : { ...old, metadata: { ...old.metadata } };
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
      if (key === CRDS) this.crds.validate(next);
      if (!sameSpec(old, next)) meta.generation = (old.metadata.generation ?? 1) + 1;
    }
    if (t.crdName && subresource === "status") this.validateCustom(t, next, opts);
    next.metadata.resourceVersion = old.metadata.resourceVersion;
    const unchanged =
      subresource === "status" ? jsonEqual(next.status ?? null, old.status ?? null) : sameButRv(next, old);
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
    if (key === CRDS && subresource !== "status") this.crds.establish(stored.obj);
    return stored;
  }

  /** A pod in graceful deletion stays until the kubelet (or the grace timer) removes it. */
  private gracefulPending(key: string, obj: KubeObject): boolean {
    return key === PODS && (obj.metadata.deletionGracePeriodSeconds ?? 0) > 0;
  }

  /**
   * Patches an object or its status (`opts.subresource` "status") with a JSON merge, JSON or
   * strategic merge patch (`contentType`). Returns the stored result; throws like `update`.
   */
  patch(
    t: ResourceType,
    ns: string | undefined,
    name: string,
    contentType: string,
    body: string,
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
    return this.replace(t, existing, incoming, opts);
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
        meta.deletionTimestamp = kubeTime();
        next.status = { ...(isObject(next.status) ? next.status : {}), phase: "Terminating" };
        const stored = this.commit(t, "MODIFIED", next);
        return { stored, deleted: false };
      }
      return { stored: existing, deleted: false };
    }
    const policy = options.propagationPolicy;
    if (policy === "Foreground") finalizers.add(FOREGROUND_FINALIZER);
    if (policy === "Orphan") finalizers.add(ORPHAN_FINALIZER);
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
        meta.deletionTimestamp = kubeTime(new Date(Date.now() + grace * 1000));
        meta.deletionGracePeriodSeconds = grace;
        if (finalizers.size) meta.finalizers = [...finalizers];
        const stored = this.commit(t, "MODIFIED", next);
        this.armGraceTimer(t, stored.obj, grace);
        return { stored, deleted: false };
      }
      meta.deletionGracePeriodSeconds = 0;
    }
    if (finalizers.size > 0) {
      const changed = !meta.deletionTimestamp || finalizers.size !== (meta.finalizers ?? []).length;
      if (!changed && key !== PODS) return { stored: existing, deleted: false };
      meta.deletionTimestamp ??= kubeTime();
      meta.finalizers = [...finalizers];
      const stored = this.commit(t, "MODIFIED", next);
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

  // ---------------------------------------------------------------- commit

  /** Commits through the store; the store's size limit answers as etcd does (500). */
  private commit(t: ResourceType, type: EventType, obj: KubeObject): Stored {
    try {
      return this.store.commit(typeKey(t), type, obj);
    } catch (err) {
      if (err instanceof ObjectTooLargeError) throw etcdTooLarge();
      throw err;
    }
  }

  /** Keeps the uid and owner indexes, quota usage and controller queues in step with writes. */
  private typeFor(key: string): ResourceType | undefined {
    return this.types.versionsOf(key)[0];
  }
}
