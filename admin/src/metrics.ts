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
  /** Schedule firings by outcome (started/existing/skipped/failed). */
  scheduleFirings: Counter<"project" | "domain" | "outcome">;
  /** How late after its scheduled time a firing's execution was created. */
  scheduleLateness: Histogram<"project" | "domain">;
  /** 1 while this replica holds the scheduler lock and fires schedules. */
  schedulerLeader: Gauge;
}

/**
 * Creates the admin metrics on `registry` (a new one by default). `countByPhase` feeds the
 * executions-by-phase gauge at scrape time. Returns the metric handles; registers them.
 */
export function createAdminMetrics(
  countByPhase: () => Promise<Map<string, number>>,
  registry: Registry = new Registry(),
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
    scheduleFirings: new Counter({
      name: "flotilla_admin_schedule_firings_total",
      help: "Schedule firings, by outcome: started, existing (its execution was already there), skipped (catch-up policy), failed.",
      labelNames: ["project", "domain", "outcome"],
      registers: [registry],
    }),
    scheduleLateness: new Histogram({
      name: "flotilla_admin_schedule_firing_lateness_seconds",
      help: "Time from a firing's scheduled time to the creation of its execution.",
      labelNames: ["project", "domain"],
      buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600],
      registers: [registry],
    }),
    schedulerLeader: new Gauge({
      name: "flotilla_admin_scheduler_leader",
      help: "1 while this admin replica holds the scheduler lock and fires schedules.",
      registers: [registry],
    }),
  };
}
