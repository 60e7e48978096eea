/**
 * An in-process AdminService that records what a propeller sends (IngestEvents batches and
 * heartbeats), deduplicates by event id like the real admin, and can be taken "down" to test
 * buffering. Served through `createRouterTransport`, so no port is opened.
 */
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createRouterTransport, type Transport } from "@connectrpc/connect";
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
  /** The transport to give the propeller. */
  readonly transport: Transport;

  constructor() {
    this.transport = createRouterTransport(({ service }) => {
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
