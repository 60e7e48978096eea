/**
 * Conversions between plain values (YAML/JSON, `--inputs k=v` strings) and Flotilla literals,
 * driven by the declared literal types, plus the textual type syntax of spec files:
 *
 * `integer | float | string | boolean | datetime | duration | struct | none | blob | blob<fmt> |
 * multipart-blob | list<T> | map<T>` and, as a mapping, `{enum: [a, b]}`.
 */
import { create, equals } from "@bufbuild/protobuf";
import { durationFromMs, durationMs, timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  BlobMetadataSchema,
  BlobSchema,
  BlobType_BlobDimensionality,
  BlobTypeSchema,
  EnumTypeSchema,
  LiteralCollectionSchema,
  LiteralMapSchema,
  LiteralSchema,
  LiteralTypeSchema,
  PrimitiveSchema,
  ScalarSchema,
  SimpleType,
  VoidSchema,
  type Literal,
  type LiteralMap,
  type LiteralType,
  type Primitive,
  type Scalar,
} from "@flotilla/proto";

/** A value does not fit its declared type; `message` says what was expected. */
export class LiteralValueError extends Error {
  override readonly name = "LiteralValueError";
  constructor(
    /** Path of the offending value, e.g. `x` or `x[2]`. */
    readonly path: string,
    message: string,
  ) {
    super(message);
  }
}

const SIMPLE_NAMES: Record<string, SimpleType> = {
  integer: SimpleType.INTEGER,
  int: SimpleType.INTEGER,
  float: SimpleType.FLOAT,
  string: SimpleType.STRING,
  str: SimpleType.STRING,
  boolean: SimpleType.BOOLEAN,
  bool: SimpleType.BOOLEAN,
  datetime: SimpleType.DATETIME,
  duration: SimpleType.DURATION,
  struct: SimpleType.STRUCT,
  none: SimpleType.NONE,
};

/** Creates a simple LiteralType. */
export function simpleType(t: SimpleType): LiteralType {
  return create(LiteralTypeSchema, { type: { case: "simple", value: t } });
}

/**
 * Parses the textual type syntax. Returns the LiteralType, or throws an Error whose message
 * lists the accepted forms.
 */
export function parseTypeExpression(text: string): LiteralType {
  const s = text.trim();
  const simple = SIMPLE_NAMES[s];
  if (simple !== undefined) return simpleType(simple);
  const generic = /^(list|map|blob)<(.*)>$/.exec(s);
  if (s === "blob" || s === "multipart-blob") {
    return create(LiteralTypeSchema, {
      type: {
        case: "blob",
        value: create(BlobTypeSchema, {
          dimensionality:
            s === "blob" ? BlobType_BlobDimensionality.SINGLE : BlobType_BlobDimensionality.MULTIPART,
        }),
      },
    });
  }
  if (generic) {
    const [, kind, inner] = generic;
    if (kind === "blob") {
      if (!/^[A-Za-z0-9_.-]{1,64}$/.test(inner)) throw new Error(`invalid blob format "${inner}"`);
      return create(LiteralTypeSchema, {
        type: {
          case: "blob",
          value: create(BlobTypeSchema, {
            format: inner,
            dimensionality: BlobType_BlobDimensionality.SINGLE,
          }),
        },
      });
    }
    const element = parseTypeExpression(inner);
    return create(LiteralTypeSchema, {
      type: { case: kind === "list" ? "collectionType" : "mapValueType", value: element },
    });
  }
  throw new Error(
    `unknown type "${text}" (expected integer, float, string, boolean, datetime, duration, struct, none, blob, blob<format>, multipart-blob, list<T>, map<T> or {enum: [...]})`,
  );
}

/** Creates an enum LiteralType over `values`. */
export function enumType(values: string[]): LiteralType {
  return create(LiteralTypeSchema, { type: { case: "enumType", value: create(EnumTypeSchema, { values }) } });
}

