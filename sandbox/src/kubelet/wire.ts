/** Objects sent as patches bypass client-node's serializer, so dates are written here. */

/**
 * Deep-copies `value` for the wire, writing dates as Kubernetes does (RFC 3339, whole
 * seconds, UTC) and dropping undefined fields.
 */
export function toWire<T>(value: T): T {
  return wireValue(value) as T;
}

function wireValue(value: unknown): unknown {
  if (value === null || typeof value !== "object") return value;
  if (value instanceof Date) return `${value.toISOString().slice(0, 19)}Z`;
  if (Array.isArray(value)) return value.map(wireValue);
  // for-in over own keys: no entries array per object (this runs on every pod status write).
  const source = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const k in source) {
    if (!Object.hasOwn(source, k)) continue;
    const v = source[k];
    if (v !== undefined) out[k] = wireValue(v);
  }
  return out;
}
