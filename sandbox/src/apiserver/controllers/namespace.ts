/**
 * Namespace lifecycle: admission of writes into namespaces (missing → 404, terminating → 403)
 * and the namespace controller, which empties a terminating namespace and then removes it:
 *
 *   DELETE namespace ─▶ Terminating (deletionTimestamp) ─▶ every object inside deleted
 *     ─▶ (empty) `kubernetes` finalizer dropped from spec.finalizers ─▶ namespace removed
 *
 * A namespace is looked at again whenever it turns Terminating or an object inside it goes.
 */
import { forbidden, notFound, type ResourceRef } from "../errors.js";
import { clone, isObject } from "../objects.js";
import type { ChangeEvent } from "../store.js";
import { canonicalJson } from "../validation.js";
import type { ControllerHost } from "./controller-host.js";
import type { ControllerLoop } from "./controller-loop.js";
import { Controller } from "./controller.js";

/** The type key of namespaces. */
export const NAMESPACES = "/namespaces";
/** The spec finalizer every namespace gets on create; the controller removes it when empty. */
export const NAMESPACE_FINALIZER = "kubernetes";

/** The namespace admission and controller of one cluster. */
export class NamespaceController extends Controller<string> {
  /** Subscribes to the host's store; passes run on `loop`. */
  constructor(host: ControllerHost, loop: ControllerLoop) {
    super(host, loop, "namespace");
  }

  /**
   * Admission of a create of `name` (of type `t`) in namespace `ns`: throws 404 when the
   * namespace does not exist and 403 when it is being terminated, in kube's words.
   */
  admit(t: ResourceRef, ns: string, name: string): void {
    const nsObj = this.host.store.get(NAMESPACES, "", ns);
    if (!nsObj) throw notFound({ group: "", resource: "namespaces" }, ns);
    if (nsObj.obj.metadata.deletionTimestamp) {
      throw forbidden(
        t,
        name,
        `unable to create new content in namespace ${ns} because it is being terminated`,
      );
    }
  }

  protected observe(e: ChangeEvent): void {
    if (e.typeKey === NAMESPACES) {
      if (e.type !== "DELETED" && e.obj.metadata.deletionTimestamp) this.enqueue(e.obj.metadata.name!);
      return;
    }
    if (e.type !== "DELETED" || !e.namespace) return;
    if (this.host.store.get(NAMESPACES, "", e.namespace)?.obj.metadata.deletionTimestamp) {
      this.enqueue(e.namespace);
    }
  }

  /**
   * Deletes everything in a terminating namespace; once it is empty, drops the `kubernetes`
   * finalizer and removes the namespace.
   */
  protected process(name: string): void {
    const { store } = this.host;
    const nsStored = store.get(NAMESPACES, "", name);
    if (!nsStored?.obj.metadata.deletionTimestamp) return;
    for (const key of store.typeKeys()) {
      if (key === NAMESPACES) continue;
      const t = this.host.typeFor(key);
      if (!t?.namespaced) continue;
      for (const s of [...store.iterate(key, name)]) {
        if (s.obj.metadata.deletionTimestamp) continue;
        this.loop.step("namespace", () =>
          this.host.delete(t, name, s.obj.metadata.name!, { propagationPolicy: "Background" }),
        );
      }
    }
    let left = 0;
    for (const key of store.typeKeys()) if (key !== NAMESPACES) left += store.count(key, name);
    if (left > 0) return;
    const nsType = this.host.typeFor(NAMESPACES)!;
    const next = clone(nsStored);
    const spec = isObject(next.spec) ? next.spec : {};
    spec.finalizers = (Array.isArray(spec.finalizers) ? spec.finalizers : []).filter(
      (f) => f !== NAMESPACE_FINALIZER,
    );
    next.spec = spec;
    if ((next.metadata.finalizers ?? []).length === 0) {
      this.host.commit(nsType, "DELETED", next);
    } else if (canonicalJson(next.spec) !== canonicalJson(nsStored.obj.spec)) {
      this.host.commit(nsType, "MODIFIED", next);
    }
  }
}
