/**
 * Prometheus metrics of one propeller (`flotilla_propeller_*`). Every metric carries the
 * `cluster` label and nothing unbounded (never execution ids). Each propeller owns its own
 * registry so several can run in one process (tests, the demo).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

/** Outcome label values of `flotilla_propeller_rounds_total`. */
export const RoundOutcome = {
  success: "success",
  error: "error",
  shortCircuit: "short-circuit",
  notFound: "not-found",
} as const;
/** One of the round outcomes. */
export type RoundOutcome = (typeof RoundOutcome)[keyof typeof RoundOutcome];

/** The propeller's metric set, bound to one registry and one cluster label. */
export class PropellerMetrics {
  /** The registry to serve on `/metrics`. */
  readonly registry: Registry;
  readonly roundLatency: Histogram<"cluster">;
  readonly rounds: Counter<"cluster" | "outcome">;
  readonly workflows: Gauge<"cluster" | "phase">;
  readonly podsCreated: Counter<"cluster">;
  readonly podsDeleted: Counter<"cluster">;
  readonly crUpdateLatency: Histogram<"cluster">;
  readonly crUpdateConflicts: Counter<"cluster">;
  readonly crTooLarge: Counter<"cluster">;
  readonly crStatusBytes: Histogram<"cluster" | "encoding">;
  readonly eventSendLatency: Histogram<"cluster">;
  readonly eventBufferDepth: Gauge<"cluster">;
  readonly eventsSent: Counter<"cluster" | "outcome">;
  readonly eventSendFailures: Counter<"cluster">;
  readonly freeWorkers: Gauge<"cluster">;
  readonly informerLag: Histogram<"cluster" | "informer">;
  readonly informerRestarts: Counter<"cluster" | "informer">;
  readonly queueDepth: Gauge<"cluster">;
  readonly queueAdds: Counter<"cluster">;
  readonly queueRetries: Counter<"cluster">;
  readonly queueUnfinishedWork: Gauge<"cluster">;
  readonly queueDelayed: Gauge<"cluster">;
  readonly isLeader: Gauge<"cluster">;
  readonly tokenRequests: Counter<"cluster" | "resource" | "outcome">;
  readonly garbageCollected: Counter<"cluster">;
  readonly heartbeatFailures: Counter<"cluster">;

