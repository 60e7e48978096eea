/**
 * The HTTP front of the sandbox API server, on plain HTTP at 127.0.0.1: composes the API
 * semantics (`api.ts`), watch streams (`watch.ts`), pod logs, fault injection and counters,
 * and dispatches each request to the server paths (health, version, discovery, OpenAPI) or
 * the resource routes (`routes/`).
 */
import { type Server, createServer } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { createLogger, type Logger } from "@flotilla/runtime";
import { ClusterApi } from "./api.js";
import { ApiError } from "./errors.js";
import { ApiCounters, ApiFaults } from "./faults.js";
import { sendError } from "./http/responses.js";
import { LogStore } from "./logs.js";
import { parseApiPath, resolveResource } from "./routes/api-path.js";
import { serveGroupDiscovery, serveServerPaths } from "./routes/discovery-routes.js";
import type { RouteContext } from "./routes/route-context.js";
import { serveResource } from "./routes/resource-routes.js";
import { WatchStreams } from "./watch.js";

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
  /** Receives what no client can be told: unexpected failures of requests and controllers. */
  logger?: Logger;
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

/**
 * Starts an API server on 127.0.0.1. Returns its handle once it is listening.
 * Side effects: opens a TCP listener and a bookmark timer until `stop()`.
 */
export async function startApiServer(options: ApiServerOptions = {}): Promise<ApiServerHandle> {
  const name = options.name ?? "sandbox";
  const logger = options.logger ?? createLogger({ component: "sandbox-apiserver" }).child({ cluster: name });
  const api = new ClusterApi({
    objectSizeLimitBytes: options.objectSizeLimitBytes ?? 1572864,
    compactionWindow: options.compactionWindow ?? 10_000,
    logger,
  });
  const counters = new ApiCounters();
  const watches = new WatchStreams(api.store, options.bookmarkIntervalMs ?? 1000, (resource) =>
    counters.countExpiredWatch(resource),
  );
  const ctx: RouteContext = {
    api,
    logs: new LogStore(),
    counters,
    faults: new ApiFaults(
      () => watches.dropAll(),
      () => api.store.compact(),
    ),
    watches,
    requestLimit: options.requestSizeLimitBytes ?? 3 * 1024 * 1024,
  };
  api.store.onChange((e) => {
    if (e.typeKey !== "/pods") return;
    const status = (e.obj.status ?? {}) as Record<string, unknown>;
    if (e.type === "DELETED") ctx.logs.drop(e.obj.metadata.uid!);
    else if (status.phase === "Succeeded" || status.phase === "Failed") ctx.logs.end(e.obj.metadata.uid!);
  });

  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const path = url.pathname.replace(/\/+$/, "") || "/";
    const dispatch = async (): Promise<void> => {
      if (serveServerPaths(api.types, res, path, req.headers.host ?? "127.0.0.1")) return;
      const apiPath = parseApiPath(path);
      if (serveGroupDiscovery(api.types, res, apiPath)) return;
      await serveResource(ctx, req, res, resolveResource(api.types, apiPath), url.searchParams);
    };
    dispatch().catch((err: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (!(err instanceof ApiError))
        logger.error("sandbox apiserver: unexpected error while serving a request", { error: err });
      sendError(res, toApiError(err));
    });
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  server.keepAliveTimeout = 60_000;

  const port = await new Promise<number>((resolvePort, reject) => {
    server.once("error", (err) => {
      watches.closeAll();
      api.stop();
      reject(new ApiServerListenError(options.port ?? 0, err));
    });
    server.listen(options.port ?? 0, "127.0.0.1", () => resolvePort((server.address() as AddressInfo).port));
  });

  return {
    name,
    url: `http://127.0.0.1:${port}`,
    port,
    faults: ctx.faults,
    counters: ctx.counters,
    api,
    watchCount: () => watches.count(),
    async stop() {
      watches.closeAll();
      api.stop();
      const closed = new Promise<void>((r) => server.close(() => r()));
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}

/** The Status answered for a failure: kube's own, or 500 InternalError for anything unexpected. */
function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new ApiError(500, "InternalError", `Internal error occurred: ${message}`);
}
