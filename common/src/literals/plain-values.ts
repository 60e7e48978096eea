/**
 * Conversions between literals and plain values (what YAML, JSON and `outputs.json` hold),
 * driven by the declared literal types. The walk over a type (enums, lists, maps, blobs) is the
 * same for every caller; what a caller accepts for each simple type, how it words a mismatch and
 * how it writes durations and binaries back is its {@link PlainValueDialect}.
 */
import { create, type JsonObject, type JsonValue } from "@bufbuild/protobuf";
import { durationMs, timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  BlobMetadataSchema,
  BlobSchema,
  LiteralCollectionSchema,
  LiteralMapSchema,
  LiteralSchema,
  PrimitiveSchema,
  ScalarSchema,
  VoidSchema,
  type Literal,
  type LiteralMap,
  type LiteralType,
  type Primitive,
  type Scalar,
  type SimpleType,
} from "@flotilla/proto";

/** How plain values of one simple type become literals. */
export interface SimpleValueRule {
  /** What a value must be, for mismatch errors ("an integer"). */
  readonly expected: string;
  /** The literal for `value`, or undefined when the value does not fit. */
  toLiteral(value: unknown): Literal | undefined;
}

/**
 * One caller's plain values: what it accepts when reading them into literals, how it names what
 * it expected, and how it writes literals back out.
 */
export interface PlainValueDialect {
  /** The accepted forms of each simple type; a simple type without a rule is unsupported. */
  readonly simple: Partial<Record<SimpleType, SimpleValueRule>>;
  /** What each kind of declared type expects, for mismatch errors. */
  readonly expected: {
    /** A simple type without a rule. */
    unsupported(type: SimpleType): string;
    /** An enum with these values. */
    enumValue(values: readonly string[]): string;
    readonly list: string;
    readonly map: string;
    readonly blob: string;
    /** A variable whose type is not set. */
    readonly undeclared: string;
  };
  /** Whether `text` is an acceptable blob URI. */
  isBlobUri(text: string): boolean;
  /** The error thrown when the value at `path` (`x`, `x[2]`, `x.key`) is not what `expected` says. */
  mismatch(path: string, expected: string, value: unknown): Error;
  /** The plain form of a duration of `seconds`. */
  durationValue(seconds: number): JsonValue;
  /** The plain form of a binary scalar. */
  binaryValue(bytes: Uint8Array, tag: string): JsonValue;
  /** Whether map entries are written in key order (stable output) rather than as stored. */
  readonly sortMapKeys: boolean;
}

/** A literal holding one primitive value. */
export function primitiveLiteral(value: Primitive["value"]): Literal {
  return scalarLiteral({ case: "primitive", value: create(PrimitiveSchema, { value }) });
}

/** A literal holding one scalar (primitive, blob, binary, struct or none). */
export function scalarLiteral(value: Scalar["value"]): Literal {
  return create(LiteralSchema, { value: { case: "scalar", value: create(ScalarSchema, { value }) } });
}

/** The literal of the `none` type. */
export function noneLiteral(): Literal {
  return scalarLiteral({ case: "noneType", value: create(VoidSchema) });
}

/** The datetime literal of `date`, or undefined when it is an invalid Date. */
export function datetimeLiteral(date: Date): Literal | undefined {
  return Number.isNaN(date.getTime())
    ? undefined
    : primitiveLiteral({ case: "datetime", value: timestampFromDate(date) });
}

/**
 * Reads the JSON form of simple types that have exactly one: the literal, or undefined when
 * `value` is not in that form. Dialects use them as {@link SimpleValueRule.toLiteral} as they
 * are or after accepting more forms of their own.
 */
export const fromJsonForm = {
  /** A finite number. */
  float: (value: unknown): Literal | undefined =>
    typeof value === "number" && Number.isFinite(value)
      ? primitiveLiteral({ case: "floatValue", value })
      : undefined,
  /** A string. */
  string: (value: unknown): Literal | undefined =>
    typeof value === "string" ? primitiveLiteral({ case: "stringValue", value }) : undefined,
  /** true or false. */
  boolean: (value: unknown): Literal | undefined =>
    typeof value === "boolean" ? primitiveLiteral({ case: "boolean", value }) : undefined,
  /** A date string `Date` can parse (RFC 3339). */
  datetime: (value: unknown): Literal | undefined =>
    typeof value === "string" ? datetimeLiteral(new Date(value)) : undefined,
  /** An object (not null, not an array), kept as a struct. */
  struct: (value: unknown): Literal | undefined =>
    value !== null && typeof value === "object" && !Array.isArray(value)
      ? scalarLiteral({ case: "generic", value: value as JsonObject })
      : undefined,
} as const;

