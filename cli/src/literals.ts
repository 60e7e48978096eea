/**
 * Conversions between plain values (YAML/JSON, `--inputs k=v` strings) and Flotilla literals,
 * driven by the declared literal types, plus the textual type syntax of spec files:
 *
 * `integer | float | string | boolean | datetime | duration | struct | none | blob | blob<fmt> |
 * multipart-blob | list<T> | map<T>` and, as a mapping, `{enum: [a, b]}`.
 *
 * The walk over a declared type is `@flotilla/common`'s; this module is the CLI's dialect of it
 * (what users may write for each simple type, and the wording of mismatches).
 */
import { create } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import {
  datetimeLiteral,
  fromJsonForm,
  literalMapToPlain,
  literalToPlain,
  noneLiteral,
  plainToLiteral,
  primitiveLiteral,
  tryParseDuration,
  type PlainValueDialect,
} from "@flotilla/common";
import {
  BlobType_BlobDimensionality,
  BlobTypeSchema,
  EnumTypeSchema,
  LiteralTypeSchema,
  SimpleType,
  type Literal,
  type LiteralMap,
  type LiteralType,
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

function describeValue(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  return `${typeof v} ${JSON.stringify(v)}`;
}

function integerLiteral(value: bigint): Literal {
  return primitiveLiteral({ case: "integer", value });
}

/**
 * Values as users write them in spec files and `--inputs` files: integers also as bigints and
 * decimal strings, strings also from numbers and booleans, datetimes also as Dates, durations
 * also as text ("30s", "1h30m"). Literals read back with durations as "Ns" text, binaries as a
 * size summary and maps in key order.
 */
const USER_VALUES: PlainValueDialect = {
  simple: {
    [SimpleType.NONE]: {
      expected: "null",
      toLiteral: (v) => (v === null || v === undefined ? noneLiteral() : undefined),
    },
    [SimpleType.INTEGER]: {
      expected: "an integer",
      toLiteral: (v) => {
        if (typeof v === "number" && Number.isSafeInteger(v)) return integerLiteral(BigInt(v));
        if (typeof v === "bigint") return integerLiteral(v);
        if (typeof v === "string" && /^-?\d{1,19}$/.test(v)) return integerLiteral(BigInt(v));
        return undefined;
      },
    },
    [SimpleType.FLOAT]: { expected: "a finite number", toLiteral: fromJsonForm.float },
    [SimpleType.STRING]: {
      expected: "a string",
      toLiteral: (v) => fromJsonForm.string(typeof v === "number" || typeof v === "boolean" ? String(v) : v),
    },
    [SimpleType.BOOLEAN]: { expected: "true or false", toLiteral: fromJsonForm.boolean },
    [SimpleType.DATETIME]: {
      expected: "an RFC 3339 datetime",
      toLiteral: (v) => (v instanceof Date ? datetimeLiteral(v) : fromJsonForm.datetime(v)),
    },
    [SimpleType.DURATION]: {
      expected: 'a duration such as "30s", "5m" or a number of seconds',
      toLiteral: (v) => {
        const ms =
          typeof v === "number"
            ? v * 1000
            : typeof v === "string"
              ? tryParseDuration(v, { bareSeconds: true })
              : undefined;
        return ms !== undefined && Number.isFinite(ms) && ms >= 0
          ? primitiveLiteral({ case: "duration", value: durationFromMs(ms) })
          : undefined;
      },
    },
    [SimpleType.STRUCT]: { expected: "a mapping", toLiteral: fromJsonForm.struct },
  },
  expected: {
    unsupported: () => "a supported type",
    enumValue: (values) => `one of ${values.join(", ")}`,
    list: "a list",
    map: "a mapping",
    blob: "a blob URI such as file:///data/x.csv",
    undeclared: "a declared type",
  },
  isBlobUri: (text) => /^[a-z][a-z0-9+.-]*:\/\/\S+$/.test(text),
  mismatch: (path, expected, value) =>
    new LiteralValueError(path, `expected ${expected}, got ${describeValue(value)}`),
  durationValue: (seconds) => `${seconds}s`,
  binaryValue: (bytes, tag) => `<${bytes.length} bytes${tag ? ` ${tag}` : ""}>`,
  sortMapKeys: true,
};

/**
 * Converts a plain value (as read from YAML/JSON) to a literal of `type`. Throws
 * {@link LiteralValueError} naming `path` when it does not fit.
 */
export function valueToLiteral(path: string, value: unknown, type: LiteralType | undefined): Literal {
  return plainToLiteral(path, value, type, USER_VALUES);
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
  return literalToPlain(lit, USER_VALUES);
}

/** A literal map as a plain `{name: value}` object, in key order. */
export function literalMapToValues(map: LiteralMap | undefined): Record<string, unknown> {
  return literalMapToPlain(map, USER_VALUES);
}
