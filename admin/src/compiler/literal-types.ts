import { isAssignable } from "@flotilla/common";
import {
  BlobType_BlobDimensionality,
  SimpleType,
  type BlobType,
  type Literal,
  type LiteralType,
  type Scalar,
} from "@flotilla/proto";

/**
 * Static typing of literals: readable type names, well-formed types, and checking concrete
 * literals against a declared type (assignability between declared types is `@flotilla/common`'s
 * {@link isAssignable}, shared with the CLI's pre-check). Pure functions used by the workflow
 * compiler (bindings), launch plans (defaults, fixed inputs) and execution creation (inputs).
 */

/** Returns a short readable name of a type, e.g. `list<integer>`, `blob(csv, single)`. */
export function describeType(type: LiteralType | undefined): string {
  const t = type?.type;
  switch (t?.case) {
    case "simple":
      return (SimpleType[t.value] ?? String(t.value)).toLowerCase();
    case "blob":
      return `blob(${t.value.format || "any"}, ${dimensionality(t.value)})`;
    case "collectionType":
      return `list<${describeType(t.value)}>`;
    case "mapValueType":
      return `map<string, ${describeType(t.value)}>`;
    case "enumType":
      return `enum{${t.value.values.join("|")}}`;
    default:
      return "unset";
  }
}

function dimensionality(blob: BlobType): string {
  return blob.dimensionality === BlobType_BlobDimensionality.MULTIPART ? "multipart" : "single";
}

/**
 * Returns a problem description when `type` itself is malformed (no kind, UNSPECIFIED simple type,
 * blob without dimensionality, empty or duplicate enum values), else undefined.
 */
export function validateType(type: LiteralType | undefined): string | undefined {
  const t = type?.type;
  switch (t?.case) {
    case "simple":
      return t.value === SimpleType.UNSPECIFIED ? "simple type is SIMPLE_TYPE_UNSPECIFIED" : undefined;
    case "blob":
      return t.value.dimensionality === BlobType_BlobDimensionality.UNSPECIFIED
        ? "blob dimensionality is unspecified"
        : undefined;
    case "collectionType":
    case "mapValueType":
      return validateType(t.value);
    case "enumType": {
      const values = t.value.values;
      if (values.length === 0) return "enum type has no values";
      if (new Set(values).size !== values.length) return "enum type has duplicate values";
      return undefined;
    }
    default:
      return "type is not set";
  }
}

/** The binding rule between declared types (enum fits string, enum subsets), re-exported for admin's managers. */
export { isAssignable };

/**
 * Checks a scalar value against `target`. Returns undefined when it fits, else a description
 * of the mismatch (e.g. `expected integer, got string`).
 */
export function checkScalar(target: LiteralType | undefined, scalar: Scalar): string | undefined {
  const t = target?.type;
  const v = scalar.value;
  const got = describeScalar(scalar);
  const mismatch = `expected ${describeType(target)}, got ${got}`;
  if (!t?.case) return "target type is not set";
  if (!v.case) return "scalar value is not set";
  if (t.case === "enumType") {
    if (v.case !== "primitive" || v.value.value.case !== "stringValue") return mismatch;
    const s = v.value.value.value;
    return t.value.values.includes(s)
      ? undefined
      : `value ${JSON.stringify(s)} is not one of ${describeType(target)}`;
  }
  if (t.case === "blob") {
    if (v.case !== "blob") return mismatch;
    const blobType = v.value.metadata?.type;
    if (!blobType) return "blob metadata type is not set";
    const wrap: LiteralType = { ...target!, type: { case: "blob", value: blobType } };
    if (!v.value.uri) return "blob uri is empty";
    return isAssignable(target, wrap)
      ? undefined
      : `expected ${describeType(target)}, got ${describeType(wrap)}`;
  }
  if (t.case !== "simple") return mismatch;
  switch (t.value) {
    case SimpleType.NONE:
      return v.case === "noneType" ? undefined : mismatch;
    case SimpleType.BINARY:
      return v.case === "binary" ? undefined : mismatch;
    case SimpleType.STRUCT:
      return v.case === "generic" ? undefined : mismatch;
    default: {
      if (v.case !== "primitive") return mismatch;
      const p = v.value.value;
      const expected: Partial<Record<SimpleType, string>> = {
        [SimpleType.INTEGER]: "integer",
        [SimpleType.FLOAT]: "floatValue",
        [SimpleType.STRING]: "stringValue",
        [SimpleType.BOOLEAN]: "boolean",
        [SimpleType.DATETIME]: "datetime",
        [SimpleType.DURATION]: "duration",
      };
      if (p.case !== expected[t.value]) return mismatch;
      if (p.case === "floatValue" && !Number.isFinite(p.value)) return "float value is not finite";
      return undefined;
    }
  }
}

/** Readable name of the type of a scalar value, e.g. `integer`, `blob`. */
export function describeScalar(scalar: Scalar): string {
  const v = scalar.value;
  switch (v.case) {
    case "primitive":
      switch (v.value.value.case) {
        case "integer":
          return "integer";
        case "floatValue":
          return "float";
        case "stringValue":
          return "string";
        case "boolean":
          return "boolean";
        case "datetime":
          return "datetime";
        case "duration":
          return "duration";
        default:
          return "empty primitive";
      }
    case "blob":
      return "blob";
    case "binary":
      return "binary";
    case "generic":
      return "struct";
    case "noneType":
      return "none";
    default:
      return "empty scalar";
  }
}

/**
 * Checks a literal value against `target`, recursing into collections and maps. Returns
 * undefined when it fits, else a description including the path inside the value
 * (e.g. `[2]: expected integer, got string`).
 */
export function checkLiteral(
  target: LiteralType | undefined,
  literal: Literal | undefined,
): string | undefined {
  const v = literal?.value;
  const t = target?.type;
  if (!v?.case) return "value is not set";
  switch (v.case) {
    case "scalar":
      return checkScalar(target, v.value);
    case "collection": {
      if (t?.case !== "collectionType") return `expected ${describeType(target)}, got list`;
      for (const [i, item] of v.value.literals.entries()) {
        const problem = checkLiteral(t.value, item);
        if (problem) return `[${i}]: ${problem}`;
      }
      return undefined;
    }
    case "map": {
      if (t?.case !== "mapValueType") return `expected ${describeType(target)}, got map`;
      for (const [key, item] of Object.entries(v.value.literals)) {
        const problem = checkLiteral(t.value, item);
        if (problem) return `[${JSON.stringify(key)}]: ${problem}`;
      }
      return undefined;
    }
  }
}
