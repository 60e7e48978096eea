import {
  fromJson,
  toBinary,
  toJson,
  type DescMessage,
  type JsonValue,
  type MessageShape,
} from "@bufbuild/protobuf";
import { isDnsLabel, isLabelValue, sha256Hex } from "@flotilla/common";
import { ResourceType, type Identifier } from "@flotilla/proto";
import { InvalidArgumentError } from "../errors.js";

const ENTITY_NAME = /^[a-zA-Z][a-zA-Z0-9_.-]{0,254}$/;
const VERSION = /^[a-zA-Z0-9_.-]{1,128}$/;

/** Throws {@link InvalidArgumentError} unless `value` is a DNS-1123 label of at most `max` chars. */
export function requireDnsLabel(field: string, value: string, max = 63): void {
  if (!value) throw new InvalidArgumentError(field, "is required");
  if (!isDnsLabel(value, max)) {
    throw new InvalidArgumentError(
      field,
      `${JSON.stringify(value)} is not a DNS-1123 label of at most ${max} characters`,
    );
  }
}

/** Throws unless `value` is an entity name (1-255 chars of [a-zA-Z0-9_.-], starting with a letter). */
export function requireEntityName(field: string, value: string): void {
  if (!value) throw new InvalidArgumentError(field, "is required");
  if (!ENTITY_NAME.test(value)) {
    throw new InvalidArgumentError(
      field,
      `${JSON.stringify(value)} must be 1-255 chars of [a-zA-Z0-9_.-] starting with a letter`,
    );
  }
}

const typeNames: Record<number, string> = {
  [ResourceType.TASK]: "RESOURCE_TYPE_TASK",
  [ResourceType.WORKFLOW]: "RESOURCE_TYPE_WORKFLOW",
  [ResourceType.LAUNCH_PLAN]: "RESOURCE_TYPE_LAUNCH_PLAN",
};

/**
 * Throws {@link InvalidArgumentError} unless `id` is set, has resource type `type` and valid
 * project, domain, name and version. `requireVersion` false allows an empty version.
 */
export function requireIdentifier(
  field: string,
  id: Identifier | undefined,
  type: ResourceType,
  requireVersion = true,
): Identifier {
  if (!id) throw new InvalidArgumentError(field, "is required");
  if (id.resourceType !== type) {
    throw new InvalidArgumentError(
      `${field}.resource_type`,
      `must be ${typeNames[type]}, got ${typeNames[id.resourceType] ?? id.resourceType}`,
    );
  }
  requireDnsLabel(`${field}.project`, id.project);
  requireDnsLabel(`${field}.domain`, id.domain);
  requireEntityName(`${field}.name`, id.name);
  if (requireVersion || id.version) {
    if (!VERSION.test(id.version)) {
      throw new InvalidArgumentError(
        `${field}.version`,
        `${JSON.stringify(id.version)} must be 1-128 chars of [a-zA-Z0-9_.-]`,
      );
    }
  }
  return id;
}

function sortKeys(value: JsonValue): JsonValue {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, sortKeys(value[k])]),
    );
  }
  return value;
}

/**
 * Deterministic binary serialization of a message: map entries in key order, fields in number
 * order, unknown fields dropped. Returns the bytes; pure.
 */
export function canonicalBinary<Desc extends DescMessage>(
  schema: Desc,
  message: MessageShape<Desc>,
): Uint8Array {
  const normalized = fromJson(schema, sortKeys(toJson(schema, message)));
  return toBinary(schema, normalized);
}

/** `"sha256:" + hex` of the canonical binary serialization of `message`. */
export function digestOf<Desc extends DescMessage>(schema: Desc, message: MessageShape<Desc>): string {
  return `sha256:${sha256Hex(canonicalBinary(schema, message))}`;
}

/**
 * Returns `value` when it is a valid Kubernetes label value, else a bounded stand-in
 * (truncated, with a hash suffix) that is one.
 */
export function labelValue(value: string): string {
  if (isLabelValue(value)) return value;
  const cleaned = value
    .replace(/[^A-Za-z0-9_.-]/g, "-")
    .slice(0, 52)
    .replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, "");
  return `${cleaned}-${sha256Hex(value).slice(0, 10)}`.replace(/^-/, "");
}
