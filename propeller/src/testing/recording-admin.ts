/**
 * An in-process AdminService that records what a propeller sends (IngestEvents batches and
 * heartbeats), deduplicates by event id like the real admin, and can be taken "down" to test
 * buffering. Served through `createRouterTransport`, so no port is opened.
 */
import { create } from "@bufbuild/protobuf";
import { createServer, type Server } from "node:http";
import {
  Code,
  ConnectError,
  createRouterTransport,
  type ConnectRouter,
  type Transport,
} from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import {
  AdminService,
  ClusterHeartbeatResponseSchema,
  EventResultSchema,
  EventResult_Outcome,
  IngestEventsResponseSchema,
  type ClusterHeartbeatRequest,
  type Event,
} from "@flotilla/proto";

/** The recording admin. */
export class RecordingAdmin {
  /** Every distinct event, in arrival order. */
  readonly events: Event[] = [];
  /** Every heartbeat. */
  readonly heartbeats: ClusterHeartbeatRequest[] = [];
  /** Calls answered Unavailable while down. */
  refusedCalls = 0;
  /** Duplicate events received. */
  duplicates = 0;
  /** While true, every call fails with Unavailable. */
  down = false;
  /** Executions to ask the propeller to abort in the next heartbeat response. */
  abortNames: string[] = [];
  private readonly seen = new Set<string>();
  private server: Server | undefined;
  /** The transport to give the propeller. */
  readonly transport: Transport;

  constructor() {
    this.transport = createRouterTransport((router) => this.routes(router));
  }

  /**
   * Serves the recording admin over HTTP/1.1 (Connect protocol) on 127.0.0.1:`port` (0: any),
   * for propellers in other processes. Returns the URL. Call again after {@link close} with the
   * same port to bring the admin "back".
   */
  async listen(port = 0): Promise<string> {
    const handler = connectNodeAdapter({ routes: (router) => this.routes(router) });
    const server = createServer(handler);
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => resolve());
    });
    this.server = server;
    const addr = server.address();
    if (!addr || typeof addr !== "object") throw new Error("recording admin has no address");
    return `http://127.0.0.1:${addr.port}`;
  }

  /** Stops serving HTTP (connections are dropped); recorded data is kept. */
  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private routes({ service }: ConnectRouter): void {
    service(AdminService, {
      ingestEvents: (req) => {
        if (this.down) {
          this.refusedCalls++;
          throw new ConnectError("admin is down", Code.Unavailable);
        }
        const results = req.events.map((e, index) => {
          const id = e.event.value?.eventId ?? "";
          if (this.seen.has(id)) {
            this.duplicates++;
            return create(EventResultSchema, { index, outcome: EventResult_Outcome.DUPLICATE });
          }
          this.seen.add(id);
          this.events.push(e);
          return create(EventResultSchema, { index, outcome: EventResult_Outcome.ACCEPTED });
        });
        return create(IngestEventsResponseSchema, { results });
      },
      clusterHeartbeat: (req) => {
        if (this.down) {
          this.refusedCalls++;
          throw new ConnectError("admin is down", Code.Unavailable);
        }
        this.heartbeats.push(req);
        return create(ClusterHeartbeatResponseSchema, { abortExecutionNames: this.abortNames.splice(0) });
      },
    });
  }

  /** Workflow events of one execution, as `PHASE` names in arrival order. */
  workflowPhases(execution: string): number[] {
    return this.events.flatMap((e) =>
      e.event.case === "workflowEvent" && e.event.value.executionId?.name === execution
        ? [e.event.value.phase]
        : [],
    );
  }
}
