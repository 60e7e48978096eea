/**
 * Small helpers over stored objects shared by the verbs and the controllers: JSON-object
 * checks, kube timestamps and mutable copies.
 */
import type { KubeObject, Stored } from "./store.js";

/** Whether `v` is a plain JSON object (not null, not an array). */
export function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** A timestamp as Kubernetes writes it: RFC 3339, whole seconds, UTC (default: now). */
export function kubeTime(at: Date = new Date()): string {
  return at.toISOString().replace(/\.\d+Z$/, "Z");
}

/** A mutable deep copy of a stored object (parsing its cached JSON beats structuredClone). */
export function clone(stored: Stored): KubeObject {
  return JSON.parse(stored.json) as KubeObject;
}
