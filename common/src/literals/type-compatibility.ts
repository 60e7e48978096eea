/**
 * The one rule for binding a value of one declared literal type to a variable of another: the
 * admin's workflow compiler and launch plans enforce it, and the CLI's pre-check calls the same
 * function, so a spec the CLI accepts is one the admin accepts.
 */
import { SimpleType, type LiteralType } from "@flotilla/proto";

/**
 * Whether a value of type `source` (an upstream output, a workflow input, a launch plan
 * parameter) may be bound to a variable of type `target`:
 * - simple types must be equal, except that an enum fits a string;
 * - blobs must have the same dimensionality, and the same format unless either is empty ("any");
 * - lists and maps compare their element types by the same rule;
 * - an enum fits an enum that allows every one of its values (a subset).
 * Returns false when either type is missing or unset. Pure.
 */
export function isAssignable(target: LiteralType | undefined, source: LiteralType | undefined): boolean {
  const t = target?.type;
  const s = source?.type;
  if (!t?.case || !s?.case) return false;
  switch (t.case) {
    case "simple":
      if (s.case === "simple") return s.value === t.value;
      return s.case === "enumType" && t.value === SimpleType.STRING;
    case "blob":
      return (
        s.case === "blob" &&
        s.value.dimensionality === t.value.dimensionality &&
        (t.value.format === "" || s.value.format === "" || s.value.format === t.value.format)
      );
    case "collectionType":
      return s.case === "collectionType" && isAssignable(t.value, s.value);
    case "mapValueType":
      return s.case === "mapValueType" && isAssignable(t.value, s.value);
    case "enumType": {
      if (s.case !== "enumType") return false;
      const allowed = new Set(t.value.values);
      return s.value.values.every((v) => allowed.has(v));
    }
  }
}
