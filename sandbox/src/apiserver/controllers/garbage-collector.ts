/**
 * The garbage collector (kube-controller-manager's): keeps an index of owners and their
 * dependents from store change events and, once per controller pass, acts for every owner
 * that changed:
 *
 *   owner gone                      ─▶ dependents whose owners are all gone are deleted;
 *                                      the dangling reference is removed where others live
 *   owner deleting, `orphan`        ─▶ its references are removed from the dependents, then
 *                                      the `orphan` finalizer (the owner goes)
 *   owner deleting, `foreground...` ─▶ dependents deleted in the foreground; once no dependent
 *                                      with blockOwnerDeletion remains, the finalizer goes
 *
 * A dependent created with an owner that does not exist is collected like one whose owner went.
 */
import { clone } from "../objects.js";
import type { ResourceType } from "../registry.js";
import type { ChangeEvent, KubeObject, Stored } from "../store.js";
import type { ControllerHost } from "./controller-host.js";
import type { ControllerLoop } from "./controller-loop.js";
import { Controller } from "./controller.js";

/** The finalizer of a `Foreground` delete: the owner waits for its dependents. */
export const FOREGROUND_FINALIZER = "foregroundDeletion";
/** The finalizer of an `Orphan` delete: dependents lose the owner reference instead. */
export const ORPHAN_FINALIZER = "orphan";

interface ObjectRef {
  key: string;
  ns: string;
  name: string;
}

/** The garbage collector of one cluster. */
export class GarbageCollector extends Controller<string> {
  /** owner uid → dependent id → where the dependent is stored. */
  private readonly dependents = new Map<string, Map<string, ObjectRef>>();
  /** uid → id of every live object. */
  private readonly uids = new Map<string, string>();
  /** Subscribes to the host's store; passes run on `loop`. */
  constructor(host: ControllerHost, loop: ControllerLoop) {
    super(host, loop, "garbage-collector");
  }

  /** Keeps the uid and owner indexes in step with a committed change and queues the owners it concerns. */
  protected observe(e: ChangeEvent): void {
    const id = objectId(e.typeKey, e.namespace, e.obj.metadata.name!);
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
      this.uids.delete(uid);
      if (this.dependents.get(uid)?.size) this.enqueue(uid);
      for (const o of prevOwners) this.enqueue(o.uid);
      return;
    }
    this.uids.set(uid, id);
    if (e.type === "ADDED" && owners.some((o) => !this.uids.has(o.uid))) this.enqueue(`dep:${id}`);
    if (e.type === "MODIFIED" && e.obj.metadata.deletionTimestamp) this.enqueue(uid);
  }

  protected process(item: string): void {
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
        const dep = this.host.store.get(d.key, d.ns, d.name);
        if (dep) this.collectDependent(dep);
      }
      return;
    }
    const owner = this.lookup(ownerId);
    if (!owner || !owner.obj.metadata.deletionTimestamp) return;
    const finalizers = owner.obj.metadata.finalizers ?? [];
    const ownerType = this.host.typeFor(ownerId.split("|")[0])!;
    if (finalizers.includes(ORPHAN_FINALIZER)) {
      for (const d of deps) {
        const dep = this.host.store.get(d.key, d.ns, d.name);
        if (dep) this.removeOwnerRef(dep, uid);
      }
      this.removeFinalizer(ownerType, owner, ORPHAN_FINALIZER);
      return;
    }
    if (finalizers.includes(FOREGROUND_FINALIZER)) {
      for (const d of deps) {
        const dep = this.host.store.get(d.key, d.ns, d.name);
        if (!dep || dep.obj.metadata.deletionTimestamp) continue;
        const depType = this.host.typeFor(d.key);
        if (depType)
          this.host.delete(depType, d.ns || undefined, d.name, { propagationPolicy: "Foreground" });
      }
      // The owner waits only for dependents that block it (blockOwnerDeletion: true).
      const blocking = deps.filter((d) => {
        const dep = this.host.store.get(d.key, d.ns, d.name);
        return dep?.obj.metadata.ownerReferences?.some((r) => r.uid === uid && r.blockOwnerDeletion === true);
      });
      if (blocking.length === 0) this.removeFinalizer(ownerType, owner, FOREGROUND_FINALIZER);
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
        this.host.delete(depType, dep.obj.metadata.namespace, dep.obj.metadata.name!, {
          propagationPolicy: "Background",
        });
      }
      return;
    }
    if (live.length < refs.length) {
      const next = clone(dep);
      next.metadata.ownerReferences = live;
      this.host.replace(depType, dep, next);
    }
  }

  private typeForObject(obj: KubeObject): ResourceType | undefined {
    const [g, v] = obj.apiVersion?.includes("/") ? obj.apiVersion.split("/") : ["", obj.apiVersion];
    return this.host.types.all().find((t) => t.group === g && t.version === v && t.kind === obj.kind);
  }

  private removeOwnerRef(dep: Stored, uid: string): void {
    const depType = this.typeForObject(dep.obj);
    if (!depType) return;
    const next = clone(dep);
    next.metadata.ownerReferences = (next.metadata.ownerReferences ?? []).filter((r) => r.uid !== uid);
    if (next.metadata.ownerReferences.length === 0) delete next.metadata.ownerReferences;
    this.host.replace(depType, dep, next);
  }

  private removeFinalizer(t: ResourceType, s: Stored, finalizer: string): void {
    const next = clone(s);
    next.metadata.finalizers = (next.metadata.finalizers ?? []).filter((f) => f !== finalizer);
    if (next.metadata.finalizers.length === 0) delete next.metadata.finalizers;
    this.host.replace(t, s, next);
  }

  private lookup(id: string): Stored | undefined {
    const [key, ns, name] = id.split("|") as [string, string, string];
    return this.host.store.get(key, ns, name);
  }
}

function objectId(key: string, ns: string, name: string): string {
  return `${key}|${ns}|${name}`;
}
