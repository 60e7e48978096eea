/**
 * The propeller's view of the admin: a Connect client of `AdminService` used for event
 * ingestion and cluster heartbeats.
 */
import { create } from "@bufbuild/protobuf";
import { createClient, type Client, type Transport } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { AdminService, IngestEventsRequestSchema, type Event, type EventResult } from "@flotilla/proto";
import { tracingClientInterceptor } from "@flotilla/runtime";
import type { EventTransport } from "../events/event-sink.js";

/** A typed AdminService client. */
export type AdminClient = Client<typeof AdminService>;

/**
 * A Connect transport to the admin at `url` (Connect protocol over HTTP/1.1); calls carry the
 * W3C trace context while tracing.
 */
export function adminTransport(url: string): Transport {
  return createConnectTransport({
    baseUrl: url,
    httpVersion: "1.1",
    interceptors: [tracingClientInterceptor()],
  });
}

/** Creates an AdminService client over `transport`. */
export function createAdminClient(transport: Transport): AdminClient {
  return createClient(AdminService, transport);
}

/** The admin response did not carry one result per event. */
export class IngestResponseMismatchError extends Error {
  override readonly name = "IngestResponseMismatchError";
  constructor(
    readonly sent: number,
    readonly results: number,
  ) {
    super(`IngestEvents answered ${results} results for ${sent} events`);
  }
}

/** An {@link EventTransport} that ships batches with `IngestEvents` as `clusterId`. */
export function adminEventTransport(
  client: AdminClient,
  clusterId: string,
  timeoutMs = 15_000,
): EventTransport {
  return {
    async ingest(events: Event[]): Promise<EventResult[]> {
      const res = await client.ingestEvents(
        create(IngestEventsRequestSchema, { producerCluster: clusterId, events }),
        {
          timeoutMs,
        },
      );
      if (res.results.length !== events.length)
        throw new IngestResponseMismatchError(events.length, res.results.length);
      return res.results;
    },
  };
}
