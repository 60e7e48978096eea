import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import type { ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { ResourceManagerService } from "@flotilla/proto";
import type { Logger, ResourceManager } from "./manager/resource-manager.js";
import type { ResourceManagerMetrics } from "./metrics.js";
import { createResourceManagerServiceImpl } from "./rpc/resource-manager-service.js";

/** Options of {@link createResourceManagerServer}. */
export interface ResourceManagerServerOptions {
  readonly manager: ResourceManager;
  readonly metrics: ResourceManagerMetrics;
  readonly log?: Logger;
}

type NodeHandler = Parameters<typeof connectNodeAdapter>[0]["fallback"] & {};

const HTTP2_PREFACE = Buffer.from("PRI * HTTP/2.0");

/**
 * Replies smaller than this are sent uncompressed even to clients that accept gzip. The leader's
 * single decision loop is the service's throughput, and gzipping a batch reply of 100 leases
 * (~13 KB) cost more of it than deciding the batch; callers sit next to the service, so only
 * very large list pages are worth compressing. Compressed requests are still accepted.
 */
const COMPRESS_MIN_BYTES = 1024 * 1024;

/**
 * Creates the service's single listener: Connect, gRPC and gRPC-Web for ResourceManagerService,
 * plus `GET /metrics` (Prometheus text), `GET /healthz` (alive: 200 on leader and standby) and
 * `GET /readyz` (200 only on the active leader, so a load balancer routes to it).
 *
 * HTTP/1.1 and cleartext HTTP/2 (h2c with prior knowledge, what gRPC clients speak) share one
 * port: the first bytes of each connection pick the protocol. Returns an unstarted `net.Server`;
 * call `listen`. Side effects: none until it listens.
 */
export function createResourceManagerServer(options: ResourceManagerServerOptions): net.Server {
  const { manager, metrics } = options;
  const log = options.log ?? (() => {});
  const fallback: NodeHandler = (req, res): void => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method === "GET" && path === "/metrics") {
      metrics.registry.metrics().then(
        (text) => {
          res.writeHead(200, { "content-type": metrics.registry.contentType });
          res.end(text);
        },
        (err: unknown) => {
          log("error", "metrics collection failed", {
            error: err instanceof Error ? err.message : String(err),
          });
          res.writeHead(500, { "content-type": "text/plain" });
          res.end("metrics collection failed\n");
        },
      );
      return;
    }
    if (req.method === "GET" && (path === "/healthz" || path === "/readyz")) {
      const state = manager.state;
      const ready = state === "active";
      const ok = path === "/healthz" ? state !== "stopped" : ready;
      res.writeHead(ok ? 200 : 503, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          status: ok ? "ok" : "unavailable",
          role: ready ? "leader" : state,
          epoch: manager.epoch ?? null,
          leader: ready ? null : (manager.leader ?? null),
        }) + "\n",
      );
      return;
    }
    res.writeHead(404, { "content-type": "text/plain" });
    res.end("not found\n");
  };
  const handler = connectNodeAdapter({
    routes: (router: ConnectRouter) => {
      router.service(ResourceManagerService, createResourceManagerServiceImpl(manager, log));
    },
    fallback,
    compressMinBytes: COMPRESS_MIN_BYTES,
  });
  const h1 = http.createServer(handler);
  h1.keepAliveTimeout = 65_000;
  const h2 = http2.createServer({}, handler);
  const sessions = new Set<http2.ServerHttp2Session>();
  h2.on("session", (session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
  });
  // noDelay: the HTTP servers only set it on sockets they accept themselves; without it small
  // replies wait for Nagle's algorithm (~40 ms per round trip with delayed ACKs).
  const server = net.createServer({ noDelay: true, keepAlive: true }, (socket) => {
    socket.once("data", (chunk: Buffer) => {
      socket.pause();
      socket.unshift(chunk);
      const n = Math.min(chunk.length, HTTP2_PREFACE.length);
      const isH2 = chunk.subarray(0, n).equals(HTTP2_PREFACE.subarray(0, n));
      (isH2 ? h2 : h1).emit("connection", socket);
      process.nextTick(() => socket.resume());
    });
    socket.on("error", () => socket.destroy());
  });
  server.on("close", () => {
    for (const session of sessions) session.destroy();
    h1.closeAllConnections();
  });
  return server;
}
