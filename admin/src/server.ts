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
  const h1 = http.createServer(handler as http.RequestListener);
  h1.keepAliveTimeout = 65_000;
  const h2 = http2.createServer(
    {},
    handler as (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void,
  );
  const sockets = new Set<net.Socket>();
  const sessions = new Set<http2.ServerHttp2Session>();
  h2.on("session", (session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
  });
  const tcp = net.createServer((socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    socket.once("readable", () => {
      const chunk = socket.read() as Buffer | null;
      if (chunk === null) {
        socket.destroy();
        return;
      }
      socket.unshift(chunk);
      const isH2 = chunk.length >= 3 && chunk.toString("latin1", 0, 3) === "PRI";
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
        tcp.close(() => finish());
        h1.closeIdleConnections();
        h1.close();
        for (const s of sessions) s.close();
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
