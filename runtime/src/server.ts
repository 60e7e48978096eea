import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import type { ConnectRouter, Interceptor } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import type { Registry } from "prom-client";
import type { Logger } from "@flotilla/common";
import { tracingServerInterceptor } from "./tracing.js";

/** A Node request handler that serves both HTTP/1.1 and HTTP/2 requests. */
export type NodeHandler = (
  req: http.IncomingMessage | http2.Http2ServerRequest,
  res: http.ServerResponse | http2.Http2ServerResponse,
) => void;

/** A handler for paths the server does not serve itself (Connect's fallback shape). */
export type FallbackHandler = NonNullable<Parameters<typeof connectNodeAdapter>[0]["fallback"]>;

/** What `/readyz` reports: ready or not, why not, and optional service-specific details. */
export interface Readiness {
  readonly ready: boolean;
  /** Why the service is not ready (sent with the 503). */
  readonly reason?: string;
  /**
   * Extra fields (e.g. a leader's URL). When present, `/healthz` and `/readyz` answer JSON
   * `{status, reason?, ...details}` instead of plain text.
   */
  readonly details?: Readonly<Record<string, unknown>>;
}

/** Options of {@link startServer}. */
export interface ServerOptions {
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  readonly logger: Logger;
  /** Registers the Connect services (served over Connect, gRPC and gRPC-Web). */
  readonly routes?: (router: ConnectRouter) => void;
  readonly interceptors?: readonly Interceptor[];
  /** Served at `/metrics`; absent: 404. */
  readonly registry?: Registry;
  /** Asked on every `/readyz` (and for `/healthz` details); default: always ready. */
  readonly readiness?: () => Readiness | Promise<Readiness>;
  /** Largest request message accepted, in bytes (Connect's readMaxBytes; default 32 MiB). */
  readonly readMaxBytes?: number;
  /** Replies smaller than this are not compressed (default Connect's 1 KiB). */
  readonly compressMinBytes?: number;
  /** Paths the server does not know go here before the 404 (e.g. a debug page). */
  readonly fallback?: FallbackHandler;
}

/** A listening server. */
export interface RunningServer {
  /** `http://host:port`, with 127.0.0.1 for a wildcard bind. */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /**
   * Stops accepting connections, lets in-flight requests finish for up to `graceMs`, then
   * destroys what is left. Resolves when every connection is closed. Idempotent.
   */
  close(graceMs: number): Promise<void>;
}

/** Default cap on one request message. */
export const DEFAULT_READ_MAX_BYTES = 32 * 1024 * 1024;

/**
 * Starts the one server of a service: Connect, gRPC and gRPC-Web for `routes`, plus
 * `GET /healthz` (alive: 200 while serving), `GET /readyz` (200 when `readiness` says ready,
 * else 503 with the reason) and `GET /metrics` (Prometheus text of `registry`), all on one port.
 * HTTP/1.1 and cleartext HTTP/2 (gRPC's prior-knowledge h2c) share the port: the first bytes of
 * each connection pick the protocol. Every RPC continues its caller's trace in a SERVER span when
 * tracing is on (`tracing.ts`). Resolves once listening.
 */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const handler = createRequestHandler(options);
  const listener = await listenDualProtocol(handler, options.host, options.port);
  const shownHost = listener.host === "0.0.0.0" || listener.host === "::" ? "127.0.0.1" : listener.host;
  return {
    url: `http://${shownHost.includes(":") ? `[${shownHost}]` : shownHost}:${listener.port}`,
    host: listener.host,
    port: listener.port,
    close: (graceMs) => listener.close(graceMs),
  };
}

/**
 * The request handler {@link startServer} serves: Connect routes plus the health and metrics
 * endpoints. Exposed for tests and for embedding in another server.
 */
