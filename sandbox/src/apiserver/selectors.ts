/**
 * Label and field selectors with kube-apiserver syntax: `a=b`, `a==b`, `a!=b`, `a in (x,y)`,
 * `a notin (x)`, `a` (exists), `!a` (does not exist); field selectors support `=`, `==`, `!=`.
 */
import { badRequest } from "./errors.js";

type Requirement =
  | { op: "eq" | "neq"; key: string; value: string }
  | { op: "in" | "notin"; key: string; values: Set<string> }
  | { op: "exists" | "notexists"; key: string };

/** A parsed label selector; `matches` tests a label map. */
export interface LabelSelector {
  /** True when the selector has no requirements (matches everything). */
  readonly empty: boolean;
  /** The value a selector pins with an `=` requirement for `key`, if any (used for indexing). */
  equalityValue(key: string): string | undefined;
  /** Whether the labels satisfy every requirement. */
  matches(labels: Record<string, string> | undefined): boolean;
}

function splitTopLevel(input: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = "";
  for (const ch of input) {
    if (ch === "(") depth++;
    if (ch === ")") depth--;
    if (ch === "," && depth === 0) {
      parts.push(current);
      current = "";
    } else {
      current += ch;
    }
  }
  parts.push(current);
  return parts.map((p) => p.trim()).filter((p) => p.length > 0);
}

function parseRequirement(term: string): Requirement {
  const setMatch = /^([^\s!=()]+)\s+(in|notin)\s*\(([^)]*)\)$/.exec(term);
  if (setMatch) {
    const values = new Set(
      setMatch[3]
        .split(",")
        .map((v) => v.trim())
        .filter((v) => v.length > 0),
    );
    return { op: setMatch[2] === "in" ? "in" : "notin", key: setMatch[1], values };
  }
  const neq = /^([^\s!=()]+)\s*!=\s*([^\s=!()]*)$/.exec(term);
  if (neq) return { op: "neq", key: neq[1], value: neq[2] };
  const eq = /^([^\s!=()]+)\s*==?\s*([^\s=!()]*)$/.exec(term);
  if (eq) return { op: "eq", key: eq[1], value: eq[2] };
  const notExists = /^!\s*([^\s!=()]+)$/.exec(term);
  if (notExists) return { op: "notexists", key: notExists[1] };
  if (/^[^\s!=()]+$/.test(term)) return { op: "exists", key: term };
  throw badRequest(`unable to parse requirement: found '${term}', expected: selector requirement`);
}

function matchRequirement(req: Requirement, value: string | undefined): boolean {
  switch (req.op) {
    case "eq":
      return value === req.value;
    case "neq":
      return value !== req.value;
    case "in":
      return value !== undefined && req.values.has(value);
    case "notin":
      return value === undefined || !req.values.has(value);
    case "exists":
      return value !== undefined;
    case "notexists":
      return value === undefined;
  }
}

/**
 * Parses a label selector string. Returns a LabelSelector; throws a 400 ApiError for syntax
 * errors, worded like kube-apiserver.
 */
export function parseLabelSelector(input: string | null | undefined): LabelSelector {
  const reqs = input ? splitTopLevel(input).map(parseRequirement) : [];
  return {
    empty: reqs.length === 0,
    equalityValue: (key) => {
      for (const r of reqs) if (r.op === "eq" && r.key === key) return r.value;
      return undefined;
    },
    matches: (labels) => reqs.every((r) => matchRequirement(r, labels?.[r.key])),
  };
}

/** A parsed field selector; `matches` tests an object. */
export interface FieldSelector {
  /** True when the selector has no requirements. */
  readonly empty: boolean;
  /** The value pinned by an `=` requirement on `field`, if any (used for indexing). */
  equalityValue(field: string): string | undefined;
  /** Whether the object satisfies every requirement. */
  matches(obj: unknown): boolean;
}

/** Reads a dotted field path (`status.phase`) from an object as kube's field label string. */
export function fieldValue(obj: unknown, path: string): string {
  let current: unknown = obj;
  for (const part of path.split(".")) {
    if (current === null || typeof current !== "object") return "";
    current = (current as Record<string, unknown>)[part];
  }
  if (current === undefined || current === null) return "";
  if (typeof current === "string") return current;
  if (typeof current === "number" || typeof current === "boolean") return String(current);
  return JSON.stringify(current);
}

/**
 * Parses a field selector string (`metadata.name=x,status.phase!=Running`). Any dotted path is
 * accepted (kube restricts each resource to a fixed set; the sandbox is more permissive).
 * Throws a 400 ApiError for syntax errors.
 */
export function parseFieldSelector(input: string | null | undefined): FieldSelector {
  const reqs: { key: string; value: string; neq: boolean }[] = [];
  for (const term of input ? splitTopLevel(input) : []) {
    const neq = /^([^\s!=]+)\s*!=\s*(.*)$/.exec(term);
    if (neq) {
      reqs.push({ key: neq[1], value: neq[2].trim(), neq: true });
      continue;
    }
    const eq = /^([^\s!=]+)\s*==?\s*(.*)$/.exec(term);
    if (eq) {
      reqs.push({ key: eq[1], value: eq[2].trim(), neq: false });
      continue;
    }
    throw badRequest(`invalid selector: '${input}'; can't understand '${term}'`);
  }
  return {
    empty: reqs.length === 0,
    equalityValue: (field) => reqs.find((r) => !r.neq && r.key === field)?.value,
    matches: (obj) =>
      reqs.every((r) => {
        const value = fieldValue(obj, r.key);
        return r.neq ? value !== r.value : value === r.value;
      }),
  };
}
