/**
 * Structural-schema handling for custom resources, as kube-apiserver applies it: defaulting,
 * pruning of unknown fields, and validation of `type`, `required`, `enum` and basic bounds with
 * kube's field-path wording (`spec.replicas: Invalid value: "string": spec.replicas in body must
 * be of type integer: "string"`).
 */
import type { StatusCause } from "./errors.js";
import { isObject } from "./objects.js";

/** The subset of OpenAPI v3 schema a CRD version declares. */
export interface JsonSchema {
  type?: string;
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  additionalProperties?: JsonSchema | boolean;
  required?: string[];
  enum?: unknown[];
  default?: unknown;
  nullable?: boolean;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  pattern?: string;
  format?: string;
  description?: string;
  "x-kubernetes-preserve-unknown-fields"?: boolean;
  "x-kubernetes-int-or-string"?: boolean;
  "x-kubernetes-embedded-resource"?: boolean;
}

function typeOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  return typeof value;
}

function matchesType(expected: string, value: unknown): boolean {
  const actual = typeOf(value);
  if (expected === "number") return actual === "number" || actual === "integer";
  return actual === expected;
}

/**
 * Applies `default`s and drops fields the schema does not declare (unless
 * `x-kubernetes-preserve-unknown-fields`), in place, recording each dropped field's path in
 * `pruned`. `metadata`, `apiVersion` and `kind` at the
 * root are never pruned.
 */
export function defaultAndPrune(schema: JsonSchema, value: unknown, pruned: string[] = [], path = ""): void {
  const root = path === "";
  if (isObject(value)) {
    const props = schema.properties ?? {};
    for (const [key, propSchema] of Object.entries(props)) {
      if (value[key] === undefined && propSchema.default !== undefined) {
        value[key] = structuredClone(propSchema.default);
      }
    }
    for (const key of Object.keys(value)) {
      if (root && (key === "apiVersion" || key === "kind" || key === "metadata")) continue;
      const propSchema = props[key];
      if (propSchema) {
        defaultAndPrune(propSchema, value[key], pruned, child(path, key));
      } else if (typeof schema.additionalProperties === "object") {
        defaultAndPrune(schema.additionalProperties, value[key], pruned, child(path, key));
      } else if (
        !schema["x-kubernetes-preserve-unknown-fields"] &&
        schema.additionalProperties !== true &&
        !schema["x-kubernetes-embedded-resource"]
      ) {
        pruned.push(child(path, key));
        delete value[key];
      }
    }
  } else if (Array.isArray(value) && schema.items) {
    value.forEach((item, i) => defaultAndPrune(schema.items!, item, pruned, `${path}[${i}]`));
  }
}

/**
 * Validates a value against the schema. Returns kube-worded field causes (empty when valid).
 * `path` is the field path of `value` (empty at the root).
 */
export function validateSchema(schema: JsonSchema, value: unknown, path = ""): StatusCause[] {
  const causes: StatusCause[] = [];
  walk(schema, value, path, causes, true);
  return causes;
}

function child(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

function walk(schema: JsonSchema, value: unknown, path: string, causes: StatusCause[], root: boolean): void {
  if (value === null && schema.nullable) return;
  if (schema["x-kubernetes-int-or-string"]) {
    if (typeof value !== "string" && typeOf(value) !== "integer") {
      causes.push({
        reason: "FieldValueInvalid",
        message: `Invalid value: ${JSON.stringify(value)}: ${path} in body must be of type integer,string: ${JSON.stringify(typeOf(value))}`,
        field: path,
      });
    }
    return;
  }
  if (schema.type && !matchesType(schema.type, value)) {
    causes.push({
      reason: "FieldValueTypeInvalid",
      message: `Invalid value: ${JSON.stringify(typeOf(value))}: ${path} in body must be of type ${schema.type}: ${JSON.stringify(typeOf(value))}`,
      field: path,
    });
    return;
  }
  if (schema.enum && !schema.enum.some((e) => JSON.stringify(e) === JSON.stringify(value))) {
    causes.push({
      reason: "FieldValueNotSupported",
      message: `Unsupported value: ${JSON.stringify(value)}: supported values: ${schema.enum.map((e) => JSON.stringify(e)).join(", ")}`,
      field: path,
    });
  }
  if (typeof value === "number") {
    if (schema.minimum !== undefined && value < schema.minimum) {
      causes.push({
        reason: "FieldValueInvalid",
        message: `Invalid value: ${value}: ${path} in body should be greater than or equal to ${schema.minimum}`,
        field: path,
      });
    }
    if (schema.maximum !== undefined && value > schema.maximum) {
      causes.push({
        reason: "FieldValueInvalid",
        message: `Invalid value: ${value}: ${path} in body should be less than or equal to ${schema.maximum}`,
        field: path,
      });
    }
  }
  if (typeof value === "string") {
    if (schema.minLength !== undefined && value.length < schema.minLength) {
      causes.push({
        reason: "FieldValueInvalid",
        message: `Invalid value: ${JSON.stringify(value)}: ${path} in body should be at least ${schema.minLength} chars long`,
        field: path,
      });
    }
    if (schema.maxLength !== undefined && value.length > schema.maxLength) {
      causes.push({
        reason: "FieldValueTooLong",
        message: `Too long: may not be more than ${schema.maxLength} bytes`,
        field: path,
      });
    }
    if (schema.pattern !== undefined && !new RegExp(schema.pattern).test(value)) {
      causes.push({
        reason: "FieldValueInvalid",
        message: `Invalid value: ${JSON.stringify(value)}: ${path} in body should match '${schema.pattern}'`,
        field: path,
      });
    }
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems) {
      causes.push({
        reason: "FieldValueInvalid",
        message: `Invalid value: ${value.length}: ${path} in body should have at least ${schema.minItems} items`,
        field: path,
      });
    }
    if (schema.maxItems !== undefined && value.length > schema.maxItems) {
      causes.push({
        reason: "FieldValueTooMany",
        message: `Too many: ${value.length}: must have at most ${schema.maxItems} items`,
        field: path,
      });
    }
    if (schema.items) value.forEach((item, i) => walk(schema.items!, item, `${path}[${i}]`, causes, false));
  }
  if (isObject(value)) {
    for (const req of schema.required ?? []) {
      if (value[req] === undefined) {
        causes.push({ reason: "FieldValueRequired", message: "Required value", field: child(path, req) });
      }
    }
    for (const [key, v] of Object.entries(value)) {
      if (root && (key === "metadata" || key === "apiVersion" || key === "kind")) continue;
      const propSchema = schema.properties?.[key];
      if (propSchema) walk(propSchema, v, child(path, key), causes, false);
      else if (typeof schema.additionalProperties === "object") {
        walk(schema.additionalProperties, v, child(path, key), causes, false);
      }
    }
  }
}
