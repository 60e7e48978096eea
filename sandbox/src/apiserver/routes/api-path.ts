/**
 * Parsing kube's REST paths: `/api/<v>/...` and `/apis/<g>/<v>/...` into a group version
 * and the rest, then the rest (`[watch/][namespaces/<ns>/]<resource>[/<name>[/<sub>]]`) into
 * the served type, namespace, name and subresource, and the request's verb.
 */
import { badRequest, pathNotFound } from "../errors.js";
import { type ResourceType, type TypeRegistry, typeKey } from "../registry.js";

/** A path under `/api` or `/apis`, split at the group version. */
export interface ApiPath {
  /** "" for the core group. */
  group: string;
  /** "" for `/apis/<g>` (group discovery). */
  version: string;
  /** Segments after the version, URL-decoded. */
  rest: string[];
}

/** A resolved resource URL. */
export interface ResourceRoute {
  t: ResourceType;
  namespace: string | undefined;
  name: string | undefined;
  subresource: string | undefined;
  /** The legacy `/watch/` path prefix was used. */
  watchPath: boolean;
}

/** Splits a path (without trailing slashes) under `/api` or `/apis`; throws 404 for any other. */
export function parseApiPath(path: string): ApiPath {
  let segs: string[];
  try {
    segs = path
      .split("/")
      .filter((s) => s.length > 0)
      .map(decodeURIComponent);
  } catch {
    throw badRequest(`malformed URL path: ${path}`);
  }
  if (segs[0] === "api") {
    const version = segs[1] ?? "";
    if (!version) throw pathNotFound();
    return { group: "", version, rest: segs.slice(2) };
  }
  if (segs[0] === "apis") return { group: segs[1] ?? "", version: segs[2] ?? "", rest: segs.slice(3) };
  throw pathNotFound();
}

/** Resolves the resource part of a path against the served types; throws 404 when nothing serves it. */
export function resolveResource(types: TypeRegistry, { group, version, rest }: ApiPath): ResourceRoute {
  const watchPath = rest[0] === "watch";
  let parts = watchPath ? rest.slice(1) : rest;
  let namespace: string | undefined;
  if (
    parts[0] === "namespaces" &&
    parts.length >= 3 &&
    !(parts.length === 3 && (parts[2] === "status" || parts[2] === "finalize"))
  ) {
    namespace = parts[1];
    parts = parts.slice(2);
  }
  const [resource, name, subresource, ...extra] = parts;
  if (!resource || extra.length > 0) throw pathNotFound();
  const t = types.get(group, version, resource);
  if (!t) throw pathNotFound();
  if (namespace !== undefined && !t.namespaced) throw pathNotFound();
  if (name !== undefined && t.namespaced && namespace === undefined) throw pathNotFound();
  if (subresource !== undefined) {
    const allowed =
      (subresource === "status" && t.statusSubresource) ||
      (typeKey(t) === "/pods" && (subresource === "log" || subresource === "binding")) ||
      (typeKey(t) === "/namespaces" && subresource === "finalize");
    if (!allowed) throw pathNotFound();
  }
  return { t, namespace, name, subresource, watchPath };
}

/** The kube verb of a request (`get`, `list`, `watch`, `create`, ... `deletecollection`). */
export function verbOf(method: string, route: ResourceRoute, isWatch: boolean): string {
  switch (method) {
    case "GET":
      if (isWatch) return "watch";
      return route.name === undefined ? "list" : "get";
    case "POST":
      return route.subresource === "log" ? "update" : "create";
    case "PUT":
      return "update";
    case "PATCH":
      return "patch";
    case "DELETE":
      return route.name === undefined ? "deletecollection" : "delete";
    default:
      return method.toLowerCase();
  }
}
