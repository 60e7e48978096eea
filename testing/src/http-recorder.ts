import { createServer, type IncomingHttpHeaders } from "node:http";
import { listen, type Listening } from "./listen.js";

/** One request an {@link HttpRecorder} received, with the status it answered. */
export interface RecordedRequest {
  method: string;
  /** Path and query. */
  path: string;
  headers: IncomingHttpHeaders;
  /** The raw body as received (UTF-8). */
  body: string;
  /** The status answered. */
  status: number;
}

/** A loopback HTTP server that records every request (webhook receivers in tests). */
export interface HttpRecorder extends Listening {
  /** Every request so far, in arrival order. */
  readonly requests: readonly RecordedRequest[];
}

/**
 * Starts an HTTP server on 127.0.0.1 port 0 that reads each request's body, answers with the
 * status `respond` returns for it (its 0-based arrival index is passed along; default 200) and
 * records it. Side effect: listens until `close()`.
 */
export async function startHttpRecorder(
  respond: (request: Omit<RecordedRequest, "status">, index: number) => number = () => 200,
): Promise<HttpRecorder> {
  const requests: RecordedRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const received = {
        method: req.method ?? "",
        path: req.url ?? "",
        headers: req.headers,
        body: Buffer.concat(chunks).toString("utf8"),
      };
      const status = respond(received, requests.length);
      requests.push({ ...received, status });
      res.writeHead(status, { "Content-Type": "text/plain" }).end(status < 300 ? "ok" : `status ${status}`);
    });
  });
  const listening = await listen(server);
  return { ...listening, requests };
}