export function createRequestHandler(options: Omit<ServerOptions, "host" | "port">): NodeHandler {
  const { logger, registry } = options;
  const readiness = options.readiness ?? (() => ({ ready: true }));
  const send = (res: Parameters<FallbackHandler>[1], status: number, body: string, type: string) => {
    res.writeHead(status, { "content-type": type });
    res.end(body);
  };
  const answerHealth = (res: Parameters<FallbackHandler>[1], probe: "healthz" | "readyz") => {
    Promise.resolve()
      .then(readiness)
      .then(
        (state) => {
          const ok = probe === "healthz" || state.ready;
          const reason = ok ? undefined : (state.reason ?? "not ready");
          if (state.details !== undefined) {
            const body = {
              status: ok ? "ok" : "unavailable",
              ...(reason ? { reason } : {}),
              ...state.details,
            };
            send(res, ok ? 200 : 503, JSON.stringify(body) + "\n", "application/json");
          } else send(res, ok ? 200 : 503, `${reason ?? "ok"}\n`, "text/plain; charset=utf-8");
        },
        (err: unknown) => {
          logger.error("readiness check failed", { error: err });
          send(
            res,
            probe === "healthz" ? 200 : 503,
            probe === "healthz" ? "ok\n" : "readiness check failed\n",
            "text/plain; charset=utf-8",
          );
        },
      );
  };
  const fallback: FallbackHandler = (req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method === "GET" && (path === "/healthz" || path === "/readyz")) {
      answerHealth(res, path === "/healthz" ? "healthz" : "readyz");
      return;
    }
    if (req.method === "GET" && path === "/metrics" && registry !== undefined) {
      registry.metrics().then(
        (text) => send(res, 200, text, registry.contentType),
        (err: unknown) => {
          logger.error("metrics collection failed", { error: err });
          send(res, 500, "metrics collection failed\n", "text/plain; charset=utf-8");
        },
      );
      return;
    }
    if (options.fallback) return options.fallback(req, res);
    send(res, 404, "not found\n", "text/plain; charset=utf-8");
  };
  return connectNodeAdapter({
    routes: options.routes ?? (() => {}),
    // First, so the service's own interceptors and handlers run inside the RPC's span.
    interceptors: [tracingServerInterceptor(), ...(options.interceptors ?? [])],
    readMaxBytes: options.readMaxBytes ?? DEFAULT_READ_MAX_BYTES,
    ...(options.compressMinBytes !== undefined ? { compressMinBytes: options.compressMinBytes } : {}),
    fallback,
  });
}

interface DualProtocolListener {
  readonly port: number;
  readonly host: string;
  close(graceMs: number): Promise<void>;
}

/**
 * Listens on `host:port` and hands each connection to an HTTP/1.1 or an HTTP/2 server sharing
 * `handler`, by sniffing the HTTP/2 preface in its first bytes.
 */
async function listenDualProtocol(
  handler: NodeHandler,
  host: string,
  port: number,
): Promise<DualProtocolListener> {
  // Node tracks idle HTTP/1.1 connections only for servers that listen themselves, so in-flight
  // requests per handed-over socket are counted here to close idle keep-alive sockets on shutdown.
  let closingDown = false;
  const inFlight = new Map<net.Socket, number>();
  const h1 = http.createServer((req, res) => {
    const socket = req.socket;
    inFlight.set(socket, (inFlight.get(socket) ?? 0) + 1);
    if (closingDown) res.setHeader("connection", "close");
    res.once("close", () => {
      const left = (inFlight.get(socket) ?? 1) - 1;
      inFlight.set(socket, left);
      if (closingDown && left === 0) socket.destroy();
    });
    handler(req, res);
  });
  h1.keepAliveTimeout = 65_000;
  const h2 = http2.createServer(
    {},
    handler as (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void,
  );
  const sockets = new Set<net.Socket>();
  const sessions = new Set<http2.ServerHttp2Session>();
  const h2Sockets = new WeakSet<net.Socket>();
  h2.on("session", (session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
  });
  // noDelay: the HTTP servers only set it on sockets they accept themselves; without it small
  // replies wait for Nagle's algorithm (~40 ms per round trip with delayed ACKs).
  const tcp = net.createServer({ noDelay: true, keepAlive: true }, (socket) => {
    sockets.add(socket);
    socket.once("close", () => {
      sockets.delete(socket);
      inFlight.delete(socket);
    });
    socket.on("error", () => socket.destroy());
    socket.once("readable", () => {
      const chunk = socket.read() as Buffer | null;
      if (chunk === null) {
        socket.destroy();
        return;
      }
      socket.unshift(chunk);
      const isH2 = chunk.length >= 3 && chunk.toString("latin1", 0, 3) === "PRI";
      if (isH2) h2Sockets.add(socket);
      else inFlight.set(socket, 0);
      (isH2 ? h2 : h1).emit("connection", socket);
    });
  });
  await new Promise<void>((resolveListen, reject) => {
    tcp.once("error", reject);
    tcp.listen(port, host, () => {
      tcp.off("error", reject);
      resolveListen();
    });
  });
  const address = tcp.address() as net.AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    port: address.port,
    host: address.address,
    close(graceMs: number) {
      closing ??= new Promise<void>((done) => {
        const timer = setTimeout(() => {
          for (const s of sessions) s.destroy();
          for (const s of sockets) s.destroy();
        }, graceMs);
        timer.unref();
        closingDown = true;
        tcp.close(() => {
          clearTimeout(timer);
          done();
        });
        h1.close();
        for (const s of sessions) s.close();
        // Idle HTTP/1.1 keep-alive sockets and sockets that never sent a byte close now; busy
        // ones close when their last response is done.
        for (const socket of sockets) {
          const busy = inFlight.get(socket);
          if (busy === 0 || (busy === undefined && !h2Sockets.has(socket))) socket.destroy();
        }
      });
      return closing;
    },
  };
}
