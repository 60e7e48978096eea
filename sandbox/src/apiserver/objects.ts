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

/**
 * Whether two JSON values are equal, ignoring object key order and undefined-valued keys (what
 * comparing their sorted-key JSON would say, without building it): the change check of every
 * update, which for a large custom resource status runs on hundreds of KiB per write.
 */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!jsonEqual(a[i] ?? null, b[i] ?? null)) return false;
    return true;
  }
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  let keys = 0;
  for (const k in x) {
    if (!Object.hasOwn(x, k) || x[k] === undefined) continue;
    keys++;
    if (!Object.hasOwn(y, k) || !jsonEqual(x[k], y[k])) return false;
  }
  for (const k in y) if (Object.hasOwn(y, k) && y[k] !== undefined) keys--;
  return keys === 0;
}
