/**
 * SQL for cost and waste (migration 0130): the versioned price tables of clusters
 * (`cluster_prices`, appended by a trigger whenever `clusters.prices` changes) and the priced
 * task attempts (`attempt_costs`, one row per attempt that reached a terminal phase).
 */
import type { Queryable, Row } from "@flotilla/db";
import type { PriceVersion } from "../cost/attempt-cost.js";
import { timestamp } from "./rows.js";
import { date, PostgresRepository, run } from "./sql.js";

/** One priced task attempt as stored. */
export interface AttemptCostRecord {
  executionPk: number;
  nodeId: string;
  retryAttempt: number;
  project: string;
  domain: string;
  executionName: string;
  workflow: string;
  cluster: string;
  /** Terminal flotilla.core.v1.TaskExecution.Phase. */
  phase: number;
  startedAt: Date | undefined;
  endedAt: Date;
  cpuMillicores: number;
  memoryBytes: number;
  gpus: number;
  used: { cpuMillicores: number; memoryBytes: number; gpus: number } | undefined;
  priceEffectiveFrom: Date | undefined;
  costMicros: number;
  wasteMicros: number;
}

/** Dimensions a cost report groups by. */
export const CostGroupBy = {
  project: "project",
  domain: "domain",
  workflow: "workflow",
  cluster: "cluster",
  day: "day",
  execution: "execution",
} as const;
/** One of {@link CostGroupBy}. */
export type CostGroupBy = (typeof CostGroupBy)[keyof typeof CostGroupBy];

/** What a cost report covers: attempts that ended in [since, until), optionally of one project/domain. */
export interface CostQuery {
  project?: string | undefined;
  domain?: string | undefined;
  groupBy: CostGroupBy;
  since: Date;
  until: Date;
}

/** One group of a report; key fields not part of the grouping are "". */
export interface CostGroupRow {
  project: string;
  domain: string;
  workflow: string;
  cluster: string;
  /** "YYYY-MM-DD" (UTC). */
  day: string;
  execution: string;
  costMicros: number;
  wasteMicros: number;
  attempts: number;
}

/** SQL access to price versions and priced attempts. */
export interface CostRepository {
  /** Every price version of the given clusters, by cluster. */
  priceVersions(tx: Queryable, clusters: readonly string[]): Promise<Map<string, PriceVersion[]>>;
  /**
   * Stores priced attempts; an attempt already stored is left as it is. Returns the rows
   * actually inserted (what counters may add). Part of the caller's transaction.
   */
  record(tx: Queryable, rows: readonly AttemptCostRecord[]): Promise<AttemptCostRecord[]>;
  /** Cost, waste and attempt count per group, ordered by the group key. */
  report(query: CostQuery): Promise<CostGroupRow[]>;
  /**
   * The (project, domain, cluster) of every placed execution whose workflow phase is not one of
   * `terminalPhases`: the series whose attempts may still be priced.
   */
  activeSeries(
    terminalPhases: readonly number[],
  ): Promise<Array<{ project: string; domain: string; cluster: string }>>;
}

/** Columns (and SELECT expressions) of each grouping; empty strings fill the rest. */
const GROUP_COLUMNS: Record<CostGroupBy, Partial<Record<keyof CostGroupRow, string>>> = {
  project: { project: "project" },
  domain: { project: "project", domain: "domain" },
  workflow: { project: "project", domain: "domain", workflow: "workflow" },
  cluster: { cluster: "cluster" },
  day: { day: "to_char(day, 'YYYY-MM-DD')" },
  execution: { project: "project", domain: "domain", execution: "execution_name" },
};

const KEY_FIELDS = ["project", "domain", "workflow", "cluster", "day", "execution"] as const;

const num = (v: unknown) => Number(v);
const optNum = (v: unknown) => (v === null || v === undefined ? undefined : Number(v));

function toRecord(r: Row): AttemptCostRecord {
  const usedCpu = optNum(r.used_cpu_millicores);
  return {
    executionPk: num(r.execution_pk),
    nodeId: r.node_id as string,
    retryAttempt: num(r.retry_attempt),
    project: r.project as string,
    domain: r.domain as string,
    executionName: r.execution_name as string,
    workflow: r.workflow as string,
    cluster: r.cluster as string,
    phase: num(r.phase),
    startedAt: date(r.started_at),
    endedAt: timestamp(r.ended_at),
    cpuMillicores: num(r.cpu_millicores),
    memoryBytes: num(r.memory_bytes),
    gpus: num(r.gpus),
    used:
      usedCpu === undefined
        ? undefined
        : { cpuMillicores: usedCpu, memoryBytes: num(r.used_memory_bytes), gpus: num(r.used_gpus) },
    priceEffectiveFrom: date(r.price_effective_from),
    costMicros: num(r.cost_micros),
    wasteMicros: num(r.waste_micros),
  };
}

/** Reads and writes `cluster_prices` and `attempt_costs`. */
export class PostgresCostRepository extends PostgresRepository implements CostRepository {
  async activeSeries(
    terminalPhases: readonly number[],
  ): Promise<Array<{ project: string; domain: string; cluster: string }>> {
    return this.all(
      "executions.active_series",
      `SELECT DISTINCT project, domain, cluster FROM executions
       WHERE cluster IS NOT NULL AND NOT (phase = ANY($1::int[]))`,
      [terminalPhases],
      (r) => ({ project: r.project as string, domain: r.domain as string, cluster: r.cluster as string }),
    );
  }

