import assert from "node:assert/strict";
import { test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  BinarySchema,
  BlobType_BlobDimensionality,
  BlobTypeSchema,
  EnumTypeSchema,
  LiteralSchema,
  LiteralTypeSchema,
  SimpleType,
  type Literal,
  type LiteralType,
  type Scalar,
} from "@flotilla/proto";
import {
  datetimeLiteral,
  fromJsonForm,
  literalMapToPlain,
  literalToPlain,
  noneLiteral,
  plainToLiteral,
  primitiveLiteral,
  scalarLiteral,
  type PlainValueDialect,
} from "./plain-values.js";

class Mismatch extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(message);
  }
}

/** A small dialect: integers and strings only, durations as "Ns", binaries as base64. */
function dialect(options: { sortMapKeys: boolean } = { sortMapKeys: false }): PlainValueDialect {
  return {
    simple: {
      [SimpleType.INTEGER]: {
        expected: "an integer",
        toLiteral: (v) =>
          typeof v === "number" && Number.isInteger(v)
            ? primitiveLiteral({ case: "integer", value: BigInt(v) })
            : undefined,
      },
      [SimpleType.STRING]: {
        expected: "a string",
        toLiteral: (v) =>
          typeof v === "string" ? primitiveLiteral({ case: "stringValue", value: v }) : undefined,
      },
      [SimpleType.NONE]: { expected: "null", toLiteral: (v) => (v === null ? noneLiteral() : undefined) },
    },
    expected: {
      unsupported: (type) => `a supported type, not ${SimpleType[type]}`,
      enumValue: (values) => `one of ${values.join("/")}`,
      list: "a list",
      map: "a map",
      blob: "a URI",
      undeclared: "a typed variable",
    },
    isBlobUri: (text) => text.startsWith("s3://"),
    mismatch: (path, expected, value) =>
      new Mismatch(path, `${path}: expected ${expected}, got ${typeof value}`),
    durationValue: (seconds) => `${seconds}s`,
    binaryValue: (bytes) => Buffer.from(bytes).toString("base64"),
    sortMapKeys: options.sortMapKeys,
  };
}

const simple = (value: SimpleType): LiteralType =>
  create(LiteralTypeSchema, { type: { case: "simple", value } });
const listOf = (value: LiteralType): LiteralType =>
  create(LiteralTypeSchema, { type: { case: "collectionType", value } });
const mapOf = (value: LiteralType): LiteralType =>
  create(LiteralTypeSchema, { type: { case: "mapValueType", value } });
const INTEGER = simple(SimpleType.INTEGER);

/** The scalar a literal holds, if any. */
function scalarOf(lit: Literal): Scalar["value"] | undefined {
  return lit.value.case === "scalar" ? lit.value.value.value : undefined;
}

/** Runs `fn` and returns the Mismatch it throws (failing when it throws nothing else). */
function mismatchOf(fn: () => unknown): Mismatch {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof Mismatch, `expected a Mismatch, got ${String(err)}`);
    return err;
  }
  assert.fail("expected a Mismatch, nothing was thrown");
}

test("simple types follow the dialect's rules, and a type without a rule is unsupported", () => {
  const d = dialect();
  assert.equal(literalToPlain(plainToLiteral("n", 7, INTEGER, d), d), 7);
  assert.equal(literalToPlain(plainToLiteral("s", "hi", simple(SimpleType.STRING), d), d), "hi");
  assert.equal(scalarOf(plainToLiteral("z", null, simple(SimpleType.NONE), d))?.case, "noneType");

  const wrong = mismatchOf(() => plainToLiteral("n", "7", INTEGER, d));
  assert.equal(wrong.path, "n");
  assert.equal(wrong.message, "n: expected an integer, got string");
  assert.equal(
    mismatchOf(() => plainToLiteral("f", 1.5, simple(SimpleType.FLOAT), d)).message,
    "f: expected a supported type, not FLOAT, got number",
  );
});

test("each JSON form reads only its own JSON type", () => {
  const d = dialect();
  const read = (form: keyof typeof fromJsonForm, value: unknown) => {
    const lit = fromJsonForm[form](value);
    return lit && literalToPlain(lit, d);
  };
  assert.equal(read("float", 2.5), 2.5);
  assert.equal(read("string", "x"), "x");
  assert.equal(read("boolean", true), true);
  assert.equal(read("datetime", "2024-05-01T12:30:00+02:00"), "2024-05-01T10:30:00.000Z");
  assert.deepEqual(read("struct", { a: { b: 1 } }), { a: { b: 1 } });

  const notTheForm: Array<[keyof typeof fromJsonForm, unknown[]]> = [
    ["float", [Number.NaN, Infinity, "1.5", null]],
    ["string", [1, true, null, undefined]],
    ["boolean", ["true", 0, null]],
    ["datetime", ["yesterday", new Date(0), 0]],
    ["struct", [null, [1], "{}", 3]],
  ];
  for (const [form, values] of notTheForm) {
    for (const v of values) assert.equal(fromJsonForm[form](v), undefined, `${form} of ${String(v)}`);
  }
  assert.equal(datetimeLiteral(new Date("not a date")), undefined);
  assert.equal(literalToPlain(datetimeLiteral(new Date(0)), d), "1970-01-01T00:00:00.000Z");
});

