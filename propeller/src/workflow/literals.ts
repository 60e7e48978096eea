/**
 * Conversions between literals and the plain JSON values task containers read and write
 * (`outputs.json`, `FLOTILLA_INPUT_<NAME>` env vars), driven by the declared interface types.
 */
import { create } from "@bufbuild/protobuf";
import { durationFromMs, durationMs, timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { JsonValue } from "@bufbuild/protobuf";
import {
  BlobMetadataSchema,
  BlobSchema,
  LiteralCollectionSchema,
  LiteralMapSchema,
  LiteralSchema,
  PrimitiveSchema,
  ScalarSchema,
  SimpleType,
  VoidSchema,
  type Literal,
  type LiteralMap,
  type LiteralType,
  type Primitive,
  type Scalar,
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

function primitiveLiteral(value: Primitive["value"]): Literal {
  return create(LiteralSchema, {
    value: {
      case: "scalar",
      value: create(ScalarSchema, {
        value: { case: "primitive", value: create(PrimitiveSchema, { value }) },
      }),
    },
  });
}

function scalarLiteral(value: Scalar["value"]): Literal {
  return create(LiteralSchema, { value: { case: "scalar", value: create(ScalarSchema, { value }) } });
}

function describe(v: unknown): string {
  return v === null ? "null" : Array.isArray(v) ? "array" : typeof v;
}

/**
 * Converts a JSON value written by a task into a literal of `type`. Throws
 * {@link OutputTypeError} naming `variable` when the value does not fit.
 */
export function jsonToLiteral(variable: string, value: unknown, type: LiteralType | undefined): Literal {
  const t = type?.type;
  const fail = (expected: string): never => {
    throw new OutputTypeError(variable, expected, describe(value));
  };
  switch (t?.case) {
    case "simple":
      switch (t.value) {
        case SimpleType.NONE:
          return scalarLiteral({ case: "noneType", value: create(VoidSchema) });
        case SimpleType.INTEGER:
          if (typeof value === "number" && Number.isInteger(value))
            return primitiveLiteral({ case: "integer", value: BigInt(value) });
          if (typeof value === "string" && /^-?\d+$/.test(value))
            return primitiveLiteral({ case: "integer", value: BigInt(value) });
          return fail("integer");
        case SimpleType.FLOAT:
          if (typeof value === "number" && Number.isFinite(value))
            return primitiveLiteral({ case: "floatValue", value });
          return fail("finite number");
        case SimpleType.STRING:
          if (typeof value === "string") return primitiveLiteral({ case: "stringValue", value });
          return fail("string");
        case SimpleType.BOOLEAN:
          if (typeof value === "boolean") return primitiveLiteral({ case: "boolean", value });
          return fail("boolean");
        case SimpleType.DATETIME: {
          const d = typeof value === "string" ? new Date(value) : undefined;
          if (d && !Number.isNaN(d.getTime()))
            return primitiveLiteral({ case: "datetime", value: timestampFromDate(d) });
          return fail("RFC 3339 datetime string");
        }
        case SimpleType.DURATION:
          if (typeof value === "number" && Number.isFinite(value)) {
            return primitiveLiteral({ case: "duration", value: durationFromMs(value * 1000) });
          }
          return fail("duration in seconds");
        case SimpleType.STRUCT:
          if (value !== null && typeof value === "object" && !Array.isArray(value)) {
            return scalarLiteral({ case: "generic", value: value as never });
          }
          return fail("object");
        default:
          return fail(`a supported simple type (got type ${t.value})`);
      }
    case "enumType":
      if (typeof value === "string" && t.value.values.includes(value))
        return primitiveLiteral({ case: "stringValue", value });
      return fail(`one of ${t.value.values.join("|")}`);
    case "collectionType":
      if (!Array.isArray(value)) return fail("array");
      return create(LiteralSchema, {
        value: {
          case: "collection",
          value: create(LiteralCollectionSchema, {
            literals: value.map((v, i) => jsonToLiteral(`${variable}[${i}]`, v, t.value)),
          }),
        },
      });
    case "mapValueType": {
      if (value === null || typeof value !== "object" || Array.isArray(value)) return fail("object");
      const literals: Record<string, Literal> = {};
      for (const [k, v] of Object.entries(value)) literals[k] = jsonToLiteral(`${variable}.${k}`, v, t.value);
      return create(LiteralSchema, { value: { case: "map", value: create(LiteralMapSchema, { literals }) } });
    }
    case "blob":
      if (typeof value === "string" && /^[a-z][a-z0-9+.-]*:\/\//.test(value)) {
        return scalarLiteral({
          case: "blob",
          value: create(BlobSchema, { uri: value, metadata: create(BlobMetadataSchema, { type: t.value }) }),
        });
      }
      return fail("blob URI");
    default:
      return fail("a declared type");
  }
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
  const v = literal?.value;
  switch (v?.case) {
    case "scalar": {
      const s = v.value.value;
      switch (s.case) {
        case "primitive": {
          const p = s.value.value;
          switch (p.case) {
            case "integer":
              return p.value >= BigInt(Number.MIN_SAFE_INTEGER) && p.value <= BigInt(Number.MAX_SAFE_INTEGER)
                ? Number(p.value)
                : p.value.toString();
            case "floatValue":
            case "stringValue":
            case "boolean":
              return p.value;
            case "datetime":
              return timestampDate(p.value).toISOString();
            case "duration":
              return durationMs(p.value) / 1000;
            default:
              return null;
          }
        }
        case "blob":
          return s.value.uri;
        case "binary":
          return Buffer.from(s.value.value).toString("base64");
        case "generic":
          return s.value;
        default:
          return null;
      }
    }
    case "collection":
      return v.value.literals.map((l) => literalToJson(l));
    case "map": {
      const out: Record<string, JsonValue> = {};
      for (const [k, l] of Object.entries(v.value.literals)) out[k] = literalToJson(l);
      return out;
    }
    default:
      return null;
  }
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
