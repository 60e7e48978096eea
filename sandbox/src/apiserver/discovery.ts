/**
 * Discovery documents (`/api`, `/apis`, `/apis/<g>/<v>`), the OpenAPI v3 documents kubectl
 * reads, and server-side `Table` rendering for `kubectl get`, all generated from the type
 * registry.
 */
import { type ResourceType, type TypeRegistry, VERBS, groupVersion } from "./registry.js";
import type { KubeObject } from "./store.js";

/** The version the sandbox reports at `/version`. */
export const VERSION_INFO = {
  major: "1",
  minor: "32",
  gitVersion: "v1.32.0-flotilla-sandbox",
  gitCommit: "0000000000000000000000000000000000000000",
  gitTreeState: "clean",
  buildDate: "2026-01-01T00:00:00Z",
  goVersion: "go1.23.0",
  compiler: "gc",
  platform: "linux/amd64",
};

/** The `APIVersions` document at `/api`. */
export function coreVersions(host: string): unknown {
  return {
    kind: "APIVersions",
    versions: ["v1"],
    serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress: host }],
  };
}

function apiGroup(name: string, versions: string[]): unknown {
  const vs = versions.map((v) => ({ groupVersion: `${name}/${v}`, version: v }));
  return { kind: "APIGroup", apiVersion: "v1", name, versions: vs, preferredVersion: vs[0] };
}

/** The `APIGroupList` at `/apis`. */
export function groupList(types: TypeRegistry): unknown {
  const groups = [...types.groups()].filter(([g]) => g !== "").map(([g, vs]) => apiGroup(g, vs));
  return { kind: "APIGroupList", apiVersion: "v1", groups };
}

/** The `APIGroup` at `/apis/<group>`, or undefined when the group is not served. */
export function groupDoc(types: TypeRegistry, group: string): unknown {
  const versions = types.groups().get(group);
  return versions && group !== "" ? apiGroup(group, versions) : undefined;
}

function subresources(t: ResourceType): string[] {
  const subs: string[] = [];
  if (t.statusSubresource) subs.push("status");
  if (t.group === "" && t.resource === "pods") subs.push("log", "binding");
  if (t.group === "" && t.resource === "namespaces") subs.push("finalize");
  return subs;
}

/** The `APIResourceList` at `/api/v1` or `/apis/<g>/<v>`, or undefined when not served. */
export function resourceList(types: TypeRegistry, group: string, version: string): unknown {
  const served = types.all().filter((t) => t.group === group && t.version === version);
  if (served.length === 0) return undefined;
  const resources: unknown[] = [];
  for (const t of served) {
    resources.push({
      name: t.resource,
      singularName: t.singular,
      namespaced: t.namespaced,
      kind: t.kind,
      verbs: VERBS,
      ...(t.shortNames.length ? { shortNames: t.shortNames } : {}),
      ...(t.categories.length ? { categories: t.categories } : {}),
    });
    for (const sub of subresources(t)) {
      const verbs =
        sub === "log"
          ? ["get"]
          : sub === "binding"
            ? ["create"]
            : sub === "finalize"
              ? ["update"]
              : ["get", "patch", "update"];
      const kind = sub === "log" ? "Pod" : sub === "binding" ? "Binding" : t.kind;
      resources.push({
        name: `${t.resource}/${sub}`,
        singularName: "",
        namespaced: t.namespaced,
        kind,
        verbs,
      });
    }
  }
  return {
    kind: "APIResourceList",
    apiVersion: "v1",
    groupVersion: groupVersion({ group, version }),
    resources,
  };
}

/**
 * The OpenAPI v3 root index: one entry per group/version. kubectl reads it to learn that the
 * server validates fields itself (`fieldValidation`), so it skips client-side schema checks.
 */