test("enum values must be one of the declared strings and become string literals", () => {
  const d = dialect();
  const colour = create(LiteralTypeSchema, {
    type: { case: "enumType", value: create(EnumTypeSchema, { values: ["red", "green"] }) },
  });
  const lit = plainToLiteral("c", "green", colour, d);
  assert.equal(literalToPlain(lit, d), "green");
  assert.equal(
    mismatchOf(() => plainToLiteral("c", "blue", colour, d)).message,
    "c: expected one of red/green, got string",
  );
});

test("lists and maps convert element by element and name the element that does not fit", () => {
  const d = dialect();
  const lit = plainToLiteral("xs", [{ a: 1 }, { b: 2, c: 3 }], listOf(mapOf(INTEGER)), d);
  assert.deepEqual(literalToPlain(lit, d), [{ a: 1 }, { b: 2, c: 3 }]);

  assert.equal(mismatchOf(() => plainToLiteral("xs", [1, "two"], listOf(INTEGER), d)).path, "xs[1]");
  assert.equal(mismatchOf(() => plainToLiteral("m", { a: 1, b: true }, mapOf(INTEGER), d)).path, "m.b");
  assert.equal(
    mismatchOf(() => plainToLiteral("xs", { 0: 1 }, listOf(INTEGER), d)).message,
    "xs: expected a list, got object",
  );
  for (const notAMap of [null, [1], 3]) {
    assert.match(mismatchOf(() => plainToLiteral("m", notAMap, mapOf(INTEGER), d)).message, /expected a map/);
  }
});

test("blobs are URIs the dialect accepts and carry the declared blob type", () => {
  const d = dialect();
  const csv = create(BlobTypeSchema, { format: "csv", dimensionality: BlobType_BlobDimensionality.SINGLE });
  const type = create(LiteralTypeSchema, { type: { case: "blob", value: csv } });
  const lit = plainToLiteral("data", "s3://bucket/x.csv", type, d);
  const scalar = scalarOf(lit);
  assert.equal(scalar?.case, "blob");
  assert.equal(scalar.value.uri, "s3://bucket/x.csv");
  assert.equal(scalar.value.metadata?.type?.format, "csv");
  assert.equal(literalToPlain(lit, d), "s3://bucket/x.csv");
  assert.equal(
    mismatchOf(() => plainToLiteral("data", "/tmp/x.csv", type, d)).message,
    "data: expected a URI, got string",
  );
});

test("a variable without a declared type accepts nothing", () => {
  assert.equal(
    mismatchOf(() => plainToLiteral("x", 1, undefined, dialect())).message,
    "x: expected a typed variable, got number",
  );
});

test("literals read back as plain values; durations and binaries as the dialect writes them", () => {
  const d = dialect();
  const at = new Date("2024-05-01T12:30:00.000Z");
  const cases: Array<[string, Literal, unknown]> = [
    ["safe integer", primitiveLiteral({ case: "integer", value: -42n }), -42],
    ["large integer", primitiveLiteral({ case: "integer", value: 2n ** 60n }), "1152921504606846976"],
    ["float", primitiveLiteral({ case: "floatValue", value: 0.25 }), 0.25],
    ["boolean", primitiveLiteral({ case: "boolean", value: false }), false],
    ["datetime", primitiveLiteral({ case: "datetime", value: timestampFromDate(at) }), at.toISOString()],
    ["duration", primitiveLiteral({ case: "duration", value: durationFromMs(90_500) }), "90.5s"],
    [
      "binary",
      scalarLiteral({ case: "binary", value: create(BinarySchema, { value: Uint8Array.of(1, 2, 3) }) }),
      "AQID",
    ],
    ["struct", scalarLiteral({ case: "generic", value: { a: [1, "x"] } }), { a: [1, "x"] }],
    ["none", noneLiteral(), null],
    ["primitive without a value", primitiveLiteral({ case: undefined }), null],
    ["literal without a value", create(LiteralSchema), null],
  ];
  for (const [name, lit, want] of cases) assert.deepEqual(literalToPlain(lit, d), want, name);
  assert.equal(literalToPlain(undefined, d), null);
});

test("map entries are written in key order only when the dialect sorts them", () => {
  const values = { b: 2, c: 3, a: 1 };
  const lit = plainToLiteral("m", values, mapOf(INTEGER), dialect());
  const map = lit.value.case === "map" ? lit.value.value : undefined;
  assert.deepEqual(Object.keys(literalMapToPlain(map, dialect())), ["b", "c", "a"]);
  assert.deepEqual(Object.keys(literalMapToPlain(map, dialect({ sortMapKeys: true }))), ["a", "b", "c"]);
  assert.deepEqual(Object.keys(literalToPlain(lit, dialect({ sortMapKeys: true })) as object), [
    "a",
    "b",
    "c",
  ]);
  assert.deepEqual(literalMapToPlain(undefined, dialect()), {});
});
