/**
 * Evaluation of branch conditions (condition.proto): comparisons of two primitive operands —
 * constants, upstream outputs, workflow inputs — combined with AND / OR.
 */
import {
  ComparisonExpression_Operator,
  ConjunctionExpression_LogicalOperator,
  type BooleanExpression,
  type ComparisonExpression,
  type Operand,
  type Primitive,
} from "@flotilla/proto";
import type { BindingSources } from "../../workflow/bindings.js";

/** A condition cannot be evaluated: an operand is missing, not a primitive, or of the wrong type. */
export class ConditionError extends Error {
  override readonly name = "ConditionError";
  constructor(
    /** How the operand is written (`prep.count`, `input threshold`, `5`), or "" for the expression. */
    readonly operand: string,
    readonly reason: string,
  ) {
    super(operand ? `operand ${operand}: ${reason}` : reason);
  }
}

/** Deepest nesting evaluated (the compiler enforces 16). */
const MAX_DEPTH = 16;

function describeOperand(op: Operand | undefined): string {
  const v = op?.val;
  switch (v?.case) {
    case "promise":
      return `${v.value.nodeId}.${v.value.var}`;
    case "workflowInput":
      return `input ${v.value.var}`;
    case "primitive":
      return describePrimitive(v.value);
    default:
      return "(empty operand)";
  }
}

function describePrimitive(p: Primitive): string {
  const v = p.value;
  switch (v.case) {
    case "stringValue":
      return JSON.stringify(v.value);
    case "integer":
    case "floatValue":
    case "boolean":
      return String(v.value);
    case "datetime":
    case "duration":
      return `${v.case}(${v.value.seconds}s${v.value.nanos ? ` ${v.value.nanos}ns` : ""})`;
    default:
      return "(empty primitive)";
  }
}

async function resolveOperand(op: Operand | undefined, sources: BindingSources): Promise<Primitive> {
  const v = op?.val;
  const name = describeOperand(op);
  let literal;
  switch (v?.case) {
    case "primitive":
      return v.value;
    case "promise":
      literal = (await sources.nodeOutputs(v.value.nodeId)).literals[v.value.var];
      if (!literal) throw new ConditionError(name, `node ${v.value.nodeId} has no output ${v.value.var}`);
      break;
    case "workflowInput":
      literal = (await sources.workflowInputs()).literals[v.value.var];
      if (!literal) throw new ConditionError(name, `the workflow has no input ${v.value.var}`);
      break;
    default:
      throw new ConditionError(name, "the operand has no value");
  }
  const lv = literal.value;
  if (lv.case !== "scalar" || lv.value.value.case !== "primitive") {
    const what =
      lv.case === "scalar" ? (lv.value.value.case ?? "empty scalar") : (lv.case ?? "empty literal");
    throw new ConditionError(name, `is a ${what}, not a primitive: conditions compare primitives only`);
  }
  return lv.value.value.value;
}

const primitiveTypeName: Record<NonNullable<Primitive["value"]["case"]>, string> = {
  integer: "integer",
  floatValue: "float",
  stringValue: "string",
  boolean: "boolean",
  datetime: "datetime",
  duration: "duration",
};

function typeName(p: Primitive): string {
  return p.value.case ? primitiveTypeName[p.value.case] : "empty primitive";
}

/** Orders two primitives: negative, 0 or positive; undefined when they are not ordered (strings, booleans). */
function compareValues(left: Primitive, right: Primitive): { cmp: number; ordered: boolean } | undefined {
  const l = left.value;
  const r = right.value;
  const sign = (a: number | bigint, b: number | bigint) => (a < b ? -1 : a > b ? 1 : 0);
  const isNumber = (c: string | undefined) => c === "integer" || c === "floatValue";
  if (isNumber(l.case) && isNumber(r.case)) {
    if (l.case === "integer" && r.case === "integer") return { cmp: sign(l.value, r.value), ordered: true };
    return { cmp: sign(Number(l.value), Number(r.value)), ordered: true };
  }
  if (l.case !== r.case) return undefined;
  if (l.case === "stringValue" && r.case === "stringValue")
    return { cmp: l.value === r.value ? 0 : 1, ordered: false };
  if (l.case === "boolean" && r.case === "boolean")
    return { cmp: l.value === r.value ? 0 : 1, ordered: false };
  if ((l.case === "datetime" && r.case === "datetime") || (l.case === "duration" && r.case === "duration")) {
    const c = sign(l.value.seconds, r.value.seconds);
    return { cmp: c !== 0 ? c : sign(l.value.nanos, r.value.nanos), ordered: true };
  }
  return undefined;
}

async function evaluateComparison(e: ComparisonExpression, sources: BindingSources): Promise<boolean> {
  const left = await resolveOperand(e.leftValue, sources);
  const right = await resolveOperand(e.rightValue, sources);
  const op = e.operator;
  const opName = ComparisonExpression_Operator[op] ?? String(op);
  const c = compareValues(left, right);
  if (!c) {
    throw new ConditionError(
      describeOperand(e.rightValue),
      `is of type ${typeName(right)}, cannot compare it with ${describeOperand(e.leftValue)} of type ${typeName(left)}`,
    );
  }
  if (op === ComparisonExpression_Operator.EQ) return c.cmp === 0;
  if (op === ComparisonExpression_Operator.NEQ) return c.cmp !== 0;
  if (!c.ordered) {
    throw new ConditionError(
      describeOperand(e.leftValue),
      `is of type ${typeName(left)}: ${opName} does not apply to it (only EQ and NEQ do)`,
    );
  }
  switch (op) {
    case ComparisonExpression_Operator.GT:
      return c.cmp > 0;
    case ComparisonExpression_Operator.GTE:
      return c.cmp >= 0;
    case ComparisonExpression_Operator.LT:
      return c.cmp < 0;
    case ComparisonExpression_Operator.LTE:
      return c.cmp <= 0;
    default:
      throw new ConditionError("", `comparison operator ${opName} is not supported`);
  }
}

/**
 * Evaluates `expr` with operands read from `sources`. Both sides of AND / OR are evaluated, so
 * an ill-typed operand is reported whatever the other side's value. Returns whether the
 * condition holds; throws {@link ConditionError} naming the operand at fault.
 */
export async function evaluateCondition(
  expr: BooleanExpression | undefined,
  sources: BindingSources,
  depth = 0,
): Promise<boolean> {
  if (depth > MAX_DEPTH) throw new ConditionError("", `condition nesting is deeper than ${MAX_DEPTH}`);
  const e = expr?.expr;
  if (e?.case === "comparison") return evaluateComparison(e.value, sources);
  if (e?.case === "conjunction") {
    const left = await evaluateCondition(e.value.leftExpression, sources, depth + 1);
    const right = await evaluateCondition(e.value.rightExpression, sources, depth + 1);
    if (e.value.operator === ConjunctionExpression_LogicalOperator.AND) return left && right;
    if (e.value.operator === ConjunctionExpression_LogicalOperator.OR) return left || right;
    throw new ConditionError("", "conjunction operator is unspecified");
  }
  throw new ConditionError("", "the condition is empty");
}
