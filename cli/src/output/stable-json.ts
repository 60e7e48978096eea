/**
 * JSON text laid out the way the repository's formatter (prettier, printWidth 110) lays out
 * JSON, so generated JSON files (the oclif manifest) pass `prettier --check` unchanged: objects
 * one key per line, arrays on one line when they fit, else one element per line.
 */

const WIDTH = 110;

function flat(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(flat).join(", ")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    return entries.length
      ? `{ ${entries.map(([k, v]) => `${JSON.stringify(k)}: ${flat(v)}`).join(", ")} }`
      : "{}";
  }
  return JSON.stringify(value) ?? "null";
}

/** Prettier breaks an array whose (2+) elements are all objects or all arrays of 2+ entries. */
function forcesBreak(items: unknown[]): boolean {
  if (items.length < 2) return false;
  const size = (v: unknown) =>
    Array.isArray(v) ? v.length : v !== null && typeof v === "object" ? Object.keys(v).length : 0;
  const allArrays = items.every((v) => Array.isArray(v) && size(v) > 1);
  const allObjects = items.every(
    (v) => v !== null && typeof v === "object" && !Array.isArray(v) && size(v) > 1,
  );
  return allArrays || allObjects;
}

/** Whether a non-empty object occurs anywhere inside (objects are always printed expanded). */
function containsObject(v: unknown): boolean {
  if (Array.isArray(v)) return v.some(containsObject);
  return v !== null && typeof v === "object" && Object.keys(v).length > 0;
}

function print(value: unknown, indent: string, prefixWidth: number): string {
  if (Array.isArray(value)) {
    if (value.length === 0) return "[]";
    const oneLine = flat(value);
    if (
      !forcesBreak(value) &&
      !containsObject(value) &&
      indent.length + prefixWidth + oneLine.length + 1 <= WIDTH
    ) {
      return oneLine;
    }
    const inner = indent + "  ";
    return `[\n${value.map((v) => inner + print(v, inner, 0)).join(",\n")}\n${indent}]`;
  }
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    if (entries.length === 0) return "{}";
    const inner = indent + "  ";
    return `{\n${entries
      .map(([k, v]) => {
        const key = `${JSON.stringify(k)}: `;
        return inner + key + print(v, inner, key.length);
      })
      .join(",\n")}\n${indent}}`;
  }
  return JSON.stringify(value) ?? "null";
}

/** Formats `value` as JSON text (with a trailing newline) in the repository's formatter style. */
export function stableJson(value: unknown): string {
  return print(JSON.parse(JSON.stringify(value)), "", 0) + "\n";
}
