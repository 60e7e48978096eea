/**
 * Position-aware reading of YAML nodes: every accessor reports problems with the file, line,
 * column and field path of the offending node and keeps going, so one pass collects every error.
 */
import {
  isMap,
  isScalar,
  isSeq,
  type LineCounter,
  type Node,
  type Pair,
  type Scalar,
  type YAMLMap,
} from "yaml";
import type { SpecProblem } from "../errors.js";
import type { Rule, TextCheck } from "./patterns.js";

/** A YAML node that may be absent. */
export type MaybeNode = Node | null | undefined;

/** A 1-based position in a file. */
export interface Pos {
  line: number;
  column: number;
}

/** Reads one file's YAML nodes, collecting problems. */
export class SpecReader {
  constructor(
    readonly file: string,
    private readonly lines: LineCounter,
    readonly problems: SpecProblem[],
  ) {}

  /** Position of `node` (or of `fallback` when it has none). */
  pos(node: MaybeNode, fallback?: Pos): Pos {
    const start = node?.range?.[0];
    if (start === undefined) return fallback ?? { line: 0, column: 0 };
    const p = this.lines.linePos(start);
    return { line: p.line, column: p.col };
  }

  /** Records a problem at `at` (a node or a position). */
  report(at: MaybeNode | Pos, path: string, message: string): void {
    const p = at && "line" in at ? at : this.pos(at);
    this.problems.push({ file: this.file, line: p.line, column: p.column, path, message });
  }

  /**
   * Reads a mapping with the given known keys. Unknown keys are reported (naming the known
   * ones); returns the fields, or undefined (reported) when `node` is not a mapping.
   */
  fields(node: MaybeNode, path: string, known: readonly string[]): Fields | undefined {
    if (!isMap(node)) {
      this.report(node, path, `expected a mapping, got ${kindOf(node)}`);
      return undefined;
    }
    const f = new Fields(this, node, path);
    for (const pair of node.items) {
      const key = keyOf(pair);
      if (key === undefined) {
        this.report(pair.key as Node, path, "keys must be strings");
        continue;
      }
      if (!known.includes(key)) {
        this.report(
          pair.key as Node,
          join(path, key),
          `unknown field "${key}" (expected one of: ${known.join(", ")})`,
        );
        continue;
      }
      f.entries.set(key, { key: pair.key as Scalar, value: (pair.value ?? null) as Node | null });
    }
    return f;
  }

  /** Entries of a mapping with arbitrary keys (labels, inputs); undefined (reported) if not a mapping. */
  entries(
    node: MaybeNode,
    path: string,
  ): Array<{ key: string; keyNode: Node; value: Node | null }> | undefined {
    if (!isMap(node)) {
      this.report(node, path, `expected a mapping, got ${kindOf(node)}`);
      return undefined;
    }
    const out: Array<{ key: string; keyNode: Node; value: Node | null }> = [];
    for (const pair of node.items) {
      const key = keyOf(pair);
      if (key === undefined) this.report(pair.key as Node, path, "keys must be strings");
      else out.push({ key, keyNode: pair.key as Node, value: (pair.value ?? null) as Node | null });
    }
    return out;
  }

  /** Items of a sequence; undefined (reported) if not a sequence. */
  items(node: MaybeNode, path: string): Node[] | undefined {
    if (!isSeq(node)) {
      this.report(node, path, `expected a list, got ${kindOf(node)}`);
      return undefined;
    }
    return node.items as Node[];
  }

  /** A string scalar matching `pattern` (described by `rule`); undefined (reported) otherwise. */
  string(node: MaybeNode, path: string, pattern?: TextCheck, rule?: string): string | undefined {
    if (!isScalar(node) || (typeof node.value !== "string" && typeof node.value !== "number")) {
      this.report(node, path, `expected a string, got ${kindOf(node)}`);
      return undefined;
    }
    const s = String(node.value);
    if (pattern && !pattern.test(s)) {
      this.report(node, path, `${JSON.stringify(s)} is not ${rule ?? "valid"}`);
      return undefined;
    }
    return s;
  }