export function openApiV3Index(types: TypeRegistry): unknown {
  const paths: Record<string, { serverRelativeURL: string }> = {};
  for (const [g, versions] of types.groups()) {
    for (const v of versions) {
      const path = g ? `apis/${g}/${v}` : `api/${v}`;
      paths[path] = { serverRelativeURL: `/openapi/v3/${path}?hash=${hashOf(types, g, v)}` };
    }
  }
  return { paths };
}

function hashOf(types: TypeRegistry, g: string, v: string): string {
  const names = types
    .all()
    .filter((t) => t.group === g && t.version === v)
    .map((t) => t.resource)
    .sort()
    .join(",");
  let h = 0;
  for (const ch of names) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return h.toString(16).toUpperCase().padStart(8, "0");
}

const FIELD_VALIDATION_PARAM = {
  name: "fieldValidation",
  in: "query",
  description:
    "fieldValidation instructs the server on how to handle objects in the request containing unknown or duplicate fields.",
  schema: { type: "string", uniqueItems: true },
};

/**
 * The OpenAPI v3 document of one group/version: paths with their operations (declaring the
 * `fieldValidation` parameter) and a schema per kind carrying `x-kubernetes-group-version-kind`.
 * Built-in kinds get an open schema; custom resources get their CRD schema.
 */
export function openApiV3Group(types: TypeRegistry, group: string, version: string): unknown {
  const served = types.all().filter((t) => t.group === group && t.version === version);
  if (served.length === 0) return undefined;
  const prefix = group ? `/apis/${group}/${version}` : `/api/${version}`;
  const paths: Record<string, unknown> = {};
  const schemas: Record<string, unknown> = {};
  for (const t of served) {
    const schemaName = `${group ? group.split(".").reverse().join(".") : "io.k8s.api.core"}.${version}.${t.kind}`;
    const ref = { $ref: `#/components/schemas/${schemaName}` };
    const op = (verb: string): unknown => ({
      tags: [t.resource],
      operationId: `${verb}${t.kind}`,
      parameters: [FIELD_VALIDATION_PARAM],
      responses: { "200": { description: "OK", content: { "application/json": { schema: ref } } } },
      "x-kubernetes-action": verb,
      "x-kubernetes-group-version-kind": { group, version, kind: t.kind },
    });
    const base = t.namespaced ? `${prefix}/namespaces/{namespace}/${t.resource}` : `${prefix}/${t.resource}`;
    paths[base] = { post: op("post"), get: op("list") };
    paths[`${base}/{name}`] = { get: op("get"), put: op("put"), patch: op("patch"), delete: op("delete") };
    const schema = t.schema
      ? structuredClone(t.schema)
      : { type: "object", "x-kubernetes-preserve-unknown-fields": true };
    schemas[schemaName] = {
      ...schema,
      "x-kubernetes-group-version-kind": [{ group, version, kind: t.kind }],
    };
  }
  return {
    openapi: "3.0.0",
    info: { title: "Kubernetes", version: VERSION_INFO.gitVersion },
    paths,
    components: { schemas },
  };
}

// ------------------------------------------------------------------------------ tables

interface Column {
  name: string;
  type: string;
  format: string;
  description: string;
  priority: number;
}

function col(name: string, type = "string", priority = 0, format = ""): Column {
  return { name, type, format, description: name, priority };
}

/** Kube's human-readable age (`5s`, `3m2s`, `4h`, `2d3h`, `12d`). */
export function humanAge(from: string | undefined, at = Date.now()): string {
  if (!from) return "<unknown>";
  const seconds = Math.max(0, Math.floor((at - Date.parse(from)) / 1000));
  const minutes = Math.floor(seconds / 60);
  const hours = Math.floor(minutes / 60);
  const days = Math.floor(hours / 24);
  if (seconds < 120) return `${seconds}s`;
  if (minutes < 10) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`;
  if (minutes < 180) return `${minutes}m`;
  if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`;
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) return hours % 24 === 0 ? `${days}d` : `${days}d${hours % 24}h`;
  if (days < 365 * 2) return `${days}d`;
  return `${Math.floor(days / 365)}y`;
}

