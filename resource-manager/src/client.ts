import { Code, ConnectError, createClient, type Client, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { tracingClientInterceptor } from "@flotilla/runtime";
import { ResourceManagerService } from "@flotilla/proto";
import { LEADER_URL_HEADER } from "./rpc/resource-manager-service.js";

/** A typed ResourceManagerService client. */
export type ResourceManagerClient = Client<typeof ResourceManagerService>;

/** Options of {@link createResourceManagerClient}. */
export interface ResourceManagerClientOptions {
  /** Wire protocol: "connect" (default) or "grpc". Both run over HTTP/2 cleartext. */
  readonly protocol?: "connect" | "grpc";
  /** HTTP version for the Connect protocol (default "2"; gRPC always uses HTTP/2). */
  readonly httpVersion?: "1.1" | "2";
  /** How many calls to try in total when instances answer Unavailable (default 3 per URL). */
  readonly maxAttempts?: number;
  /** Pause between failover attempts in ms (default 100). */
  readonly retryDelayMs?: number;
}

/**
 * Creates a typed client for the resource manager at `url` (or at any of several instances).
 *
 * Failover: when an instance answers `Unavailable` (a standby, or a leader that just lost its
 * term) or the connection breaks (refused, reset: the instance died), the call is retried on the
 * leader named in the `flotilla-leader-url` header, else on the next URL, up to `maxAttempts`.
 * This is safe because the methods are idempotent: Allocate and AllocateBatch per holder, Renew,
 * Release and ReleaseBatch, ConfigurePool as an upsert, and the reads. DeletePool is the
 * exception only in its answer: a retry after a broken connection may report NotFound for a
 * pool the first attempt deleted.
 *
 * For many holders at once (a propeller round starting or finishing many nodes) use
 * `allocateBatch` / `releaseBatch` (at most `MAX_BATCH_SIZE`, 1000, items per call): one round
 * trip and one durable write for the whole batch, with a result per item.
 * Returns the client; no I/O until the first call (HTTP/2 sessions are opened lazily).
 */
export function createResourceManagerClient(
  url: string | readonly string[],
  options: ResourceManagerClientOptions = {},
): ResourceManagerClient {
  const urls = typeof url === "string" ? [url] : [...url];
  if (urls.length === 0) throw new TypeError("createResourceManagerClient: at least one URL is required");
  const transports = new Map<string, Transport>();
  const transportFor = (baseUrl: string): Transport => {
    let transport = transports.get(baseUrl);
    if (!transport) {
      transport =
        options.protocol === "grpc"
          ? createGrpcTransport({ baseUrl, interceptors: [tracingClientInterceptor()] })
          : createConnectTransport({
              baseUrl,
              httpVersion: options.httpVersion ?? "2",
              interceptors: [tracingClientInterceptor()],
            });
      transports.set(baseUrl, transport);
    }
    return transport;
  };
  const direct = (baseUrl: string): ResourceManagerClient =>
    createClient(ResourceManagerService, transportFor(baseUrl));
  if (urls.length === 1 && options.maxAttempts === 1) return direct(urls[0]);

  const clients = new Map<string, ResourceManagerClient>();
  const clientFor = (baseUrl: string): ResourceManagerClient => {
    let client = clients.get(baseUrl);
    if (!client) {
      client = direct(baseUrl);
      clients.set(baseUrl, client);
    }
    return client;
  };
  const maxAttempts = options.maxAttempts ?? urls.length * 3;
  const retryDelayMs = options.retryDelayMs ?? 100;
  let current = urls[0];

  const methods = Object.keys(ResourceManagerService.method) as (keyof ResourceManagerClient)[];
  const failover = {} as Record<string, (req: unknown, callOptions?: unknown) => Promise<unknown>>;
  for (const method of methods) {
    failover[method] = async (req: unknown, callOptions?: unknown) => {
      let lastError: unknown;
      for (let attempt = 0; attempt < maxAttempts; attempt++) {
        const target = current;
        const fn = clientFor(target)[method] as (r: unknown, o?: unknown) => Promise<unknown>;
        try {
          return await fn(req, callOptions);
        } catch (err) {
          const connectError = ConnectError.from(err);
          const signal = (callOptions as { signal?: AbortSignal } | undefined)?.signal;
          if (!isFailover(connectError, signal?.aborted === true)) throw connectError;
          lastError = connectError;
          const hint = connectError.metadata.get(LEADER_URL_HEADER);
          if (hint && hint !== target) {
            current = hint;
          } else if (current === target) {
            const i = urls.indexOf(target);
            current = urls[(i + 1) % urls.length];
          }
          await new Promise((resolve) => setTimeout(resolve, retryDelayMs));
        }
      }
      throw lastError;
    };
  }
  return failover as unknown as ResourceManagerClient;
}

const NETWORK_ERRORS = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
]);

/**
 * True for errors after which another instance may answer: standby replies and broken
 * connections (including HTTP/2 streams cancelled by a dying server, unless the caller itself
 * aborted).
 */
function isFailover(err: ConnectError, callerAborted: boolean): boolean {
  if (err.code === Code.Unavailable) return true;
  if (err.code === Code.Canceled) return !callerAborted;
  const cause = err.cause as { code?: unknown } | undefined;
  const code = typeof cause?.code === "string" ? cause.code : "";
  return (
    (err.code === Code.Aborted || err.code === Code.Unknown || err.code === Code.Internal) &&
    (NETWORK_ERRORS.has(code) || code.startsWith("ERR_HTTP2"))
  );
}