  async priceVersions(tx: Queryable, clusters: readonly string[]): Promise<Map<string, PriceVersion[]>> {
    const out = new Map<string, PriceVersion[]>();
    if (clusters.length === 0) return out;
    const res = await run(
      tx,
      this.observe,
      "cluster_prices.list",
      `SELECT cluster, effective_from, cpu_core_hour_micros, memory_gib_hour_micros, gpu_hour_micros
       FROM cluster_prices WHERE cluster = ANY($1::text[]) ORDER BY cluster, effective_from`,
      [clusters],
    );
    for (const r of res.rows) {
      const list = out.get(r.cluster as string) ?? [];
      list.push({
        effectiveFrom: timestamp(r.effective_from),
        cpuCoreHourMicros: num(r.cpu_core_hour_micros),
        memoryGibHourMicros: num(r.memory_gib_hour_micros),
        gpuHourMicros: num(r.gpu_hour_micros),
      });
      out.set(r.cluster as string, list);
    }
    return out;
  }

  async record(tx: Queryable, rows: readonly AttemptCostRecord[]): Promise<AttemptCostRecord[]> {
    const inserted = await this.unnested(
      tx,
      "attempt_costs.insert",
      `INSERT INTO attempt_costs (execution_pk, node_id, retry_attempt, project, domain, execution_name,
         workflow, cluster, phase, started_at, ended_at, day, cpu_millicores, memory_bytes, gpus,
         used_cpu_millicores, used_memory_bytes, used_gpus, price_effective_from, cost_micros, waste_micros)
       SELECT u.execution_pk, u.node_id, u.retry_attempt, u.project, u.domain, u.execution_name,
         u.workflow, u.cluster, u.phase, u.started_at, u.ended_at, (u.ended_at AT TIME ZONE 'UTC')::date,
         u.cpu_millicores, u.memory_bytes, u.gpus, u.used_cpu, u.used_memory, u.used_gpus,
         u.price_from, u.cost, u.waste
       FROM unnest($1::bigint[], $2::text[], $3::integer[], $4::text[], $5::text[], $6::text[], $7::text[],
         $8::text[], $9::smallint[], $10::timestamptz[], $11::timestamptz[], $12::bigint[], $13::bigint[],
         $14::bigint[], $15::bigint[], $16::bigint[], $17::bigint[], $18::timestamptz[], $19::bigint[],
         $20::bigint[])
         AS u(execution_pk, node_id, retry_attempt, project, domain, execution_name, workflow, cluster,
           phase, started_at, ended_at, cpu_millicores, memory_bytes, gpus, used_cpu, used_memory,
           used_gpus, price_from, cost, waste)
       ON CONFLICT (execution_pk, node_id, retry_attempt) DO NOTHING
       RETURNING *`,
      rows,
      [
        (r) => r.executionPk,
        (r) => r.nodeId,
        (r) => r.retryAttempt,
        (r) => r.project,
        (r) => r.domain,
        (r) => r.executionName,
        (r) => r.workflow,
        (r) => r.cluster,
        (r) => r.phase,
        (r) => r.startedAt ?? null,
        (r) => r.endedAt,
        (r) => r.cpuMillicores,
        (r) => r.memoryBytes,
        (r) => r.gpus,
        (r) => r.used?.cpuMillicores ?? null,
        (r) => r.used?.memoryBytes ?? null,
        (r) => r.used?.gpus ?? null,
        (r) => r.priceEffectiveFrom ?? null,
        (r) => r.costMicros,
        (r) => r.wasteMicros,
      ],
    );
    return inserted.map(toRecord);
  }

  async report(query: CostQuery): Promise<CostGroupRow[]> {
    const columns = GROUP_COLUMNS[query.groupBy];
    const exprs = Object.values(columns);
    const selects = KEY_FIELDS.map((f) => `${columns[f] ?? "''"} AS ${f}`).join(", ");
    const params: unknown[] = [query.since, query.until];
    let where = "ended_at >= $1 AND ended_at < $2";
    if (query.project) {
      params.push(query.project);
      where += ` AND project = $${params.length}`;
    }
    if (query.domain) {
      params.push(query.domain);
      where += ` AND domain = $${params.length}`;
    }
    return this.all(
      "attempt_costs.report",
      `SELECT ${selects}, SUM(cost_micros) AS cost, SUM(waste_micros) AS waste, COUNT(*) AS attempts
       FROM attempt_costs WHERE ${where}
       GROUP BY ${exprs.join(", ")} ORDER BY ${exprs.join(", ")}`,
      params,
      (r) => ({
        project: r.project as string,
        domain: r.domain as string,
        workflow: r.workflow as string,
        cluster: r.cluster as string,
        day: r.day as string,
        execution: r.execution as string,
        costMicros: num(r.cost),
        wasteMicros: num(r.waste),
        attempts: num(r.attempts),
      }),
    );
  }
}
