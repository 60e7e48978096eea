/**
 * Cost and waste of task attempts: prices every attempt that reaches a terminal phase (in the
 * transaction that accepts its terminal event), feeds the cost counters once that transaction
 * committed, and answers cost reports. The arithmetic is the pure `cost/attempt-cost.ts`.
 */
import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { Queryable } from "@flotilla/db";
import { WorkflowExecution_Phase, type TaskExecution, type TaskExecutionEvent } from "@flotilla/proto";
import { attemptCost, toResourceAmounts, type ResourceAmounts } from "../cost/attempt-cost.js";
import { InvalidArgumentError } from "../errors.js";
import type {
  AttemptCostRecord,
  CostGroupRow,
  CostQuery,
  CostRepository,
} from "../repository/cost-repository.js";
import type { CostMetrics } from "./cost-metrics.js";
import { requireDnsLabel } from "./validation.js";

/** An attempt whose terminal event was just accepted, with its execution's identity. */
export interface FinishedAttempt {
  executionPk: number;
  project: string;
  domain: string;
  executionName: string;
  workflow: string;
  /** The cluster the attempt ran on (the event's producer). */
  cluster: string;
  /** The attempt state after the terminal event (carries its start time). */
  task: TaskExecution;
  /** The terminal event. */
  event: TaskExecutionEvent;
}

/** A report: groups and totals. */
export interface CostReport {
  groups: CostGroupRow[];
  totalCostMicros: number;
  totalWasteMicros: number;
  since: Date;
  until: Date;
}

const TERMINAL_WORKFLOW_PHASES = [
  WorkflowExecution_Phase.SUCCEEDED,
  WorkflowExecution_Phase.FAILED,
  WorkflowExecution_Phase.ABORTED,
  WorkflowExecution_Phase.TIMED_OUT,
];

/** Longest window a report may cover. */
export const MAX_COST_WINDOW_DAYS = 400;

/** Prices finished attempts, counts them, and reports costs. */
export class CostManager {
  constructor(
    private readonly costs: CostRepository,
    private readonly metrics: CostMetrics,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /**
   * Prices `attempts` with their cluster's price version in effect at each attempt's start and
   * stores them in `tx`. Returns the rows inserted (an attempt priced before is not again);
   * pass them to {@link count} once `tx` committed.
   */
  async price(tx: Queryable, attempts: readonly FinishedAttempt[]): Promise<AttemptCostRecord[]> {
    if (attempts.length === 0) return [];
    const prices = await this.costs.priceVersions(tx, [...new Set(attempts.map((a) => a.cluster))]);
    const rows = attempts.map((a): AttemptCostRecord => {
      const closure = a.task.closure;
      const startedAt = closure?.startedAt ? timestampDate(closure.startedAt) : undefined;
      const endedAt = timestampDate(a.event.occurredAt!);
      const requested = requestedOf(a);
      const used = a.event.usedResources ? toResourceAmounts(a.event.usedResources) : undefined;
      const c = attemptCost({
        phase: a.event.phase,
        startedAt,
        endedAt,
        requested,
        used,
        prices: prices.get(a.cluster) ?? [],
      });
      return {
        executionPk: a.executionPk,
        nodeId: a.event.id?.nodeExecutionId?.nodeId ?? "",
        retryAttempt: a.event.id?.retryAttempt ?? 0,
        project: a.project,
        domain: a.domain,
        executionName: a.executionName,
        workflow: a.workflow,
        cluster: a.cluster,
        phase: a.event.phase,
        startedAt,
        endedAt,
        ...requested,
        used,
        priceEffectiveFrom: c.price?.effectiveFrom,
        costMicros: c.costMicros,
        wasteMicros: c.wasteMicros,
      };
    });
    return this.costs.record(tx, rows);
  }

  /**
   * Makes the cost and waste series of (project, domain, cluster) exist, at 0 when new, so a
   * scrape sees them before their first attempt is priced: Prometheus' `increase()` cannot see a
   * series' first value, so an attempt priced into a series no scrape had seen would be missing
   * from the dashboards while `GetCosts` counts it. Called when a task attempt starts running.
   */
  touch(labels: { project: string; domain: string; cluster: string }): void {
    this.metrics.cost.inc(labels, 0);
    this.metrics.waste.inc(labels, 0);
  }

  /**
   * {@link touch}es the series of every placed, unfinished execution: after an admin restart the
   * counters start empty, and attempts already running report only their end.
   */
  async touchActiveSeries(): Promise<void> {
    for (const labels of await this.costs.activeSeries(TERMINAL_WORKFLOW_PHASES)) this.touch(labels);
  }

  /** Adds stored attempts to the cost and waste counters (exactly the stored amounts). */
  count(records: readonly AttemptCostRecord[]): void {
    for (const r of records) {
      const labels = { project: r.project, domain: r.domain, cluster: r.cluster };
      this.metrics.cost.inc(labels, r.costMicros / 1_000_000);
      this.metrics.waste.inc(labels, r.wasteMicros / 1_000_000);
    }
  }

  /**
   * Cost and waste of the attempts that ended in [since, until) (until defaults to now),
   * grouped as asked. Throws {@link InvalidArgumentError} naming the bad field.
   */
  async report(query: Omit<CostQuery, "until"> & { until?: Date | undefined }): Promise<CostReport> {
    if (query.project) requireDnsLabel("project", query.project);
    if (query.domain) {
      if (!query.project) throw new InvalidArgumentError("domain", "requires project");
      requireDnsLabel("domain", query.domain);
    }
    const until = query.until ?? this.now();
    if (Number.isNaN(query.since.getTime())) throw new InvalidArgumentError("since", "is required");
    if (until.getTime() <= query.since.getTime())
      throw new InvalidArgumentError("until", "must be after since");
    if (until.getTime() - query.since.getTime() > MAX_COST_WINDOW_DAYS * 86_400_000)
      throw new InvalidArgumentError("since", `window longer than ${MAX_COST_WINDOW_DAYS} days`);
    const groups = await this.costs.report({ ...query, until });
    return {
      groups,
      totalCostMicros: groups.reduce((s, g) => s + g.costMicros, 0),
      totalWasteMicros: groups.reduce((s, g) => s + g.wasteMicros, 0),
      since: query.since,
      until,
    };
  }
}

/** Requested resources of an attempt: from its terminal event, else from what earlier events stored. */
function requestedOf(a: FinishedAttempt): ResourceAmounts {
  const r = a.event.requestedResources;
  if (r) return toResourceAmounts(r);
  const q = a.task.closure?.resources?.requests;
  return toResourceAmounts({
    cpuCores: Number(q?.cpu ?? 0),
    memoryBytes: Number(q?.memory ?? 0),
    gpus: Number(q?.gpu ?? 0),
  });
}
