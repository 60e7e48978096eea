/**
 * The text form of branch conditions in workflow specs:
 *
 * ```
 * condition  := or
 * or         := and ("or" and)*
 * and        := term ("and" term)*
 * term       := "(" condition ")" | operand op operand
 * op         := "==" | "!=" | ">" | ">=" | "<" | "<="
 * operand    := <node>.<output> | $<workflow input> | number | 'text' | "text" | true | false
 * ```
 */
import type { SpecCondition, SpecOperand } from "./model.js";

/** A condition text that does not parse; `offset` is the 0-based character where it went wrong. */
export class ConditionSyntaxError extends Error {
  override readonly name = "ConditionSyntaxError";
  constructor(
    readonly offset: number,
    readonly reason: string,
  ) {
    super(`${reason} (at character ${offset + 1})`);
  }
}

interface Token {
  kind: "op" | "paren" | "word" | "string" | "number" | "end";
  text: string;
  at: number;
}

const TOKEN =
  /\s*(?:(==|!=|>=|<=|>|<)|([()])|('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")|(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)|(\$?[A-Za-z_][\w-]*(?:\.[A-Za-z_]\w*)?))/y;

function tokenize(text: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < text.length) {
    if (/^\s*$/.test(text.slice(i))) break;
    TOKEN.lastIndex = i;
    const m = TOKEN.exec(text);
    if (!m) {
      const at = i + (text.slice(i).length - text.slice(i).trimStart().length);
      throw new ConditionSyntaxError(at, `unexpected ${JSON.stringify(text[at])}`);
    }
    const at = m.index + (m[0].length - m[0].trimStart().length);
    const kind = m[1] ? "op" : m[2] ? "paren" : m[3] ? "string" : m[4] ? "number" : "word";
    out.push({ kind, text: m[1] ?? m[2] ?? m[3] ?? m[4] ?? m[5], at });
    i = TOKEN.lastIndex;
  }
  out.push({ kind: "end", text: "", at: text.length });
  return out;
}

/** Parses a condition; throws {@link ConditionSyntaxError}. */
export function parseCondition(text: string): SpecCondition {
  const tokens = tokenize(text);
  let pos = 0;
  const peek = () => tokens[pos];
  const next = () => tokens[pos++];

  const operand = (): SpecOperand => {
    const t = next();
    if (t.kind === "number") return { kind: "value", value: Number(t.text) };
    if (t.kind === "string") return { kind: "value", value: t.text.slice(1, -1).replace(/\\(.)/g, "$1") };
    if (t.kind === "word") {
      if (t.text === "true" || t.text === "false") return { kind: "value", value: t.text === "true" };
      if (t.text.startsWith("$")) {
        if (t.text.includes("."))
          throw new ConditionSyntaxError(t.at, `${t.text} is not a workflow input ($name)`);
        return { kind: "input", input: t.text.slice(1) };
      }
      const dot = t.text.indexOf(".");
      if (dot > 0) return { kind: "promise", node: t.text.slice(0, dot), output: t.text.slice(dot + 1) };
      throw new ConditionSyntaxError(
        t.at,
        `${JSON.stringify(t.text)} is not an operand (<node>.<output>, $input, a number, a quoted string, true or false)`,
      );
    }
    throw new ConditionSyntaxError(
      t.at,
      t.kind === "end"
        ? "an operand is missing at the end"
        : `expected an operand, got ${JSON.stringify(t.text)}`,
    );
  };

  const term = (): SpecCondition => {
    if (peek().kind === "paren" && peek().text === "(") {
      next();
      const inner = or();
      const close = next();
      if (close.kind !== "paren" || close.text !== ")")
        throw new ConditionSyntaxError(close.at, "expected )");
      return inner;
    }
    const left = operand();
    const op = next();
    if (op.kind !== "op") {
      throw new ConditionSyntaxError(
        op.at,
        `expected a comparison (==, !=, >, >=, <, <=), got ${op.kind === "end" ? "the end" : JSON.stringify(op.text)}`,
      );
    }
    return { kind: "compare", op: op.text as "==", left, right: operand() };
  };

  const chain = (word: "and" | "or", sub: () => SpecCondition) => (): SpecCondition => {
    let left = sub();
    while (peek().kind === "word" && peek().text === word) {
      next();
      left = { kind: word, left, right: sub() };
    }
    return left;
  };
  const and = chain("and", term);
  const or: () => SpecCondition = chain("or", and);

  const result = or();
  const rest = peek();
  if (rest.kind !== "end") throw new ConditionSyntaxError(rest.at, `unexpected ${JSON.stringify(rest.text)}`);
  return result;
}