/** The type in spec syntax (`list<integer>`, `enum(a|b)`), for messages and tables. */
export function describeType(t: LiteralType | undefined): string {
  const v = t?.type;
  switch (v?.case) {
    case "simple": {
      const name = Object.entries(SIMPLE_NAMES).find(([, st]) => st === v.value)?.[0];
      return name ?? `simple(${v.value})`;
    }
    case "collectionType":
      return `list<${describeType(v.value)}>`;
    case "mapValueType":
      return `map<${describeType(v.value)}>`;
    case "enumType":
      return `enum(${v.value.values.join("|")})`;
    case "blob":
      return v.value.dimensionality === BlobType_BlobDimensionality.MULTIPART
        ? "multipart-blob"
        : v.value.format
          ? `blob<${v.value.format}>`
          : "blob";
    default:
      return "unknown";
  }
}

/** Whether a value of type `from` may be bound to a variable of type `to` (exact match; blobs without format match any format). */
export function typesCompatible(from: LiteralType | undefined, to: LiteralType | undefined): boolean {
  if (!from || !to) return false;
  const a = from.type;
  const b = to.type;
  if (a.case !== b.case) return false;
  switch (a.case) {
    case "simple":
      return a.value === b.value;
    case "collectionType":
    case "mapValueType":
      return typesCompatible(a.value, b.value as LiteralType);
    case "enumType":
      return equals(EnumTypeSchema, a.value, b.value as typeof a.value);
    case "blob": {
      const bb = b.value as typeof a.value;
      return (
        a.value.dimensionality === bb.dimensionality &&
        (!a.value.format || !bb.format || a.value.format === bb.format)
      );
    }
    default:
      return false;
  }
}

function primitive(value: Primitive["value"]): Literal {
  return scalar({ case: "primitive", value: create(PrimitiveSchema, { value }) });
}

function scalar(value: Scalar["value"]): Literal {
  return create(LiteralSchema, { value: { case: "scalar", value: create(ScalarSchema, { value }) } });
}

/** Parses "90", "90s", "1.5s", "500ms", "5m", "2h", "1h30m", "1d" into milliseconds; undefined if malformed. */
export function parseDurationText(text: string): number | undefined {
  const s = text.trim();
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s) * 1000;
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;
  let total = 0;
  let consumed = 0;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    total += Number(m[1]) * units[m[2]];
    consumed = re.lastIndex;
  }
  return consumed === s.length && s.length > 0 ? total : undefined;
}

function describeValue(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  return `${typeof v} ${JSON.stringify(v)}`;
}

/**
 * Converts a plain value (as read from YAML/JSON) to a literal of `type`. Throws
 * {@link LiteralValueError} naming `path` when it does not fit.
 */