function get(obj: unknown, path: string): unknown {
  let cur: unknown = obj;
  // A backslash escapes a dot inside a key (`.metadata.labels.example\.com/name`).
  const parts = path
    .replace(/^\./, "")
    .split(/(?<!\\)\.|\[(\d+)\]/)
    .filter((p) => p !== undefined && p !== "")
    .map((p) => p.replace(/\\\./g, "."));
  for (const part of parts) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

function conditionValue(obj: unknown, path: string): unknown {
  const m = /^(.*)\[\?\(@\.(\w+)==["']([^"']*)["']\)\]\.(\w+)$/.exec(path);
  if (!m) return get(obj, path);
  const list = get(obj, m[1]);
  if (!Array.isArray(list)) return undefined;
  const hit = list.find((x) => x && typeof x === "object" && (x as Record<string, unknown>)[m[2]] === m[3]);
  return hit ? (hit as Record<string, unknown>)[m[4]] : undefined;
}

function str(v: unknown): string {
  return typeof v === "string" ? v : "";
}

function podStatus(pod: KubeObject): { ready: string; status: string; restarts: number } {
  const spec = (pod.spec ?? {}) as Record<string, unknown>;
  const status = (pod.status ?? {}) as Record<string, unknown>;
  const containers = Array.isArray(spec.containers) ? spec.containers : [];
  const statuses = (Array.isArray(status.containerStatuses) ? status.containerStatuses : []) as Record<
    string,
    unknown
  >[];
  let reason =
    typeof status.reason === "string"
      ? status.reason
      : typeof status.phase === "string"
        ? status.phase
        : "Pending";
  let restarts = 0;
  let ready = 0;
  for (const cs of statuses) {
    restarts += typeof cs.restartCount === "number" ? cs.restartCount : 0;
    if (cs.ready === true) ready++;
    const state = (cs.state ?? {}) as Record<string, Record<string, unknown> | undefined>;
    const waiting = state.waiting?.reason;
    const terminated = state.terminated?.reason;
    if (typeof waiting === "string" && waiting) reason = waiting;
    else if (typeof terminated === "string" && terminated) reason = terminated;
  }
  if (pod.metadata.deletionTimestamp) reason = "Terminating";
  return { ready: `${ready}/${containers.length}`, status: reason, restarts };
}

function columnsFor(t: ResourceType): Column[] {
  const name = col("Name");
  const age = col("Age");
  if (t.crdName) {
    // As kube-apiserver: a CRD's own columns replace the default Age (it declares Age if it wants it).
    const extra = t.printerColumns.map((c) => col(c.name, c.type, c.priority ?? 0, c.format ?? ""));
    return extra.length ? [name, ...extra] : [name, age];
  }
  switch (`${t.group}/${t.resource}`) {
    case "/pods":
      return [
        name,
        col("Ready"),
        col("Status"),
        col("Restarts", "string"),
        age,
        col("IP", "string", 1),
        col("Node", "string", 1),
      ];
    case "/namespaces":
      return [name, col("Status"), age];
    case "/nodes":
      return [name, col("Status"), col("Roles"), age, col("Version")];
    case "/events":
      return [col("Last Seen"), col("Type"), col("Reason"), col("Object"), col("Message")];
    case "/configmaps":
      return [name, col("Data", "integer"), age];
    case "/secrets":
      return [name, col("Type"), col("Data", "integer"), age];
    case "coordination.k8s.io/leases":
      return [name, col("Holder"), age];
    case "/resourcequotas":
      return [name, age, col("Request"), col("Limit")];
    case "apiextensions.k8s.io/customresourcedefinitions":
      return [name, col("Created At", "date")];
    default:
      return [name, age];
  }
}

function cellsFor(t: ResourceType, obj: KubeObject): unknown[] {
  const m = obj.metadata;
  const age = humanAge(m.creationTimestamp);
  if (t.crdName) {
    const extra = t.printerColumns.map((c) => {
      const v = conditionValue(obj, c.jsonPath);
      if (v === undefined || v === null) return null;
      if (c.type === "date" && typeof v === "string") return humanAge(v);
      return typeof v === "object" ? JSON.stringify(v) : v;
    });
    return extra.length ? [m.name, ...extra] : [m.name, age];
  }
  const status = (obj.status ?? {}) as Record<string, unknown>;
  const spec = (obj.spec ?? {}) as Record<string, unknown>;
  switch (`${t.group}/${t.resource}`) {
    case "/pods": {
      const s = podStatus(obj);
      return [
        m.name,
        s.ready,
        s.status,
        String(s.restarts),
        age,
        status.podIP ?? "<none>",
        spec.nodeName ?? "<none>",
      ];
    }
    case "/namespaces":
      return [m.name, status.phase ?? "Active", age];
    case "/nodes": {
      const conds = Array.isArray(status.conditions) ? (status.conditions as Record<string, unknown>[]) : [];
      const ready = conds.find((c) => c.type === "Ready");
      let state = ready?.status === "True" ? "Ready" : ready ? "NotReady" : "Unknown";
      if (spec.unschedulable === true) state += ",SchedulingDisabled";
      const info = (status.nodeInfo ?? {}) as Record<string, unknown>;
      return [m.name, state, "<none>", age, info.kubeletVersion ?? ""];
    }
    case "/events": {
      const io = (obj.involvedObject ?? {}) as Record<string, unknown>;
      const last = (obj.lastTimestamp ?? obj.eventTime ?? m.creationTimestamp) as string | undefined;
      return [
        humanAge(last),
        obj.type ?? "",
        obj.reason ?? "",
        `${str(io.kind).toLowerCase()}/${str(io.name)}`,
        obj.message ?? "",
      ];
    }
    case "/configmaps":
      return [m.name, Object.keys(obj.data ?? {}).length + Object.keys(obj.binaryData ?? {}).length, age];
    case "/secrets":
      return [m.name, obj.type ?? "Opaque", Object.keys(obj.data ?? {}).length, age];
    case "coordination.k8s.io/leases":
      return [m.name, spec.holderIdentity ?? "", age];
    case "/resourcequotas": {
      const hard = (status.hard ?? spec.hard ?? {}) as Record<string, string>;
      const used = (status.used ?? {}) as Record<string, string>;
      const fmt = (keys: string[]): string =>
        keys
          .sort()
          .map((k) => `${k}: ${used[k] ?? "0"}/${hard[k]}`)
          .join(", ");
      const keys = Object.keys(hard);
      return [
        m.name,
        age,
        fmt(keys.filter((k) => !k.startsWith("limits."))),
        fmt(keys.filter((k) => k.startsWith("limits."))),
      ];
    }
    case "apiextensions.k8s.io/customresourcedefinitions":
      return [m.name, m.creationTimestamp];
    default:
      return [m.name, age];
  }
}

/** What each table row carries: the whole object, its metadata only, or nothing. */
export type IncludeObject = "Object" | "PartialObjectMetadata" | "None";

/**
 * Renders objects as a `meta.k8s.io/v1` Table. `headers` false omits column definitions (kube
 * does this for watch events after the first).
 */
export function toTable(
  t: ResourceType,
  objects: KubeObject[],
  include: IncludeObject,
  listMeta: Record<string, unknown>,
  headers = true,
): Record<string, unknown> {
  const rows = objects.map((obj) => ({
    cells: cellsFor(t, obj),
    object:
      include === "Object"
        ? obj
        : include === "PartialObjectMetadata"
          ? { kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata: obj.metadata }
          : undefined,
  }));
  return {
    kind: "Table",
    apiVersion: "meta.k8s.io/v1",
    metadata: listMeta,
    columnDefinitions: headers ? columnsFor(t) : [],
    rows,
  };
}
