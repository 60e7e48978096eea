/**
 * The HTTP front of the sandbox API server: kube-apiserver's REST paths, verbs, watch streaming,
 * discovery, OpenAPI, server-side tables, pod logs, health endpoints, fault injection and
 * request counters, on plain HTTP at 127.0.0.1.
 */
import { type IncomingMessage, type Server, type ServerResponse, createServer } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { parse as parseYaml } from "yaml";
import { type DeleteOptions, ClusterApi } from "./api.js";
import {
  type IncludeObject,
  VERSION_INFO,
  coreVersions,
  groupDoc,
  groupList,
  openApiV3Group,
  openApiV3Index,
  resourceList,
  toTable,
} from "./discovery.js";
import {
  ApiError,
  badRequest,
  conflict,
  expired,
  methodNotAllowed,
  pathNotFound,
  requestTooLarge,
} from "./errors.js";
import { ApiCounters, ApiFaults } from "./faults.js";
import { LogStore } from "./logs.js";
import { decodeKubeProtobuf } from "./protobuf.js";
import { type ResourceType, groupVersion, typeKey } from "./registry.js";
import { parseFieldSelector, parseLabelSelector } from "./selectors.js";
import {
  type ChangeEvent,
  CompactedError,
  type EventType,
  type KubeObject,
  type Stored,
  type Watcher,
} from "./store.js";

/** Options of `startApiServer`. */
export interface ApiServerOptions {
  /** TCP port on 127.0.0.1 (default 0: any free port). */
  port?: number;
  /** A name for logs and the kubeconfig (default `sandbox`). */
  name?: string;
  /** Largest stored object in bytes (etcd's limit; default 1.5 MiB = 1572864). */
  objectSizeLimitBytes?: number;
  /** Largest request body in bytes (kube-apiserver's limit; default 3 MiB = 3145728). */
  requestSizeLimitBytes?: number;
  /** Number of change events kept for watch resumes (default 10000). */
  compactionWindow?: number;
  /** Interval between watch bookmarks in ms (default 1000). */
  bookmarkIntervalMs?: number;
}

/** The API server could not listen on 127.0.0.1:`port` (e.g. the port is taken). */
export class ApiServerListenError extends Error {
  readonly port: number;
  constructor(port: number, cause: Error) {
    super(`sandbox API server cannot listen on 127.0.0.1:${port}: ${cause.message}`, { cause });
    this.name = "ApiServerListenError";
    this.port = port;
  }
}

/** A running API server. */
export interface ApiServerHandle {
  /** The server's name. */
  readonly name: string;
  /** Base URL, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  /** The TCP port. */
  readonly port: number;
  /** Fault injection controls. */
  readonly faults: ApiFaults;
  /** Request and pod-create counters. */
  readonly counters: ApiCounters;
  /** The underlying resource semantics (in-process access, e.g. for benchmarks). */
  readonly api: ClusterApi;
  /** Number of open watch streams. */
  watchCount(): number;
  /** Closes every connection and stops the server. */
  stop(): Promise<void>;
}

/** A resolved resource URL. */
interface Route {
  t: ResourceType;
  namespace: string | undefined;
  name: string | undefined;
  subresource: string | undefined;
}

const JSON_TYPE = "application/json";
const WATCH_BUFFER_LIMIT = 32 * 1024 * 1024;

/**
 * Starts an API server on 127.0.0.1. Returns its handle once it is listening.
 * Side effects: opens a TCP listener and a bookmark timer until `stop()`.
 */
