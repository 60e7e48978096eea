/**
 * Prometheus metrics of one propeller (`flotilla_propeller_*`). Every metric carries the
 * `cluster` label and nothing unbounded (never execution ids). Each propeller owns its own
 * registry so several can run in one process (tests, the demo).
 */
import { collectProcessMetrics, createMetricFactory } from "@flotilla/runtime";
import { Registry } from "prom-client";

/** Outcome label values of `flotilla_propeller_rounds_total`. */
export const RoundOutcome = {
  success: "success",
  error: "error",
  shortCircuit: "short-circuit",
  notFound: "not-found",
} as const;
/** One of the round outcomes. */
export type RoundOutcome = (typeof RoundOutcome)[keyof typeof RoundOutcome];

/** Histogram buckets of call latencies, in seconds (rounds add 10 s, CR writes stop at 2.5 s). */
const LATENCY_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/**
 * The help text of every metric, by name (without the `flotilla_propeller_` prefix): the table
 * keeps each declaration below to one line.
 */
const HELP = {
  round_duration_seconds: "Latency of one workflow round (load, evaluate, write status).",
  rounds_total: "Workflow rounds by outcome (success, error, short-circuit, not-found).",
  workflows: "Workflow executions in the informer cache by phase.",
  pods_created_total: "Task pods created.",
  pods_deleted_total: "Task pods deleted (aborts, timeouts, cleanup of finished nodes).",
  cr_update_duration_seconds: "Latency of WorkflowExecution status/metadata writes.",
  cr_update_conflicts_total: "WorkflowExecution writes rejected with 409 Conflict (re-read and retried).",
  cr_too_large_total:
    "WorkflowExecution writes that would exceed the size budget or were rejected as too large.",
  cr_status_bytes: "Serialized size of written WorkflowExecution objects by node-status encoding.",
  event_send_duration_seconds: "Latency of one IngestEvents batch call to the admin.",
  event_buffer_depth: "Events buffered for the admin and not yet acknowledged.",
  events_total: "Events acknowledged by the admin by outcome (accepted, duplicate, rejected).",
  event_send_failures_total: "IngestEvents calls that failed and will be retried.",
  free_workers: "Round slots not currently running a round.",
  informer_lag_seconds: "Time from a propeller write to the informer cache showing it.",
  informer_restarts_total: "Informer watch restarts after errors (a 410 Gone relists).",
  queue_depth: "Workflow keys waiting in the workqueue.",
  queue_adds_total: "Adds to the workqueue (including deduplicated ones).",
  queue_retries_total: "Rate-limited re-queues after failed rounds.",
  queue_unfinished_work_seconds: "Age of the oldest round in progress.",
  queue_delayed: "Workflow keys waiting for a delayed re-queue.",
  leader: "1 while this replica holds the leader lease.",
  token_requests_total:
    "Resource manager allocations by resource and outcome (granted, queued, rejected, error).",
  gc_deleted_total: "Terminated WorkflowExecution CRs deleted after their TTL.",
  heartbeat_failures_total: "ClusterHeartbeat calls to the admin that failed.",
} as const;

/** A metric's name without the `flotilla_propeller_` prefix. */
type MetricName = keyof typeof HELP;

/** The propeller's metric set, bound to one registry and one cluster label. */
export class PropellerMetrics {
  /** The registry to serve on `/metrics`. */
  readonly registry = new Registry();
  private readonly factory = createMetricFactory(this.registry, { prefix: "flotilla_propeller_" });
  readonly roundLatency = this.histogram("round_duration_seconds", [...LATENCY_BUCKETS, 10]);
  readonly rounds = this.counter("rounds_total", ["outcome"]);
  readonly workflows = this.gauge("workflows", ["phase"]);
  readonly podsCreated = this.counter("pods_created_total");
  readonly podsDeleted = this.counter("pods_deleted_total");
  readonly crUpdateLatency = this.histogram("cr_update_duration_seconds", LATENCY_BUCKETS.slice(0, -1));
  readonly crUpdateConflicts = this.counter("cr_update_conflicts_total");
  readonly crTooLarge = this.counter("cr_too_large_total");
  readonly crStatusBytes = this.histogram(
    "cr_status_bytes",
    [1024, 4096, 16384, 65536, 262144, 524288, 1048576, 1572864],
    ["encoding"],
  );
  readonly eventSendLatency = this.histogram("event_send_duration_seconds", LATENCY_BUCKETS);
  readonly eventBufferDepth = this.gauge("event_buffer_depth");
  readonly eventsSent = this.counter("events_total", ["outcome"]);
  readonly eventSendFailures = this.counter("event_send_failures_total");
  readonly freeWorkers = this.gauge("free_workers");
  readonly informerLag = this.histogram("informer_lag_seconds", LATENCY_BUCKETS, ["informer"]);
  readonly informerRestarts = this.counter("informer_restarts_total", ["informer"]);
  readonly queueDepth = this.gauge("queue_depth");
  readonly queueAdds = this.counter("queue_adds_total");
  readonly queueRetries = this.counter("queue_retries_total");
  readonly queueUnfinishedWork = this.gauge("queue_unfinished_work_seconds");
  readonly queueDelayed = this.gauge("queue_delayed");
  readonly isLeader = this.gauge("leader");
  readonly tokenRequests = this.counter("token_requests_total", ["resource", "outcome"]);
  readonly garbageCollected = this.counter("gc_deleted_total");
  readonly heartbeatFailures = this.counter("heartbeat_failures_total");

  /**
   * Creates the metrics in a fresh registry with `cluster` as a default label. When
   * `defaultMetrics` is true, also registers prom-client's process metrics (RSS, CPU, GC).
   */
  constructor(
    readonly cluster: string,
    options: { defaultMetrics?: boolean } = {},
  ) {
    this.registry.setDefaultLabels({ cluster });
    // Counters with no label of their own are exported at 0 before their first event, so
    // dashboards and alerts see them (and rate() works) on a healthy propeller.
    for (const c of [
      this.podsCreated,
      this.podsDeleted,
      this.crUpdateConflicts,
      this.crTooLarge,
      this.eventSendFailures,
      this.queueAdds,
      this.queueRetries,
      this.garbageCollected,
      this.heartbeatFailures,
    ])
      c.inc(0);
    if (options.defaultMetrics) collectProcessMetrics(this.registry, "flotilla_propeller_");
  }

  private counter<L extends string = never>(name: MetricName, labels: readonly L[] = []) {
    return this.factory.counter(name, HELP[name], ["cluster", ...labels]);
  }

  private gauge<L extends string = never>(name: MetricName, labels: readonly L[] = []) {
    return this.factory.gauge(name, HELP[name], ["cluster", ...labels]);
  }

  private histogram<L extends string = never>(
    name: MetricName,
    buckets: readonly number[],
    labels: readonly L[] = [],
  ) {
    return this.factory.histogram(name, HELP[name], buckets, ["cluster", ...labels]);
  }

  /** Counts one round outcome and, except for short-circuits, observes its latency. */
  observeRound(outcome: RoundOutcome, seconds: number): void {
    this.rounds.inc({ outcome });
    this.roundLatency.observe(seconds);
  }
}
