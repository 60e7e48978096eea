/**
 * What the controllers may do to the cluster: read the store and write through the API's own
 * write paths, so every controller write keeps resourceVersion, generation, finalizer and
 * size rules, without the admission a client request goes through.
 */
import type { DeleteOptions, DeleteResult } from "../api.js";
import type { ResourceType, TypeRegistry } from "../registry.js";
import type { EventType, KubeObject, ObjectStore, Stored } from "../store.js";

/** The cluster as a controller sees it; implemented by `ClusterApi`. */
export interface ControllerHost {
  readonly store: ObjectStore;
  readonly types: TypeRegistry;
  /** The storage type of a type key (`group/resource`), or undefined when it is not served. */
  typeFor(key: string): ResourceType | undefined;
  /** Deletes an object as a client DELETE would (propagation, grace, finalizers). */
  delete(t: ResourceType, ns: string | undefined, name: string, options: DeleteOptions): DeleteResult;
  /** Replaces a stored object (or only its status with `subresource` "status") by `next`. */
  replace(t: ResourceType, existing: Stored, next: KubeObject, subresource?: "status"): Stored;
  /** Commits `obj` as given (only the size limit applies). */
  commit(t: ResourceType, type: EventType, obj: KubeObject): Stored;
}
