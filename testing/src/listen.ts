import type { Server as NetServer, Socket } from "node:net";
import { createServer } from "node:net";
import { Server as TlsServer } from "node:tls";

/** A server listening on 127.0.0.1 for a test. */
export interface Listening {
  /** Base URL, `http://127.0.0.1:<port>` (or `https://` for TLS servers), without trailing slash. */
  url: string;
  /** The port the kernel chose. */
  port: number;
  /** Stops listening and destroys open connections (keep-alive, HTTP/2 sessions); idempotent. */
  close: () => Promise<void>;
}

/**
 * Starts `server` (an `http`, `https`, `http2` or plain `net` server) on 127.0.0.1 port 0 and
 * returns where it listens. Connections are tracked so `close()` does not wait for idle
 * keep-alive sockets or HTTP/2 sessions. Side effect: the server listens until `close()`.
 */
export async function listen(server: NetServer): Promise<Listening> {
  const sockets = new Set<Socket>();
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once("error", onError);
    server.listen({ host: "127.0.0.1", port: 0 }, () => {
      server.off("error", onError);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("listen: server has no TCP address");
  const scheme = server instanceof TlsServer ? "https" : "http";
  let closing: Promise<void> | undefined;
  return {
    url: `${scheme}://127.0.0.1:${address.port}`,
    port: address.port,
    close() {
      closing ??= new Promise<void>((resolve, reject) => {
        server.close((err) =>
          err && (err as NodeJS.ErrnoException).code !== "ERR_SERVER_NOT_RUNNING" ? reject(err) : resolve(),
        );
        for (const socket of sockets) socket.destroy();
      });
      return closing;
    },
  };
}

/**
 * Returns a TCP port on 127.0.0.1 that was free a moment ago (the kernel's choice for port 0).
 * Prefer passing port 0 to the server itself: another process may take the port before use.
 */
export async function freePort(): Promise<number> {
  const server = createServer();
  const { port, close } = await listen(server);
  await close();
  return port;
}
