import { Counter, Gauge, Histogram, Registry } from "prom-client";

/** The admin's Prometheus metrics (all `flotilla_admin_*`), registered on one registry. */
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
  /** Event batches ingested. */
  eventBatchSize: Histogram;
  /** Executions created by project and domain. */
  executionsCreated: Counter<"project" | "domain">;
  /** Executions per workflow phase (refreshed on scrape). */
  executionsByPhase: Gauge<"phase">;
  /** Notification delivery attempts by channel and outcome (delivered/retry/failed/lost). */
  notificationDeliveries: Counter<"channel" | "outcome">;
  /** Outbox messages by state (PENDING/DELIVERED/FAILED; refreshed on scrape). */
  notificationsByState: Gauge<"state">;
}

/**
 * Creates the admin metrics on `registry` (a new one by default). `countByPhase` feeds the
 * executions-by-phase gauge and `countNotifications` the outbox-by-state gauge at scrape time.
 * Returns the metric handles; registers them.
 */
export function createAdminMetrics(
  countByPhase: () => Promise<Map<string, number>>,
  registry: Registry = new Registry(),
  countNotifications: () => Promise<Map<string, number>> = () => Promise.resolve(new Map()),
): AdminMetrics {
  return {
    registry,
    rpcRequests: new Counter({
      name: "flotilla_admin_rpc_requests_total",
      help: "RPCs handled by the admin, by method and Connect code.",
      labelNames: ["method", "code"],
      registers: [registry],
    }),
    rpcDuration: new Histogram({
      name: "flotilla_admin_rpc_duration_seconds",
      help: "Latency of admin RPCs, by method and Connect code.",
      labelNames: ["method", "code"],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    dbQueryDuration: new Histogram({
      name: "flotilla_admin_db_query_duration_seconds",
      help: "Latency of admin database queries, by repository operation.",
      labelNames: ["operation"],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    eventsIngested: new Counter({
      name: "flotilla_admin_events_ingested_total",
      help: "Execution events received from propellers, by kind and outcome.",
      labelNames: ["kind", "outcome"],
      registers: [registry],
    }),
    eventBatchSize: new Histogram({
      name: "flotilla_admin_event_batch_size",
      help: "Number of events per IngestEvents batch.",
      buckets: [1, 5, 10, 25, 50, 100, 250, 500, 1000],
      registers: [registry],
    }),
    executionsCreated: new Counter({
      name: "flotilla_admin_executions_created_total",
      help: "Executions created, by project and domain.",
      labelNames: ["project", "domain"],
      registers: [registry],
    }),
    executionsByPhase: new Gauge({
      name: "flotilla_admin_executions",
      help: "Executions stored by the admin, by workflow phase.",
      labelNames: ["phase"],
      registers: [registry],
      async collect() {
        const counts = await countByPhase();
        this.reset();
        for (const [phase, n] of counts) this.set({ phase }, n);
      },
    }),
    notificationDeliveries: new Counter({
      name: "flotilla_admin_notification_deliveries_total",
      help: "Notification delivery attempts, by channel (webhook/slack/email) and outcome (delivered/retry/failed/lost).",
      labelNames: ["channel", "outcome"],
      registers: [registry],
    }),
    notificationsByState: new Gauge({
      name: "flotilla_admin_notifications",
      help: "Notification outbox messages, by state (PENDING, DELIVERED, FAILED).",
      labelNames: ["state"],
      registers: [registry],
      async collect() {
        const counts = await countNotifications();
        this.reset();
        for (const [state, n] of counts) this.set({ state }, n);
      },
    }),
  };
}
