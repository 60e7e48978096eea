import { createMetricFactory } from "@flotilla/runtime";
import { Registry, type Counter, type Gauge, type Histogram } from "prom-client";

/**
 * The admin's Prometheus metrics (all `flotilla_admin_*`), registered on one registry. Labels
 * are bounded: method, code, project, domain, cluster, phase, kind, outcome — never execution
 * names or ids.
 */
export interface AdminMetrics {
  registry: Registry;
  /** RPCs by method and Connect code. */
  rpcRequests: Counter<"method" | "code">;
  /** RPC latency by method and code. */
  rpcDuration: Histogram<"method" | "code">;
  /** Repository query latency by operation. */
  dbQueryDuration: Histogram<"operation">;
  /** Ingested events by kind (workflow/node/task) and outcome (accepted/duplicate/rejected). */
  eventsIngested: Counter<"kind" | "outcome">;
  /** Events per IngestEvents batch. */
  eventBatchSize: Histogram;
  /** Executions created by project and domain. */
  executionsCreated: Counter<"project" | "domain">;
  /** Schedule firings by outcome (started/existing/skipped/failed). */
  scheduleFirings: Counter<"project" | "domain" | "outcome">;
  /** How late after its scheduled time a firing's execution was created. */
  scheduleLateness: Histogram<"project" | "domain">;
  /** 1 while this replica holds the scheduler lock and fires schedules. */
  schedulerLeader: Gauge;
  /** Executions that reached a terminal phase, by project, domain and that phase. */
  executionsFinished: Counter<"project" | "domain" | "phase">;
  /** Creation to terminal phase of finished executions, by project, domain and phase. */
  executionDuration: Histogram<"project" | "domain" | "phase">;
  /** Task attempts that ended, by project, domain and phase (RETRYABLE_FAILED: retried). */
  taskAttemptsFinished: Counter<"project" | "domain" | "phase">;
  /** Stored executions by project, domain and workflow phase (counted at scrape). */
  executionsByPhase: Gauge<"project" | "domain" | "phase">;
  /** Notification delivery attempts by channel and outcome (delivered/retry/failed/lost). */
  notificationDeliveries: Counter<"channel" | "outcome">;
  /** Outbox messages by state (PENDING/DELIVERED/FAILED; refreshed on scrape). */
  notificationsByState: Gauge<"state">;
}

/** Buckets of whole-execution durations, in seconds (1 s – 1 day). */
const EXECUTION_SECONDS_BUCKETS = [1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400];

/**
 * Creates the admin metrics on `registry` (a new one by default). `countByPhase` feeds the
 * executions gauge (by project, domain and phase) at scrape time, `options.countNotifications` the
 * outbox-by-state gauge; `options.processMetrics` adds Node.js process metrics.
 * Returns the metric handles; registers them.
 */
export function createAdminMetrics(
  countByPhase: () => Promise<Array<{ project: string; domain: string; phase: string; count: number }>>,
  registry: Registry = new Registry(),
  options: {
    processMetrics?: boolean;
    countNotifications?: () => Promise<Map<string, number>>;
  } = {},
): AdminMetrics {
  const m = createMetricFactory(registry, {
    prefix: "flotilla_admin_",
    defaultMetrics: options.processMetrics ?? false,
  });
  const executionsByPhase = m.gauge(
    "executions",
    "Executions stored by the admin, by project, domain and workflow phase.",
    ["project", "domain", "phase"],
    async (g) => {
      const counts = await countByPhase();
      g.reset();
      for (const { project, domain, phase, count } of counts) g.set({ project, domain, phase }, count);
    },
  );
  return {
    registry,
    rpcRequests: m.counter("rpc_requests_total", "RPCs handled by the admin, by method and Connect code.", [
      "method",
      "code",
    ]),
    rpcDuration: m.histogram(
      "rpc_duration_seconds",
      "Latency of admin RPCs, by method and Connect code.",
      [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      ["method", "code"],
    ),
    dbQueryDuration: m.histogram(
      "db_query_duration_seconds",
      "Latency of admin database queries, by repository operation.",
      [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      ["operation"],
    ),
    eventsIngested: m.counter(
      "events_ingested_total",
      "Execution events received from propellers, by kind and outcome.",
      ["kind", "outcome"],
    ),
    eventBatchSize: m.histogram(
      "event_batch_events",
      "Events per IngestEvents batch.",
      [1, 5, 10, 25, 50, 100, 250, 500, 1000],
    ),
    executionsCreated: m.counter("executions_created_total", "Executions created, by project and domain.", [
      "project",
      "domain",
    ]),
    executionsFinished: m.counter(
      "executions_finished_total",
      "Executions that reached a terminal phase, by project, domain and phase.",
      ["project", "domain", "phase"],
    ),
    executionDuration: m.histogram(
      "execution_duration_seconds",
      "Time from an execution's creation to its terminal phase, by project, domain and phase.",
      EXECUTION_SECONDS_BUCKETS,
      ["project", "domain", "phase"],
    ),
    taskAttemptsFinished: m.counter(
      "task_attempts_finished_total",
      "Task attempts that ended, by project, domain and phase (RETRYABLE_FAILED attempts are retried).",
      ["project", "domain", "phase"],
    ),
    executionsByPhase,
    scheduleFirings: m.counter(
      "schedule_firings_total",
      "Schedule firings, by outcome: started, existing (its execution was already there), skipped (catch-up policy), failed.",
      ["project", "domain", "outcome"],
    ),
    scheduleLateness: m.histogram(
      "schedule_firing_lateness_seconds",
      "Time from a firing's scheduled time to the creation of its execution.",
      [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600],
      ["project", "domain"],
    ),
    schedulerLeader: m.gauge(
      "scheduler_leader",
      "1 while this admin replica holds the scheduler lock and fires schedules.",
    ),
    notificationDeliveries: m.counter(
      "notification_deliveries_total",
      "Notification delivery attempts, by channel (webhook/slack/email) and outcome (delivered/retry/failed/lost).",
      ["channel", "outcome"],
    ),
    notificationsByState: m.gauge(
      "notifications",
      "Notification outbox messages, by state (PENDING, DELIVERED, FAILED).",
      ["state"],
      async (g) => {
        const counts = (await options.countNotifications?.()) ?? new Map<string, number>();
        g.reset();
        for (const [state, n] of counts) g.set({ state }, n);
      },
    ),
  };
}
