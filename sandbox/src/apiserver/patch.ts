/**
 * The three patch formats kube-apiserver accepts: JSON merge patch (RFC 7386), JSON patch
 * (RFC 6902) and strategic merge patch. Strategic merge is simplified: list merge keys come
 * from a fixed table keyed by field name (containers/env/volumes by `name`, conditions by `type`,
 * ownerReferences by `uid`, ...) rather than from per-type OpenAPI extensions; `finalizers` merge
 * as a set; the `$patch`, `$setElementOrder/…`, `$deleteFromPrimitiveList/…` and `$retainKeys`
 * directives are honoured.
 */
import jsonPatch from "fast-json-patch";
import { ApiError, badRequest, unsupportedMediaType } from "./errors.js";

type Json = unknown;
type JsonObject = Record<string, unknown>;

function isObject(v: unknown): v is JsonObject {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** RFC 7386 JSON merge patch: objects merge recursively, `null` deletes, anything else replaces. */
export function mergePatch(target: Json, patch: Json): Json {
  if (!isObject(patch)) return structuredClone(patch);
  const result: JsonObject = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key], value);
  }
  return result;
}

/** List fields merged by key in strategic merge patches, keyed by field name. */
const MERGE_KEYS: Record<string, string> = {
  containers: "name",
  initContainers: "name",
  ephemeralContainers: "name",
  env: "name",
  volumes: "name",
  volumeMounts: "mountPath",
  volumeDevices: "devicePath",
  ports: "containerPort",
  conditions: "type",
  ownerReferences: "uid",
  imagePullSecrets: "name",
  containerStatuses: "name",
  initContainerStatuses: "name",
  taints: "key",
  addresses: "type",
  hostAliases: "ip",
  topologySpreadConstraints: "topologyKey",
  resourceClaims: "name",
};

/** Primitive lists merged as sets in strategic merge patches. */
const SET_LISTS = new Set(["finalizers"]);

/** Applies a strategic merge patch with the simplifications described in the module comment. */
export function strategicMergePatch(target: Json, patch: Json): Json {
  if (!isObject(patch)) return structuredClone(patch);
  if (patch.$patch === "replace") {
    const { $patch: _ignored, ...rest } = patch;
    return structuredClone(rest);
  }
  if (patch.$patch === "delete") return undefined;
  const result: JsonObject = isObject(target) ? { ...target } : {};
  const retainKeys = Array.isArray(patch.$retainKeys) ? (patch.$retainKeys as string[]) : undefined;
  for (const [key, value] of Object.entries(patch)) {
    if (key.startsWith("$") && !key.startsWith("$deleteFromPrimitiveList/")) continue;
    if (key.startsWith("$deleteFromPrimitiveList/")) {
      const field = key.slice("$deleteFromPrimitiveList/".length);
      const current = result[field];
      if (Array.isArray(current) && Array.isArray(value)) {
        const remove = new Set(value.map((v) => JSON.stringify(v)));
        result[field] = current.filter((v) => !remove.has(JSON.stringify(v)));
      }
      continue;
    }
    if (value === null) {
      delete result[key];
      continue;
    }
    const mergeKey = MERGE_KEYS[key];
    if (Array.isArray(value) && mergeKey && Array.isArray(result[key])) {
      result[key] = mergeList(result[key] as Json[], value, mergeKey);
    } else if (Array.isArray(value) && SET_LISTS.has(key) && Array.isArray(result[key])) {
      const merged = [...(result[key] as Json[])];
      for (const v of value) if (!merged.some((m) => JSON.stringify(m) === JSON.stringify(v))) merged.push(v);
      result[key] = merged;
    } else if (Array.isArray(value)) {
      result[key] = value
        .filter((v) => !(isObject(v) && v.$patch === "delete"))
        .map((v) => stripDirectives(v));
    } else if (isObject(value)) {
      const merged = strategicMergePatch(result[key], value);
      if (merged === undefined) delete result[key];
      else result[key] = merged;
    } else {
      result[key] = value;
    }
  }
  if (retainKeys) {
    for (const key of Object.keys(result)) if (!retainKeys.includes(key)) delete result[key];
  }
  return result;
}

function stripDirectives(v: Json): Json {
  if (Array.isArray(v)) return v.map(stripDirectives);
  if (!isObject(v)) return v;
  const out: JsonObject = {};
  for (const [k, val] of Object.entries(v)) {
    if (k.startsWith("$")) continue;
    out[k] = stripDirectives(val);
  }
  return out;
}

function mergeList(current: Json[], patch: Json[], mergeKey: string): Json[] {
  if (patch.some((p) => isObject(p) && p.$patch === "replace")) {
    return patch.filter((p) => !(isObject(p) && p.$patch === "replace")).map(stripDirectives);
  }
  const result = [...current];
  for (const item of patch) {
    if (!isObject(item) || item[mergeKey] === undefined) {
      result.push(stripDirectives(item));
      continue;
    }
    const index = result.findIndex((c) => isObject(c) && c[mergeKey] === item[mergeKey]);
    if (item.$patch === "delete") {
      if (index >= 0) result.splice(index, 1);
      continue;
    }
    if (index >= 0) result[index] = strategicMergePatch(result[index], item);
    else result.push(stripDirectives(item));
  }
  return result;
}

/** The patch content types the server accepts. */
export const PATCH_TYPES = [
  "application/json-patch+json",
  "application/merge-patch+json",
  "application/strategic-merge-patch+json",
] as const;

/**
 * Applies a patch body of the given content type to `target`, which the caller passes as a
 * throwaway copy (JSON patches edit it in place). Returns the patched object; throws a 415 ApiError for unknown types and a 400/422-style error for bad patches.
 * `strategic` is false for custom resources, where kube refuses strategic merge patches.
 */
export function applyPatch(
  target: JsonObject,
  contentType: string,
  body: string,
  strategic: boolean,
): JsonObject {
  const type = contentType.split(";")[0].trim();
  let parsed: Json;
  try {
    parsed = JSON.parse(body);
  } catch (err) {
    throw badRequest(`error decoding patch: ${(err as Error).message}`);
  }
  if (type === "application/merge-patch+json") {
    const out = mergePatch(target, parsed);
    if (!isObject(out)) throw badRequest("merge patch must be a JSON object");
    return out;
  }
  if (type === "application/strategic-merge-patch+json") {
    if (!strategic) {
      throw unsupportedMediaType(type);
    }
    const out = strategicMergePatch(target, parsed);
    if (!isObject(out)) throw badRequest("strategic merge patch must be a JSON object");
    return out;
  }
  if (type === "application/json-patch+json") {
    if (!Array.isArray(parsed)) throw badRequest("json patch must be a JSON array of operations");
    try {
      const result = jsonPatch.applyPatch(target, parsed as jsonPatch.Operation[], true, true);
      const out = result.newDocument as Json;
      if (!isObject(out)) throw badRequest("json patch result must be a JSON object");
      return out;
    } catch (err) {
      if (err instanceof jsonPatch.JsonPatchError) {
        throw new ApiError(
          422,
          "Invalid",
          `the server rejected our request due to an error in our request: ${err.message.split("\n")[0]}`,
        );
      }
      throw err;
    }
  }
  throw unsupportedMediaType(type);
}