/**
 * Converts a plain value to a literal of `type`. Enum values must be one of the declared
 * strings, lists and maps are converted element by element (naming them `path[i]` and
 * `path.key`), blobs are URIs; simple types follow `dialect.simple`. Throws
 * `dialect.mismatch(...)` for the first value that does not fit.
 */
export function plainToLiteral(
  path: string,
  value: unknown,
  type: LiteralType | undefined,
  dialect: PlainValueDialect,
): Literal {
  const t = type?.type;
  const fail = (expected: string): never => {
    throw dialect.mismatch(path, expected, value);
  };
  switch (t?.case) {
    case "simple": {
      const rule = dialect.simple[t.value];
      if (!rule) return fail(dialect.expected.unsupported(t.value));
      return rule.toLiteral(value) ?? fail(rule.expected);
    }
    case "enumType":
      if (typeof value === "string" && t.value.values.includes(value))
        return primitiveLiteral({ case: "stringValue", value });
      return fail(dialect.expected.enumValue(t.value.values));
    case "collectionType":
      if (!Array.isArray(value)) return fail(dialect.expected.list);
      return create(LiteralSchema, {
        value: {
          case: "collection",
          value: create(LiteralCollectionSchema, {
            literals: value.map((v, i) => plainToLiteral(`${path}[${i}]`, v, t.value, dialect)),
          }),
        },
      });
    case "mapValueType": {
      if (value === null || typeof value !== "object" || Array.isArray(value))
        return fail(dialect.expected.map);
      const literals: Record<string, Literal> = {};
      for (const [k, v] of Object.entries(value))
        literals[k] = plainToLiteral(`${path}.${k}`, v, t.value, dialect);
      return create(LiteralSchema, { value: { case: "map", value: create(LiteralMapSchema, { literals }) } });
    }
    case "blob":
      if (typeof value === "string" && dialect.isBlobUri(value)) {
        return scalarLiteral({
          case: "blob",
          value: create(BlobSchema, { uri: value, metadata: create(BlobMetadataSchema, { type: t.value }) }),
        });
      }
      return fail(dialect.expected.blob);
    default:
      return fail(dialect.expected.undeclared);
  }
}

/**
 * The plain value of a literal: integers as numbers while they are safe (else decimal strings),
 * datetimes as RFC 3339 strings, blobs as their URI, structs as objects, none as null, durations
 * and binaries as the dialect writes them. A literal or primitive without a value is null.
 */
export function literalToPlain(literal: Literal | undefined, dialect: PlainValueDialect): JsonValue {
  const v = literal?.value;
  switch (v?.case) {
    case "scalar": {
      const s = v.value.value;
      switch (s.case) {
        case "primitive":
          return primitiveToPlain(s.value, dialect);
        case "blob":
          return s.value.uri;
        case "binary":
          return dialect.binaryValue(s.value.value, s.value.tag);
        case "generic":
          return s.value;
        default:
          return null;
      }
    }
    case "collection":
      return v.value.literals.map((l) => literalToPlain(l, dialect));
    case "map":
      return literalMapToPlain(v.value, dialect);
    default:
      return null;
  }
}

function primitiveToPlain(primitive: Primitive, dialect: PlainValueDialect): JsonValue {
  const p = primitive.value;
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
      return dialect.durationValue(durationMs(p.value) / 1000);
    default:
      return null;
  }
}

/** A literal map as a plain `{name: value}` object (see {@link literalToPlain}). */
export function literalMapToPlain(
  map: LiteralMap | undefined,
  dialect: PlainValueDialect,
): Record<string, JsonValue> {
  const entries = Object.entries(map?.literals ?? {});
  if (dialect.sortMapKeys) entries.sort(([a], [b]) => a.localeCompare(b));
  return Object.fromEntries(entries.map(([k, l]) => [k, literalToPlain(l, dialect)]));
}