  /**
   * Creates the metrics in a fresh registry with `cluster` as a default label. When
   * `defaultMetrics` is true, also registers prom-client's process metrics (RSS, CPU, GC).
   */
  constructor(
    readonly cluster: string,
    options: { defaultMetrics?: boolean } = {},
  ) {
    this.registry = new Registry();
    this.registry.setDefaultLabels({ cluster });
    if (options.defaultMetrics)
      collectDefaultMetrics({ register: this.registry, prefix: "flotilla_propeller_" });
    const registers = [this.registry];
    const c = ["cluster"] as const;
    this.roundLatency = new Histogram({
      name: "flotilla_propeller_round_duration_seconds",
      help: "Latency of one workflow round (load, evaluate, write status).",
      labelNames: c,
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.rounds = new Counter({
      name: "flotilla_propeller_rounds_total",
      help: "Workflow rounds by outcome (success, error, short-circuit, not-found).",
      labelNames: ["cluster", "outcome"],
      registers,
    });
    this.workflows = new Gauge({
      name: "flotilla_propeller_workflows",
      help: "Workflow executions in the informer cache by phase.",
      labelNames: ["cluster", "phase"],
      registers,
    });
    this.podsCreated = new Counter({
      name: "flotilla_propeller_pods_created_total",
      help: "Task pods created.",
      labelNames: c,
      registers,
    });
    this.podsDeleted = new Counter({
      name: "flotilla_propeller_pods_deleted_total",
      help: "Task pods deleted (aborts, timeouts, cleanup of finished nodes).",
      labelNames: c,
      registers,
    });
    this.crUpdateLatency = new Histogram({
      name: "flotilla_propeller_cr_update_duration_seconds",
      help: "Latency of WorkflowExecution status/metadata writes.",
      labelNames: c,
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    this.crUpdateConflicts = new Counter({
      name: "flotilla_propeller_cr_update_conflicts_total",
      help: "WorkflowExecution writes rejected with 409 Conflict (re-read and retried).",
      labelNames: c,
      registers,
    });
    this.crTooLarge = new Counter({
      name: "flotilla_propeller_cr_too_large_total",
      help: "WorkflowExecution writes that would exceed the size budget or were rejected as too large.",
      labelNames: c,
      registers,
    });
    this.crStatusBytes = new Histogram({
      name: "flotilla_propeller_cr_status_bytes",
      help: "Serialized size of written WorkflowExecution objects by node-status encoding.",
      labelNames: ["cluster", "encoding"],
      buckets: [1024, 4096, 16384, 65536, 262144, 524288, 1048576, 1572864],
      registers,
    });
    this.eventSendLatency = new Histogram({
      name: "flotilla_propeller_event_send_duration_seconds",
      help: "Latency of one IngestEvents batch call to the admin.",
      labelNames: c,
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.eventBufferDepth = new Gauge({
      name: "flotilla_propeller_event_buffer_depth",
      help: "Events buffered for the admin and not yet acknowledged.",
      labelNames: c,
      registers,
    });
    this.eventsSent = new Counter({
      name: "flotilla_propeller_events_total",
      help: "Events acknowledged by the admin by outcome (accepted, duplicate, rejected).",
      labelNames: ["cluster", "outcome"],
      registers,
    });
    this.eventSendFailures = new Counter({
      name: "flotilla_propeller_event_send_failures_total",
      help: "IngestEvents calls that failed and will be retried.",
      labelNames: c,
      registers,
    });
    this.freeWorkers = new Gauge({
      name: "flotilla_propeller_free_workers",
      help: "Round slots not currently running a round.",
      labelNames: c,
      registers,
    });
    this.informerLag = new Histogram({
      name: "flotilla_propeller_informer_lag_seconds",
      help: "Time from a propeller write to the informer cache showing it.",
      labelNames: ["cluster", "informer"],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.informerRestarts = new Counter({
      name: "flotilla_propeller_informer_restarts_total",
      help: "Informer watch restarts after errors (a 410 Gone relists).",
      labelNames: ["cluster", "informer"],
      registers,
    });
    this.queueDepth = new Gauge({
      name: "flotilla_propeller_queue_depth",
      help: "Workflow keys waiting in the workqueue.",
      labelNames: c,
      registers,
    });
    this.queueAdds = new Counter({
      name: "flotilla_propeller_queue_adds_total",
      help: "Adds to the workqueue (including deduplicated ones).",
      labelNames: c,
      registers,
    });
    this.queueRetries = new Counter({
      name: "flotilla_propeller_queue_retries_total",
      help: "Rate-limited re-queues after failed rounds.",
      labelNames: c,
      registers,
    });
    this.queueUnfinishedWork = new Gauge({
      name: "flotilla_propeller_queue_unfinished_work_seconds",
      help: "Age of the oldest round in progress.",
      labelNames: c,
      registers,
    });
    this.queueDelayed = new Gauge({
      name: "flotilla_propeller_queue_delayed",
      help: "Workflow keys waiting for a delayed re-queue.",
      labelNames: c,
      registers,
    });
    this.isLeader = new Gauge({
      name: "flotilla_propeller_leader",
      help: "1 while this replica holds the leader lease.",
      labelNames: c,
      registers,
    });
    this.tokenRequests = new Counter({
      name: "flotilla_propeller_token_requests_total",
      help: "Resource manager allocations by resource and outcome (granted, queued, rejected, error).",
      labelNames: ["cluster", "resource", "outcome"],
      registers,
    });
    this.garbageCollected = new Counter({
      name: "flotilla_propeller_gc_deleted_total",
      help: "Terminated WorkflowExecution CRs deleted after their TTL.",
      labelNames: c,
      registers,
    });
    this.heartbeatFailures = new Counter({
      name: "flotilla_propeller_heartbeat_failures_total",
      help: "ClusterHeartbeat calls to the admin that failed.",
      labelNames: c,
      registers,
    });
  }

  /** Counts one round outcome and, except for short-circuits, observes its latency. */
  observeRound(outcome: RoundOutcome, seconds: number): void {
    this.rounds.inc({ outcome });
    this.roundLatency.observe(seconds);
  }
}
