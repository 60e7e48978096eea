import http from "node:http";
import http2 from "node:http2";
import net from "node:net";

type NodeHandler = (
  req: http.IncomingMessage | http2.Http2ServerRequest,
  res: http.ServerResponse | http2.Http2ServerResponse,
) => void;

/** A listening server speaking HTTP/1.1 and HTTP/2 cleartext on one port. */
export interface DualProtocolServer {
  /** Bound port. */
  readonly port: number;
  /** Bound address. */
  readonly host: string;
  /**
   * Stops accepting connections, lets in-flight requests finish for up to `graceMs`, then
   * destroys what is left. Resolves when every connection is closed.
   */
  close(graceMs: number): Promise<void>;
}

/**
 * Listens on `host:port` and serves `handler` over HTTP/1.1 (Connect JSON/binary, gRPC-Web,
 * curl, health and metrics endpoints) and HTTP/2 with prior knowledge (gRPC) on the same
 * port: the first bytes of each connection are sniffed for the HTTP/2 preface and the socket
 * is handed to an `http` or `http2` server sharing the handler. Returns the server once
 * listening.
 */
export async function listenDualProtocol(
  handler: NodeHandler,
  host: string,
  port: number,
): Promise<DualProtocolServer> {
  // Node tracks idle HTTP/1.1 connections only for servers that listen themselves, so in-flight
  // requests per handed-over socket are counted here to close idle keep-alive sockets on shutdown.
  let closingDown = false;
  const inFlight = new Map<net.Socket, number>();
  const h1Handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const socket = req.socket;
    inFlight.set(socket, (inFlight.get(socket) ?? 0) + 1);
    if (closingDown) res.setHeader("connection", "close");
    res.once("close", () => {
      const left = (inFlight.get(socket) ?? 1) - 1;
      inFlight.set(socket, left);
      if (closingDown && left === 0) socket.destroy();
    });
    handler(req, res);
  };
  const h1 = http.createServer(h1Handler);
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
  const tcp = net.createServer((socket) => {
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
        let finished = false;
        const finish = () => {
          if (finished) return;
          finished = true;
          clearTimeout(timer);
          done();
        };
        closingDown = true;
        tcp.close(() => finish());
        h1.close();
        for (const s of sessions) s.close();
        // Idle HTTP/1.1 keep-alive sockets and sockets that never sent a byte close now; busy
        // ones close when their last response is done.
        for (const socket of sockets) {
          const busy = inFlight.get(socket);
          if (busy === 0 || (busy === undefined && !h2Sockets.has(socket))) socket.destroy();
        }
        const timer = setTimeout(() => {
          for (const s of sessions) s.destroy();
          for (const s of sockets) s.destroy();
        }, graceMs);
        timer.unref();
        if (sockets.size === 0) finish();
      });
      return closing;
    },
  };
}