export async function startApiServer(options: ApiServerOptions = {}): Promise<ApiServerHandle> {
  const name = options.name ?? "sandbox";
  const requestLimit = options.requestSizeLimitBytes ?? 3 * 1024 * 1024;
  const api = new ClusterApi({
    objectSizeLimitBytes: options.objectSizeLimitBytes ?? 1572864,
    compactionWindow: options.compactionWindow ?? 10_000,
  });
  const logs = new LogStore();
  const counters = new ApiCounters();
  const streams = new Set<{ watcher: Watcher; bookmarks: boolean; bookmark(): void }>();
  const faults = new ApiFaults(
    () => {
      const open = [...streams];
      for (const s of open) s.watcher.close();
      return open.length;
    },
    () => api.store.compact(),
  );
  api.store.onChange((e) => {
    if (e.typeKey !== "/pods") return;
    const status = (e.obj.status ?? {}) as Record<string, unknown>;
    if (e.type === "DELETED") logs.drop(e.obj.metadata.uid!);
    else if (status.phase === "Succeeded" || status.phase === "Failed") logs.end(e.obj.metadata.uid!);
  });

  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendError(res, toApiError(err));
      else res.destroy();
    });
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  server.keepAliveTimeout = 60_000;

  const bookmarkTimer = setInterval(() => {
    for (const s of streams) if (s.bookmarks) s.bookmark();
  }, options.bookmarkIntervalMs ?? 1000);
  bookmarkTimer.unref();

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://localhost");
    const path = url.pathname.replace(/\/+$/, "") || "/";
    const method = req.method ?? "GET";
    const q = url.searchParams;
    if (
      path === "/healthz" ||
      path === "/livez" ||
      path === "/readyz" ||
      /^\/(healthz|livez|readyz)\//.test(path)
    ) {
      return sendText(res, 200, "ok");
    }
    if (path === "/version") return sendJson(res, 200, VERSION_INFO);
    if (path === "/api") return sendJson(res, 200, coreVersions(req.headers.host ?? "127.0.0.1"));
    if (path === "/apis") return sendJson(res, 200, groupList(api.types));
    if (path === "/openapi/v3") return sendJson(res, 200, openApiV3Index(api.types));
    if (path.startsWith("/openapi/v3/")) {
      const rest = path.slice("/openapi/v3/".length).split("/");
      const doc =
        rest[0] === "api"
          ? openApiV3Group(api.types, "", rest[1] ?? "")
          : openApiV3Group(api.types, rest[1] ?? "", rest[2] ?? "");
      if (!doc) throw pathNotFound();
      return sendJson(res, 200, doc);
    }
    let segs: string[];
    try {
      segs = path
        .split("/")
        .filter((s) => s.length > 0)
        .map(decodeURIComponent);
    } catch {
      throw badRequest(`malformed URL path: ${path}`);
    }
    let group: string;
    let version: string;
    let rest: string[];
    if (segs[0] === "api") {
      group = "";
      version = segs[1] ?? "";
      rest = segs.slice(2);
      if (!version) throw pathNotFound();
    } else if (segs[0] === "apis") {
      group = segs[1] ?? "";
      version = segs[2] ?? "";
      rest = segs.slice(3);
      if (!version) {
        const doc = groupDoc(api.types, group);
        if (!doc) throw pathNotFound();
        return sendJson(res, 200, doc);
      }
    } else {
      throw pathNotFound();
    }
    if (rest.length === 0) {
      const doc = resourceList(api.types, group, version);
      if (!doc) throw pathNotFound();
      return sendJson(res, 200, doc);
    }
    let watchPath = false;
    if (rest[0] === "watch") {
      watchPath = true;
      rest = rest.slice(1);
    }
    const route = resolve(group, version, rest);
    const isWatch = watchPath || q.get("watch") === "true" || q.get("watch") === "1";
    const verb = verbOf(method, route, isWatch);
    counters.countRequest(
      verb,
      route.subresource ? `${route.t.resource}/${route.subresource}` : route.t.resource,
    );
    if (faults.latencyMs > 0) await sleep(faults.latencyMs);
    if (faults.shouldFail(verb, route.t.resource)) {
      const code = faults.errorOptions.code ?? 500;
      const retry = faults.errorOptions.retryAfterSeconds ?? 1;
      const headers: Record<string, string> =
        code === 429 || code === 503 ? { "Retry-After": String(retry) } : {};
      const reason =
        code === 429
          ? "TooManyRequests"
          : code === 503
            ? "ServiceUnavailable"
            : code === 504
              ? "Timeout"
              : "InternalError";
      const message =
        code === 429
          ? "the server has received too many requests and has asked us to try again later"
          : "sandbox fault injection: the server is currently unable to handle the request";
      throw new ApiError(
        code,
        reason,
        message,
        code === 429 || code === 503 ? { kind: route.t.resource, retryAfterSeconds: retry } : undefined,
        headers,
      );
    }
    await serveResource(req, res, route, verb, q);
  }

  function resolve(group: string, version: string, rest: string[]): Route {
    let namespace: string | undefined;
    let parts = rest;
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
    const t = api.types.get(group, version, resource);
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
    return { t, namespace, name, subresource };
  }

  function verbOf(method: string, route: Route, isWatch: boolean): string {
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

  async function serveResource(
    req: IncomingMessage,
    res: ServerResponse,
    route: Route,
    verb: string,
    q: URLSearchParams,
  ): Promise<void> {
    const { t, namespace, name, subresource } = route;
    const dryRun = q.getAll("dryRun").includes("All");
    const writeOptions = { dryRun, strict: q.get("fieldValidation") === "Strict" };
    const method = req.method ?? "GET";
    if (typeKey(t) === "/pods" && subresource === "log") return serveLog(req, res, namespace!, name!, q);
    if (typeKey(t) === "/pods" && subresource === "binding") {
      if (method !== "POST") throw methodNotAllowed(method);
      const body = await readObject(req, requestLimit);
      return bind(res, namespace!, name!, body);
    }
    if (subresource === "finalize") {
      if (method !== "PUT") throw methodNotAllowed(method);
      const body = await readObject(req, requestLimit);
      const stored = api.update(t, undefined, name!, body, undefined, writeOptions);
      return sendStored(req, res, 200, t, stored, q);
    }
    switch (verb) {
      case "get":
        return sendStored(req, res, 200, t, api.get(t, namespace, name!), q);
      case "list": {
        const label = parseLabelSelector(q.get("labelSelector"));
        const field = parseFieldSelector(q.get("fieldSelector"));
        const limit = q.get("limit") ? Number(q.get("limit")) : undefined;
        const result = api.list(t, namespace, label, field, limit, q.get("continue") ?? undefined);
        const meta: Record<string, unknown> = { resourceVersion: result.resourceVersion };
        if (result.continueToken) {
          meta.continue = result.continueToken;
          meta.remainingItemCount = result.remainingItemCount;
        }
        if (wantsTable(req)) {
          const table = toTable(
            t,
            result.items.map((s) => s.obj),
            includeObject(q),
            meta,
          );
          return sendJson(res, 200, table);
        }
        const body = `{"kind":${JSON.stringify(t.listKind)},"apiVersion":${JSON.stringify(groupVersion(t))},"metadata":${JSON.stringify(meta)},"items":[${result.items.map((s) => render(t, s)).join(",")}]}`;
        return sendRaw(res, 200, body);
      }
      case "watch":
        return serveWatch(req, res, t, namespace, name, q);
      case "create": {
        if (name !== undefined || (t.namespaced && namespace === undefined)) throw methodNotAllowed(method);
        const body = await readObject(req, requestLimit);
        const stored = api.create(t, namespace, body, writeOptions);
        if (typeKey(t) === "/pods" && !dryRun)
          counters.countPodCreate(stored.obj.metadata.namespace!, stored.obj.metadata.name!);
        return sendStored(req, res, 201, t, stored, q);
      }
      case "update": {
        const body = await readObject(req, requestLimit);
        return sendStored(
          req,
          res,
          200,
          t,
          api.update(t, namespace, name!, body, subresource, writeOptions),
          q,
        );
      }
      case "patch": {
        const body = await readBody(req, requestLimit);
        const contentType = req.headers["content-type"] ?? "";
        return sendStored(
          req,
          res,
          200,
          t,
          api.patch(t, namespace, name!, contentType, body, subresource, writeOptions),
          q,
        );
      }
      case "delete": {
        const options = await deleteOptions(req, q);
        const result = api.delete(t, namespace, name!, { ...options, dryRun });
        if (result.deleted && typeKey(t) !== "/pods" && typeKey(t) !== "/namespaces" && !t.crdName) {
          return sendJson(res, 200, {
            kind: "Status",
            apiVersion: "v1",
            metadata: {},
            status: "Success",
            details: {
              name: result.stored.obj.metadata.name,
              group: t.group || undefined,
              kind: t.resource,
              uid: result.stored.obj.metadata.uid,
            },
          });
        }
        return sendStored(req, res, result.deleted ? 200 : 202, t, result.stored, q);
      }
      case "deletecollection": {
        const options = await deleteOptions(req, q);
        const label = parseLabelSelector(q.get("labelSelector"));
        const field = parseFieldSelector(q.get("fieldSelector"));
        const items = dryRun ? [] : api.deleteCollection(t, namespace, label, field, options);
        const body = `{"kind":${JSON.stringify(t.listKind)},"apiVersion":${JSON.stringify(groupVersion(t))},"metadata":{"resourceVersion":"${api.store.currentRv()}"},"items":[${items.map((s) => render(t, s)).join(",")}]}`;
        return sendRaw(res, 200, body);
      }
      default:
        throw methodNotAllowed(method);
    }
  }

  async function deleteOptions(req: IncomingMessage, q: URLSearchParams): Promise<DeleteOptions> {
    const text = await readBody(req, requestLimit);
    const body = text.trim() ? (parseJson(text) as Record<string, unknown>) : {};
    const options: DeleteOptions = {};
    const policy = q.get("propagationPolicy") ?? (body.propagationPolicy as string | undefined);
    if (policy !== undefined && policy !== null) {
      if (policy !== "Background" && policy !== "Foreground" && policy !== "Orphan") {
        throw new ApiError(
          422,
          "Invalid",
          `DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: "${policy}": supported values: "Foreground", "Background", "Orphan", "nil"`,
        );
      }
      options.propagationPolicy = policy;
    } else if (body.orphanDependents === true || q.get("orphanDependents") === "true") {
      options.propagationPolicy = "Orphan";
    }
    const grace = q.get("gracePeriodSeconds") ?? body.gracePeriodSeconds;
    if (grace !== undefined && grace !== null) options.gracePeriodSeconds = Number(grace);
    if (body.preconditions && typeof body.preconditions === "object")
      options.preconditions = body.preconditions;
    return options;
  }

  function bind(res: ServerResponse, ns: string, name: string, body: unknown): void {
    const podType = api.types.get("", "v1", "pods")!;
    const binding = (body ?? {}) as Record<string, unknown>;
    const target = (binding.target ?? {}) as Record<string, unknown>;
    if (typeof target.name !== "string" || !target.name) {
      throw new ApiError(422, "Invalid", `Binding "${name}" is invalid: target.name: Required value`);
    }
    const pod = api.get(podType, ns, name);
    const spec = (pod.obj.spec ?? {}) as Record<string, unknown>;
    if (spec.nodeName) {
      throw conflict(
        { group: "", resource: "pods/binding" },
        name,
        `pod ${name} is already assigned to node "${typeof spec.nodeName === "string" ? spec.nodeName : ""}"`,
      );
    }
    if (pod.obj.metadata.deletionTimestamp) {
      throw conflict(
        { group: "", resource: "pods/binding" },
        name,
        `pod ${name} is being deleted, cannot be assigned to a host`,
      );
    }
    const next = structuredClone(pod.obj);
    (next.spec as Record<string, unknown>).nodeName = target.name;
    const status = (next.status ?? {}) as Record<string, unknown>;
    const conditions = (Array.isArray(status.conditions) ? status.conditions : []) as Record<
      string,
      unknown
    >[];
    const ts = new Date().toISOString().replace(/\.\d+Z$/, "Z");
    status.conditions = [
      ...conditions.filter((c) => c.type !== "PodScheduled"),
      { type: "PodScheduled", status: "True", lastProbeTime: null, lastTransitionTime: ts },
    ];
    next.status = status;
    api.bindPod(next);
    sendJson(res, 201, { kind: "Status", apiVersion: "v1", metadata: {}, status: "Success", code: 201 });
  }

  async function serveLog(
    req: IncomingMessage,
    res: ServerResponse,
    ns: string,
    name: string,
    q: URLSearchParams,
  ): Promise<void> {
    const podType = api.types.get("", "v1", "pods")!;
    const pod = api.get(podType, ns, name).obj;
    const spec = (pod.spec ?? {}) as Record<string, unknown>;
    const names = [
      ...(Array.isArray(spec.initContainers) ? spec.initContainers : []),
      ...(Array.isArray(spec.containers) ? spec.containers : []),
    ].map((c) => String((c as Record<string, unknown>).name));
    let container = q.get("container") ?? undefined;
    if (!container) {
      const mainNames = (Array.isArray(spec.containers) ? spec.containers : []).map((c) =>
        String((c as Record<string, unknown>).name),
      );
      if (mainNames.length !== 1) {
        throw badRequest(
          `a container name must be specified for pod ${name}, choose one of: [${mainNames.join(" ")}]`,
        );
      }
      container = mainNames[0]!;
    }
    if (!names.includes(container)) throw badRequest(`container ${container} is not valid for pod ${name}`);
    const uid = pod.metadata.uid!;
    const method = req.method ?? "GET";
    if (method === "PUT" || method === "POST") {
      const text = await readBody(req, requestLimit);
      logs.append(uid, container, text);
      return sendJson(res, 200, {
        kind: "Status",
        apiVersion: "v1",
        metadata: {},
        status: "Success",
        code: 200,
      });
    }
    if (method !== "GET") throw methodNotAllowed(method);
    let text = logs.read(uid, container);
    const tail = q.get("tailLines");
    if (tail !== null) {
      const n = Number(tail);
      const lines = text.split("\n");
      const trailing = text.endsWith("\n") ? lines.pop() : undefined;
      text = lines.slice(Math.max(0, lines.length - n)).join("\n") + (trailing !== undefined ? "\n" : "");
      if (n === 0) text = "";
    }
    const limitBytes = q.get("limitBytes");
    if (limitBytes !== null) text = Buffer.from(text).subarray(0, Number(limitBytes)).toString("utf8");
    const follow = q.get("follow") === "true";
    const phase = ((pod.status ?? {}) as Record<string, unknown>).phase;
    if (!follow || phase === "Succeeded" || phase === "Failed") {
      return sendText(res, 200, text);
    }
    res.writeHead(200, {
      "Content-Type": "text/plain",
      "Cache-Control": "no-cache, private",
      "Transfer-Encoding": "chunked",
    });
    res.write(text);
    const unsubscribe = logs.follow(uid, container, (chunk) => {
      if (chunk === null) {
        unsubscribe();
        res.end();
      } else {
        res.write(chunk);
      }
    });
    req.on("close", unsubscribe);
  }

  function serveWatch(
    req: IncomingMessage,
    res: ServerResponse,
    t: ResourceType,
    namespace: string | undefined,
    name: string | undefined,
    q: URLSearchParams,
  ): void {
    let fieldSelector = q.get("fieldSelector") ?? "";
    if (name !== undefined)
      fieldSelector = fieldSelector ? `${fieldSelector},metadata.name=${name}` : `metadata.name=${name}`;
    const label = parseLabelSelector(q.get("labelSelector"));
    const field = parseFieldSelector(fieldSelector);
    const rvParam = q.get("resourceVersion");
    const fromRv = rvParam && rvParam !== "0" ? Number(rvParam) : undefined;
    if (fromRv !== undefined && !Number.isInteger(fromRv))
      throw badRequest(`invalid resource version: ${rvParam}`);
    const table = wantsTable(req);
    const include = includeObject(q);
    const gv = groupVersion(t);
    let first = true;
    let closed = false;
    res.writeHead(200, {
      "Content-Type": JSON_TYPE,
      "Cache-Control": "no-cache, private",
      "Transfer-Encoding": "chunked",
    });
    res.flushHeaders();
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    const flush = (): void => {
      if (closed || pending.length === 0) return;
      const chunk = pending.length === 1 ? pending[0] : Buffer.concat(pending, pendingBytes);
      pending = [];
      pendingBytes = 0;
      res.write(chunk);
      if (res.writableLength > WATCH_BUFFER_LIMIT) close();
    };
    // Frames queue up and go out once per event-loop turn: one write per watcher per burst
    // instead of one syscall per event.
    const write = (frame: Buffer): void => {
      if (closed) return;
      if (pending.length === 0) scheduleFlush(flush);
      pending.push(frame);
      pendingBytes += frame.length;
    };
    const watcher: Watcher = {
      typeKey: typeKey(t),
      namespace: t.namespaced ? namespace : undefined,
      label,
      field,
      deliver(type: EventType, json: string, obj: KubeObject, event: ChangeEvent | undefined) {
        if (table) {
          const tbl = toTable(t, [obj], include, { resourceVersion: obj.metadata.resourceVersion }, first);
          first = false;
          write(Buffer.from(`{"type":"${type}","object":${JSON.stringify(tbl)}}\n`));
          return;
        }
        if (event && obj.apiVersion === gv) {
          let frame = event.frames[type];
          if (!frame) {
            frame = Buffer.from(`{"type":"${type}","object":${json}}\n`);
            event.frames[type] = frame;
          }
          write(frame);
          return;
        }
        const body = obj.apiVersion === gv ? json : JSON.stringify({ ...obj, apiVersion: gv });
        write(Buffer.from(`{"type":"${type}","object":${body}}\n`));
      },
      close,
    };
    const stream = {
      watcher,
      bookmarks: q.get("allowWatchBookmarks") === "true",
      bookmark() {
        write(
          Buffer.from(
            `{"type":"BOOKMARK","object":{"kind":${JSON.stringify(t.kind)},"apiVersion":${JSON.stringify(gv)},"metadata":{"resourceVersion":"${api.store.currentRv()}","creationTimestamp":null}}}\n`,
          ),
        );
      },
    };
    let unregister = (): void => {};
    function close(): void {
      if (closed) return;
      if (pending.length > 0 && !res.destroyed) res.write(Buffer.concat(pending, pendingBytes));
      pending = [];
      closed = true;
      unregister();
      streams.delete(stream);
      if (timeout) clearTimeout(timeout);
      res.end();
    }
    try {
      unregister = api.store.watch(watcher, fromRv);
    } catch (err) {
      if (err instanceof CompactedError) {
        const status = expired(err.requested, err.oldest).toStatus();
        res.end(`{"type":"ERROR","object":${JSON.stringify(status)}}\n`);
        closed = true;
        return;
      }
      throw err;
    }
    streams.add(stream);
    const timeoutSeconds = q.get("timeoutSeconds");
    const timeout = timeoutSeconds ? setTimeout(close, Number(timeoutSeconds) * 1000) : undefined;
    timeout?.unref();
    req.on("close", close);
    res.on("close", close);
  }

  function render(t: ResourceType, s: Stored): string {
    const gv = groupVersion(t);
    return s.obj.apiVersion === gv ? s.json : JSON.stringify({ ...s.obj, apiVersion: gv });
  }

  function sendStored(
    req: IncomingMessage,
    res: ServerResponse,
    code: number,
    t: ResourceType,
    s: Stored,
    q: URLSearchParams,
  ): void {
    if (wantsTable(req)) {
      return sendJson(
        res,
        code,
        toTable(t, [s.obj], includeObject(q), { resourceVersion: s.obj.metadata.resourceVersion }),
      );
    }
    sendRaw(res, code, render(t, s));
  }

  const port = await new Promise<number>((resolvePort, reject) => {
    server.once("error", (err) => {
      clearInterval(bookmarkTimer);
      api.stop();
      reject(new ApiServerListenError(options.port ?? 0, err));
    });
    server.listen(options.port ?? 0, "127.0.0.1", () => resolvePort((server.address() as AddressInfo).port));
  });

  return {
    name,
    url: `http://127.0.0.1:${port}`,
    port,
    faults,
    counters,
    api,
    watchCount: () => streams.size,
    async stop() {
      clearInterval(bookmarkTimer);
      for (const s of [...streams]) s.watcher.close();
      api.stop();
      const closed = new Promise<void>((r) => server.close(() => r()));
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}

let flushQueue: (() => void)[] = [];

/** Runs `flush` once at the end of this event-loop turn (shared across all watchers). */
function scheduleFlush(flush: () => void): void {
  if (flushQueue.length === 0) {
    setImmediate(() => {
      const queue = flushQueue;
      flushQueue = [];
      for (const f of queue) f();
    });
  }
  flushQueue.push(flush);
}

function wantsTable(req: IncomingMessage): boolean {
  const accept = req.headers.accept ?? "";
  return accept.includes("as=Table");
}

function includeObject(q: URLSearchParams): IncludeObject {
  const v = q.get("includeObject");
  return v === "Object" || v === "None" ? v : "PartialObjectMetadata";
}

function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  console.error("sandbox apiserver: unexpected error while serving a request:", err);
  const message = err instanceof Error ? err.message : String(err);
  return new ApiError(500, "InternalError", `Internal error occurred: ${message}`);
}

function sendError(res: ServerResponse, err: ApiError): void {
  const body = JSON.stringify(err.toStatus());
  res.writeHead(err.code, {
    "Content-Type": JSON_TYPE,
    "Content-Length": Buffer.byteLength(body),
    ...err.headers,
  });
  res.end(body);
}

function sendJson(res: ServerResponse, code: number, body: unknown): void {
  sendRaw(res, code, JSON.stringify(body));
}

function sendRaw(res: ServerResponse, code: number, body: string): void {
  res.writeHead(code, {
    "Content-Type": JSON_TYPE,
    "Content-Length": Buffer.byteLength(body),
    "Cache-Control": "no-cache, private",
  });
  res.end(body);
}

function sendText(res: ServerResponse, code: number, body: string): void {
  res.writeHead(code, {
    "Content-Type": "text/plain; charset=utf-8",
    "Content-Length": Buffer.byteLength(body),
  });
  res.end(body);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw badRequest(`error decoding request body: ${(err as Error).message}`);
  }
}

/**
 * Reads a request body as an object: JSON, YAML, or protobuf for the kinds kubectl's `create`
 * generators send; other media types get kube's 415 answer.
 */
async function readObject(req: IncomingMessage, limit: number): Promise<unknown> {
  const type = (req.headers["content-type"] ?? "application/json").split(";")[0].trim();
  if (type === "application/vnd.kubernetes.protobuf") return decodeKubeProtobuf(await readBuffer(req, limit));
  const text = await readBody(req, limit);
  if (type === "application/json" || type === "" || type === "*/*") return parseJson(text);
  if (type === "application/yaml") {
    try {
      return parseYaml(text);
    } catch (err) {
      throw badRequest(`error decoding request body: ${(err as Error).message}`);
    }
  }
  throw new ApiError(
    415,
    "UnsupportedMediaType",
    `the body of the request was in an unknown format - accepted media types include: application/json, application/yaml (got ${type})`,
  );
}

async function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return (await readBuffer(req, limit)).toString("utf8");
}

async function readBuffer(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers["content-length"] ?? "0");
  if (declared > limit) {
    req.resume();
    throw requestTooLarge(limit);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > limit) {
      req.resume();
      throw requestTooLarge(limit);
    }
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}