export function valueToLiteral(path: string, value: unknown, type: LiteralType | undefined): Literal {
  const t = type?.type;
  const fail = (expected: string): never => {
    throw new LiteralValueError(path, `expected ${expected}, got ${describeValue(value)}`);
  };
  switch (t?.case) {
    case "simple":
      switch (t.value) {
        case SimpleType.NONE:
          return value === null || value === undefined
            ? scalar({ case: "noneType", value: create(VoidSchema) })
            : fail("null");
        case SimpleType.INTEGER:
          if (typeof value === "number" && Number.isSafeInteger(value))
            return primitive({ case: "integer", value: BigInt(value) });
          if (typeof value === "bigint") return primitive({ case: "integer", value });
          if (typeof value === "string" && /^-?\d{1,19}$/.test(value))
            return primitive({ case: "integer", value: BigInt(value) });
          return fail("an integer");
        case SimpleType.FLOAT:
          if (typeof value === "number" && Number.isFinite(value))
            return primitive({ case: "floatValue", value });
          return fail("a finite number");
        case SimpleType.STRING:
          if (typeof value === "string") return primitive({ case: "stringValue", value });
          if (typeof value === "number" || typeof value === "boolean")
            return primitive({ case: "stringValue", value: String(value) });
          return fail("a string");
        case SimpleType.BOOLEAN:
          if (typeof value === "boolean") return primitive({ case: "boolean", value });
          return fail("true or false");
        case SimpleType.DATETIME: {
          const d = value instanceof Date ? value : typeof value === "string" ? new Date(value) : undefined;
          if (d && !Number.isNaN(d.getTime()))
            return primitive({ case: "datetime", value: timestampFromDate(d) });
          return fail("an RFC 3339 datetime");
        }
        case SimpleType.DURATION: {
          const ms =
            typeof value === "number"
              ? value * 1000
              : typeof value === "string"
                ? parseDurationText(value)
                : undefined;
          if (ms !== undefined && Number.isFinite(ms) && ms >= 0)
            return primitive({ case: "duration", value: durationFromMs(ms) });
          return fail('a duration such as "30s", "5m" or a number of seconds');
        }
        case SimpleType.STRUCT:
          if (value !== null && typeof value === "object" && !Array.isArray(value))
            return scalar({ case: "generic", value: value as never });
          return fail("a mapping");
        default:
          return fail("a supported type");
      }
    case "enumType":
      if (typeof value === "string" && t.value.values.includes(value))
        return primitive({ case: "stringValue", value });
      return fail(`one of ${t.value.values.join(", ")}`);
    case "collectionType":
      if (!Array.isArray(value)) return fail("a list");
      return create(LiteralSchema, {
        value: {
          case: "collection",
          value: create(LiteralCollectionSchema, {
            literals: value.map((v, i) => valueToLiteral(`${path}[${i}]`, v, t.value)),
          }),
        },
      });
    case "mapValueType": {
      if (value === null || typeof value !== "object" || Array.isArray(value)) return fail("a mapping");
      const literals: Record<string, Literal> = {};
      for (const [k, v] of Object.entries(value)) literals[k] = valueToLiteral(`${path}.${k}`, v, t.value);
      return create(LiteralSchema, { value: { case: "map", value: create(LiteralMapSchema, { literals }) } });
    }
    case "blob":
      if (typeof value === "string" && /^[a-z][a-z0-9+.-]*:\/\/\S+$/.test(value)) {
        return scalar({
          case: "blob",
          value: create(BlobSchema, { uri: value, metadata: create(BlobMetadataSchema, { type: t.value }) }),
        });
      }
      return fail("a blob URI such as file:///data/x.csv");
    default:
      return fail("a declared type");
  }
}

/**
 * Converts a `--inputs k=v` string to a literal of `type`: numbers, booleans, datetimes and
 * durations are parsed from the text, strings are taken verbatim, lists/maps/structs are JSON.
 */
export function textToLiteral(name: string, text: string, type: LiteralType | undefined): Literal {
  const t = type?.type;
  let value: unknown = text;
  if (t?.case === "simple") {
    if (t.value === SimpleType.INTEGER) value = /^-?\d+$/.test(text.trim()) ? text.trim() : text;
    else if (t.value === SimpleType.FLOAT)
      value = text.trim() !== "" && Number.isFinite(Number(text)) ? Number(text) : text;
    else if (t.value === SimpleType.BOOLEAN) value = text === "true" ? true : text === "false" ? false : text;
    else if (t.value === SimpleType.NONE) value = text === "" || text === "null" ? null : text;
    else if (t.value === SimpleType.STRUCT) value = parseJson(name, text);
  } else if (t?.case === "collectionType" || t?.case === "mapValueType") {
    value = parseJson(name, text);
  }
  return valueToLiteral(name, value, type);
}

function parseJson(name: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new LiteralValueError(name, `expected JSON, got ${JSON.stringify(text)}`);
  }
}

/** The plain value of a literal (for display and JSON): integers as numbers when safe, blobs as URIs. */
export function literalToValue(lit: Literal | undefined): unknown {
  const v = lit?.value;
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
            case "datetime":
              return timestampDate(p.value).toISOString();
            case "duration":
              return `${durationMs(p.value) / 1000}s`;
            default:
              return p.value;
          }
        }
        case "blob":
          return s.value.uri;
        case "binary":
          return `<${s.value.value.length} bytes${s.value.tag ? ` ${s.value.tag}` : ""}>`;
        case "generic":
          return s.value;
        case "noneType":
          return null;
        default:
          return null;
      }
    }
    case "collection":
      return v.value.literals.map(literalToValue);
    case "map":
      return literalMapToValues(v.value);
    default:
      return null;
  }
}

/** A literal map as a plain `{name: value}` object. */
export function literalMapToValues(map: LiteralMap | undefined): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(map?.literals ?? {})
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, l]) => [k, literalToValue(l)]),
  );
}
