/**
 * Conversions between literals and the plain JSON values task containers read and write
 * (`outputs.json`, `FLOTILLA_INPUT_<NAME>` env vars), driven by the declared interface types.
 * The walk over a declared type is `@flotilla/common`'s; this module is the dialect of task JSON
 * (strict JSON types, durations as seconds) and the output/input rules around it.
 */
import { create, type JsonValue } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import {
  fromJsonForm,
  literalToPlain,
  noneLiteral,
  plainToLiteral,
  primitiveLiteral,
  type PlainValueDialect,
} from "@flotilla/common";
import {
  LiteralMapSchema,
  SimpleType,
  type Literal,
  type LiteralMap,
  type LiteralType,
  type VariableMap,
} from "@flotilla/proto";

/** A value a task wrote does not fit the declared type of an output. */
export class OutputTypeError extends Error {
  override readonly name = "OutputTypeError";
  constructor(
    readonly variable: string,
    readonly expected: string,
    readonly got: string,
  ) {
    super(`output ${variable}: expected ${expected}, got ${got}`);
  }
}

/** A declared output was not written by the task. */
export class MissingOutputError extends Error {
  override readonly name = "MissingOutputError";
  constructor(readonly variable: string) {
    super(`output ${variable} was declared but not written`);
  }
}

function describe(v: unknown): string {
  return v === null ? "null" : Array.isArray(v) ? "array" : typeof v;
}

/**
 * The JSON a task writes and reads: only the JSON type of each simple type is accepted (numbers,
 * strings, booleans, objects; integers also as decimal strings, durations as seconds, datetimes
 * as RFC 3339 strings); a `none` output accepts anything. Binaries are written as base64, maps
 * in stored order.
 */
const TASK_JSON: PlainValueDialect = {
  simple: {
    [SimpleType.NONE]: { expected: "null", toLiteral: () => noneLiteral() },
    [SimpleType.INTEGER]: {
      expected: "integer",
      toLiteral: (v) =>
        (typeof v === "number" && Number.isInteger(v)) || (typeof v === "string" && /^-?\d+$/.test(v))
          ? primitiveLiteral({ case: "integer", value: BigInt(v) })
          : undefined,
    },
    [SimpleType.FLOAT]: { expected: "finite number", toLiteral: fromJsonForm.float },
    [SimpleType.STRING]: { expected: "string", toLiteral: fromJsonForm.string },
    [SimpleType.BOOLEAN]: { expected: "boolean", toLiteral: fromJsonForm.boolean },
    [SimpleType.DATETIME]: { expected: "RFC 3339 datetime string", toLiteral: fromJsonForm.datetime },
    [SimpleType.DURATION]: {
      expected: "duration in seconds",
      toLiteral: (v) =>
        typeof v === "number" && Number.isFinite(v)
          ? primitiveLiteral({ case: "duration", value: durationFromMs(v * 1000) })
          : undefined,
    },
    [SimpleType.STRUCT]: { expected: "object", toLiteral: fromJsonForm.struct },
  },
  expected: {
    unsupported: (type) => `a supported simple type (got type ${type})`,
    enumValue: (values) => `one of ${values.join("|")}`,
    list: "array",
    map: "object",
    blob: "blob URI",
    undeclared: "a declared type",
  },
  isBlobUri: (text) => /^[a-z][a-z0-9+.-]*:\/\//.test(text),
  mismatch: (variable, expected, value) => new OutputTypeError(variable, expected, describe(value)),
  durationValue: (seconds) => seconds,
  binaryValue: (bytes) => Buffer.from(bytes).toString("base64"),
  sortMapKeys: false,
};

/**
 * Converts a JSON value written by a task into a literal of `type`. Throws
 * {@link OutputTypeError} naming `variable` when the value does not fit.
 */
export function jsonToLiteral(variable: string, value: unknown, type: LiteralType | undefined): Literal {
  return plainToLiteral(variable, value, type, TASK_JSON);
}

/**
 * Converts a task's `outputs.json` object into the LiteralMap of its declared outputs. Unknown
 * keys are ignored; a declared output that is missing throws {@link MissingOutputError}.
 */
export function outputsJsonToLiteralMap(json: unknown, outputs: VariableMap | undefined): LiteralMap {
  const declared = outputs?.variables ?? {};
  const obj =
    json !== null && typeof json === "object" && !Array.isArray(json)
      ? (json as Record<string, unknown>)
      : {};
  const literals: Record<string, Literal> = {};
  for (const [name, variable] of Object.entries(declared)) {
    if (!(name in obj)) {
      if (variable.type?.type.case === "simple" && variable.type.type.value === SimpleType.NONE) {
        literals[name] = jsonToLiteral(name, null, variable.type);
        continue;
      }
      throw new MissingOutputError(name);
    }
    literals[name] = jsonToLiteral(name, obj[name], variable.type);
  }
  return create(LiteralMapSchema, { literals });
}

/**
 * The zero value of every declared output (0, 0.0, "", false, none, [], {}): what a simulated
 * task "produces". Blob outputs have no zero value and throw {@link MissingOutputError}.
 */
export function defaultOutputs(outputs: VariableMap | undefined): LiteralMap {
  const literals: Record<string, Literal> = {};
  for (const [name, variable] of Object.entries(outputs?.variables ?? {})) {
    const t = variable.type?.type;
    let zero: unknown;
    if (t?.case === "simple") {
      const zeros: Partial<Record<SimpleType, unknown>> = {
        [SimpleType.INTEGER]: 0,
        [SimpleType.FLOAT]: 0,
        [SimpleType.STRING]: "",
        [SimpleType.BOOLEAN]: false,
        [SimpleType.DURATION]: 0,
        [SimpleType.DATETIME]: new Date(0).toISOString(),
        [SimpleType.STRUCT]: {},
        [SimpleType.NONE]: null,
      };
      zero = t.value in zeros ? zeros[t.value] : undefined;
    } else if (t?.case === "enumType") zero = t.value.values[0];
    else if (t?.case === "collectionType") zero = [];
    else if (t?.case === "mapValueType") zero = {};
    if (zero === undefined) throw new MissingOutputError(name);
    literals[name] = jsonToLiteral(name, zero, variable.type);
  }
  return create(LiteralMapSchema, { literals });
}

/** The plain JSON form of a literal (integers beyond 2^53 become strings). */
export function literalToJson(literal: Literal | undefined): JsonValue {
  return literalToPlain(literal, TASK_JSON);
}

/** The env-var text of a primitive literal, or undefined for non-primitives. */
export function primitiveEnvValue(literal: Literal | undefined): string | undefined {
  if (literal?.value.case !== "scalar") return undefined;
  const s = literal.value.value.value;
  if (s.case === "noneType") return "";
  if (s.case !== "primitive" && s.case !== "blob") return undefined;
  const json = literalToJson(literal);
  return typeof json === "string" ? json : JSON.stringify(json);
}