  /** An integer scalar in [min, max]; undefined (reported) otherwise. */
  int(node: MaybeNode, path: string, min: number, max: number): number | undefined {
    const v = isScalar(node) ? node.value : undefined;
    if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
      this.report(
        node,
        path,
        `expected an integer from ${min} to ${max}, got ${isScalar(node) ? JSON.stringify(node.value) : kindOf(node)}`,
      );
      return undefined;
    }
    return v;
  }

  /** A boolean scalar; undefined (reported) otherwise. */
  bool(node: MaybeNode, path: string): boolean | undefined {
    const v = isScalar(node) ? node.value : undefined;
    if (typeof v !== "boolean") {
      this.report(
        node,
        path,
        `expected true or false, got ${isScalar(node) ? JSON.stringify(node.value) : kindOf(node)}`,
      );
      return undefined;
    }
    return v;
  }

  /** A list of strings each matching `pattern`. */
  strings(node: MaybeNode, path: string, pattern?: TextCheck, rule?: string): string[] | undefined {
    const items = this.items(node, path);
    if (!items) return undefined;
    const out: string[] = [];
    items.forEach((item, i) => {
      const s = this.string(item, `${path}[${i}]`, pattern, rule);
      if (s !== undefined) out.push(s);
    });
    return out;
  }

  /** A mapping of string → string (labels, env, annotations) with validated keys and values. */
  stringMap(
    node: MaybeNode,
    path: string,
    key?: Rule,
    value?: Rule,
    max = 64,
  ): Record<string, string> | undefined {
    const entries = this.entries(node, path);
    if (!entries) return undefined;
    if (entries.length > max)
      this.report(node, path, `at most ${max} entries allowed, got ${entries.length}`);
    const out: Record<string, string> = {};
    for (const e of entries) {
      if (key && !key.pattern.test(e.key)) {
        this.report(e.keyNode, join(path, e.key), `key ${JSON.stringify(e.key)} is not ${key.rule}`);
        continue;
      }
      const v = this.scalarText(e.value, join(path, e.key));
      if (v === undefined) continue;
      if (value && !value.pattern.test(v)) {
        this.report(e.value, join(path, e.key), `value ${JSON.stringify(v)} is not ${value.rule}`);
        continue;
      }
      out[e.key] = v;
    }
    return out;
  }

  /** Any scalar as text (numbers and booleans stringified). */
  scalarText(node: MaybeNode, path: string): string | undefined {
    const v: unknown = isScalar(node) ? node.value : undefined;
    if (typeof v !== "string" && typeof v !== "number" && typeof v !== "boolean") {
      this.report(node, path, `expected a string, got ${kindOf(node)}`);
      return undefined;
    }
    return String(v);
  }
}

/** The known fields of one mapping. */
export class Fields {
  readonly entries = new Map<string, { key: Scalar; value: Node | null }>();
  constructor(
    private readonly reader: SpecReader,
    readonly node: YAMLMap,
    readonly path: string,
  ) {}

  /** Whether `name` is present. */
  has(name: string): boolean {
    return this.entries.has(name);
  }

  /** The value node of `name` (null for an explicit empty value), or undefined when absent. */
  get(name: string): Node | null | undefined {
    return this.entries.get(name)?.value;
  }

  /** Like {@link get} but reports a missing required field at the mapping. */
  require(name: string): Node | null | undefined {
    if (!this.entries.has(name)) {
      this.reader.report(this.node, join(this.path, name), `required field "${name}" is missing`);
      return undefined;
    }
    return this.get(name);
  }

  /** The string field `name` matching `rule`; undefined (reported) when not a matching string. */
  string(name: string, rule: Rule): string | undefined {
    return this.reader.string(this.get(name), this.pathOf(name), rule.pattern, rule.rule);
  }

  /** Like {@link string}, but also reports the field when it is missing. */
  requireString(name: string, rule: Rule): string | undefined {
    if (this.require(name) === undefined) return undefined;
    return this.string(name, rule);
  }

  /** Path of field `name`. */
  pathOf(name: string): string {
    return join(this.path, name);
  }
}

/** Joins a field path: `a.b`, or `b` at the root. */
export function join(path: string, key: string): string {
  const k = /^[A-Za-z_][A-Za-z0-9_-]*$/.test(key) ? key : JSON.stringify(key);
  return path ? `${path}.${k}` : k;
}

function keyOf(pair: Pair): string | undefined {
  const k = pair.key;
  if (isScalar(k) && (typeof k.value === "string" || typeof k.value === "number")) return String(k.value);
  return undefined;
}

/** A short description of a node's kind for messages. */
export function kindOf(node: MaybeNode): string {
  if (node === undefined) return "nothing";
  if (node === null) return "an empty value";
  if (isMap(node)) return "a mapping";
  if (isSeq(node)) return "a list";
  if (isScalar(node))
    return node.value === null ? "an empty value" : `${typeof node.value} ${JSON.stringify(node.value)}`;
  return "an alias";
}
