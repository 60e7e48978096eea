/**
 * The placer: turns router decisions into WorkflowExecution CRs on clusters, and keeps retrying
 * the executions it could not place yet.
 *
 * Placement of one execution:
 *
 *   place(request) ──▶ pending row (durable) ──▶ attempt:
 *       already placed? ──yes──▶ placed (no cluster call)
 *       decide(snapshot, isolation, previous choice)
 *         ├─ no eligible cluster ──▶ QUEUED NoEligibleCluster (re-evaluated on every
 *         │                          cluster/rule change and every reevaluate interval)
 *         └─ cluster X ──▶ CRD? namespace + quota ──▶ create CR (AlreadyExists = ok)
 *               ├─ ok ──▶ delete pending row, executions.cluster = X ──▶ placed
 *               └─ data-plane error ──▶ QUEUED <its code> retried with exponential backoff
 *
 * Queue reasons are stored as code + message (pending row, execution row); the placer reads
 * the code (a create left unanswered by an unreachable cluster is deleted there once the
 * execution moves elsewhere).
 */
import { Annotations } from "@flotilla/common";
import { contextFromCarrier, hasActiveSpan, isTracing, withSpan } from "@flotilla/runtime";
import { ADMIN_TRACER } from "../tracing.js";
import { failureReason } from "../dataplane/errors.js";
import type { DataPlane } from "../dataplane/data-plane.js";
import { ExecutionNotFoundError } from "../errors.js";
import type { AdminLogger } from "../logger.js";
import type { ClusterRecord } from "../repository/cluster-repository.js";
import type { ExecutionPlacementRepository } from "../repository/execution-placement.js";
import type {
  PendingPlacement,
  PendingPlacementRepository,
} from "../repository/pending-placement-repository.js";
import type { RoutingDecisionRepository, StoredDecision } from "../repository/routing-decision-repository.js";
import type { RoutingRuleRepository, StoredRoutingRule } from "../repository/routing-rule-repository.js";
import type { ResolvedRoutingSettings } from "../routing/config.js";
import { QueueReasonCode, reasonText, type Reason } from "../routing/reason.js";
import { decide, matchingRules, type ClusterSnapshot, type RoutingInput } from "../routing/router.js";
import type { ClusterRegistry } from "./cluster-registry.js";
import type { DataPlaneMaintenance } from "./data-plane-maintenance.js";
import type { ExecutionKey, ExecutionPlacer, PlacementOutcome, PlacementRequest } from "./placement.js";
import type { IsolationResolver } from "./project-lookup.js";
import { retryDelay } from "./retry-delay.js";
import type { RoutingChanges } from "./routing-changes.js";
import type { RoutingMetrics } from "./routing-metrics.js";

/** Dependencies of {@link Placer}. */
export interface PlacerDeps {
  pending: PendingPlacementRepository;
  decisions: RoutingDecisionRepository;
  rules: RoutingRuleRepository;
  executions: ExecutionPlacementRepository;
  registry: ClusterRegistry;
  maintenance: DataPlaneMaintenance;
  dataPlane: DataPlane;
  isolation: IsolationResolver;
  settings: ResolvedRoutingSettings;
  metrics: RoutingMetrics;
  logger: AdminLogger;
  /** Clock (tests inject one). */
  now?: () => Date;
}

const SNAPSHOT_TTL_MS = 1_000;
const BATCH = 200;
const CONCURRENCY = 8;

function keyOf(e: ExecutionKey): string {
  return `${e.project}/${e.domain}/${e.name}`;
}

/** Places executions on clusters and runs the re-evaluation loop (see the module diagram). */
export class Placer implements ExecutionPlacer, RoutingChanges {
  private readonly now: () => Date;
  private snapshotCache: { at: number; clusters: ClusterRecord[]; rules: StoredRoutingRule[] } | undefined;
  private readonly inFlight = new Map<string, Promise<PlacementOutcome>>();
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private kickAgain = false;
  private stopped = true;

  constructor(private readonly deps: PlacerDeps) {
    this.now = deps.now ?? (() => new Date());
  }

  // ---- lifecycle ----

  /** Starts the re-evaluation loop. Side effect: a timer. */
  start(): void {
    this.invalidate();
    this.stopped = false;
    this.schedule();
  }

  /** Stops the loop and waits for the running pass and in-flight placements. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.ticking;
    await Promise.allSettled([...this.inFlight.values()]);
  }

  private schedule(): void {
    if (this.stopped) return;
    const interval = Math.min(
      1_000,
      this.deps.settings.reevaluateIntervalMs,
      this.deps.settings.retryInitialBackoffMs,
    );
    this.timer = setTimeout(() => this.kick(), interval);
    this.timer.unref();
  }

  /** Runs a re-evaluation pass now (or right after the running one). */
  kick(): void {
    if (this.stopped) return;
    if (this.ticking) {
      this.kickAgain = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.ticking = this.tick()
      .catch((err: unknown) => this.deps.logger.error("routing pass failed", { error: String(err) }))
      .finally(() => {
        this.ticking = undefined;
        if (this.kickAgain) {
          this.kickAgain = false;
          this.kick();
        } else {
          this.schedule();
        }
      });
  }

  /**
   * One pass: refreshes cluster liveness and gauges, retries due placements and deletions. With
   * `all`, every pending placement is attempted regardless of its backoff. Returns when done.
   */
  async tick(all = false): Promise<void> {
    const now = this.now();
    await this.deps.registry.refresh(now);
    this.deps.metrics.pendingPlacements.set(await this.deps.pending.count());
    const due = await this.deps.pending.due(now, BATCH, all);
    for (let i = 0; i < due.length; i += CONCURRENCY) {
      await Promise.all(due.slice(i, i + CONCURRENCY).map((p) => this.retry(p)));
    }
    await this.deps.maintenance.retryDueDeletions(now);
  }

  private async retry(p: PendingPlacement): Promise<void> {
    const key = keyOf(p.request.execution);
    if (this.inFlight.has(key)) return;
    try {
      await this.track(key, () => this.tracedAttempt(p.request, p));
    } catch (err) {
      if (err instanceof ExecutionNotFoundError) {
        await this.deps.pending.delete(p.request.execution);
        this.deps.logger.warn("dropped pending placement of a deleted execution", { execution: key });
        return;
      }
      this.deps.logger.error("placement attempt failed", { execution: key, error: String(err) });
    }
  }

  private async track(key: string, fn: () => Promise<PlacementOutcome>): Promise<PlacementOutcome> {
    const existing = this.inFlight.get(key);
    if (existing) return existing;
    const p = fn().finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, p);
    return p;
  }

  // ---- placement ----

  /**
   * Places an execution (see the module diagram). Never throws for "no eligible cluster" or
   * "cluster unreachable": returns queued with the reason and keeps retrying in the background.
   * Throws only when the database fails.
   */
  async place(request: PlacementRequest): Promise<PlacementOutcome> {
    await this.deps.pending.upsert(request, this.now());
    const existing = await this.deps.pending.get(request.execution);
    return this.track(keyOf(request.execution), () => this.tracedAttempt(request, existing));
  }

  /** Deletes the execution's CR from its cluster (see {@link DataPlaneMaintenance.terminate}). */
  terminate(execution: ExecutionKey, cluster: string): Promise<void> {
    return this.deps.maintenance.terminate(execution, cluster);
  }

  /**
   * One placement attempt in a `placement` span: a child of the active span (the create RPC),
   * or — for a retry from the background pass — of the trace the execution was created in
   * (its traceparent annotation).
   */
  private tracedAttempt(
    request: PlacementRequest,
    pending: PendingPlacement | undefined,
  ): Promise<PlacementOutcome> {
    if (!isTracing()) return this.attempt(request, pending);
    const e = request.execution;
    const background = !hasActiveSpan();
    return withSpan(
      ADMIN_TRACER,
      "placement",
      async (span) => {
        const outcome = await this.attempt(request, pending);
        span?.setAttributes({
          "flotilla.placement.state": outcome.state,
          ...(outcome.state === "placed" ? { "flotilla.cluster": outcome.cluster } : {}),
        });
        return outcome;
      },
      {
        attributes: {
          "flotilla.execution": keyOf(e),
          "flotilla.placement.attempt": (pending?.attempts ?? 0) + 1,
        },
        ...(background
          ? {
              parent: contextFromCarrier({
                traceparent: request.annotations[Annotations.traceparent],
                tracestate: request.annotations[Annotations.tracestate],
              }),
            }
          : {}),
      },
    );
  }

  private async attempt(
    request: PlacementRequest,
    pending: PendingPlacement | undefined,
  ): Promise<PlacementOutcome> {
    const e = request.execution;
    const now = this.now();
    const attempts = (pending?.attempts ?? 0) + 1;
    const already = (await this.deps.executions.placementOf(e))?.cluster;
    if (already) {
      await this.deps.pending.delete(e);
      return { state: "placed", cluster: already, reason: "AlreadyPlaced" };
    }
    const snap = await this.snapshot();
    const isolationLabel = await this.deps.isolation.isolationLabel(e.project, e.domain);
    const previousCluster = pending?.lastCluster ?? (await this.deps.decisions.latestChosen(e));
    const input: RoutingInput = {
      execution: {
        project: e.project,
        domain: e.domain,
        name: e.name,
        workflow: request.workflow.name,
        launchPlan: request.launchPlan?.name,
      },
      requestedLabel: request.clusterLabel,
      isolationLabel,
      clusters: snap.clusters.map(toSnapshot),
      rules: snap.rules,
      defaultLabel: this.deps.settings.defaultLabel,
      previousCluster,
      now,
      heartbeatTimeoutMs: this.deps.settings.heartbeatTimeoutMs,
    };
    const decision = await withSpan(ADMIN_TRACER, "routing decision", async (span) => {
      const d = decide(input);
      span?.setAttributes({
        "flotilla.routing.reason": d.reason,
        "flotilla.routing.chosen": d.chosen ?? "",
        "flotilla.routing.clusters": input.clusters.length,
      });
      return d;
    });
    this.deps.metrics.decisions.inc({ cluster: decision.chosen ?? "", reason: decision.reason });
    const inputs = decisionInputs(input);

    if (decision.chosen === undefined) {
      const reason: Reason = { code: decision.reason, message: decision.message };
      await this.deps.decisions.record(e, decision, reasonText(reason), inputs, now);
      return this.queue(e, reason, {
        attempts,
        lastCluster: previousCluster,
        nextAttemptAt: new Date(now.getTime() + this.waitInterval(attempts)),
      });
    }

    const chosen = decision.chosen;
    // A create on the previous cluster may have succeeded behind a timeout: make sure it goes.
    if (
      previousCluster &&
      previousCluster !== chosen &&
      pending?.lastError.code === QueueReasonCode.ClusterUnreachable
    ) {
      await this.deps.maintenance.scheduleDeletion(
        previousCluster,
        e,
        { code: "MovedToAnotherCluster", message: "moved to another cluster after an unanswered create" },
        now,
      );
    }
    const stored = await this.deps.decisions.record(e, decision, "", inputs, now);
    const record = snap.clusters.find((c) => c.name === chosen) as ClusterRecord;
    try {
      const { result } = await this.deps.dataPlane.createExecution(
        this.deps.registry.dataPlaneCluster(record),
        request,
      );
      await this.deps.executions.updatePlacement(e, { cluster: chosen, queueReason: null });
      await this.deps.pending.delete(e);
      this.deps.metrics.placements.inc({ cluster: chosen });
      if (pending)
        this.deps.metrics.placementDuration.observe(
          { project: e.project, domain: e.domain, cluster: chosen },
          Math.max(0, (this.now().getTime() - pending.createdAt.getTime()) / 1000),
        );
      return {
        state: "placed",
        cluster: chosen,
        reason: `${reasonText({ code: decision.reason, message: decision.message })}${result === "exists" ? " (CR already existed)" : ""}`,
      };
    } catch (err) {
      const failure = failureReason(err);
      if (!failure) throw err;
      this.deps.metrics.crCreateFailures.inc({ cluster: chosen, reason: failure.code });
      this.deps.logger.warn("placement failed; will retry", {
        execution: keyOf(e),
        cluster: chosen,
        reason: reasonText(failure),
      });
      await this.deps.decisions.setQueueReason(stored.id, reasonText(failure), now);
      return this.queue(e, failure, {
        attempts,
        lastCluster: chosen,
        nextAttemptAt: new Date(now.getTime() + retryDelay(attempts, this.deps.settings)),
      });
    }
  }

  /** Records why an execution waits (execution row and pending row) and returns the queued outcome. */
  private async queue(
    e: ExecutionKey,
    reason: Reason,
    retry: { attempts: number; lastCluster: string | undefined; nextAttemptAt: Date },
  ): Promise<PlacementOutcome> {
    const queueReason = reasonText(reason);
    await this.deps.executions.updatePlacement(e, {
      cluster: null,
      queueReason,
      queueReasonCode: reason.code,
    });
    await this.deps.pending.reschedule(e, { ...retry, lastError: reason });
    return { state: "queued", reason: queueReason };
  }

  /**
   * Delay before re-evaluating an execution no cluster could take: grows linearly with the
   * attempts up to the retry ceiling, because every cluster or rule change re-evaluates all
   * waiting executions immediately anyway; the periodic pass only catches changes made
   * elsewhere (e.g. a project's isolation label).
   */
  private waitInterval(attempts: number): number {
    const { reevaluateIntervalMs, retryMaxBackoffMs } = this.deps.settings;
    return Math.min(reevaluateIntervalMs * attempts, Math.max(reevaluateIntervalMs, retryMaxBackoffMs));
  }

  // ---- explain ----

  /**
   * Stored decisions of an execution, oldest first. Throws ExecutionNotFoundError when there
   * are none and the execution does not exist.
   */
  async explain(e: ExecutionKey): Promise<StoredDecision[]> {
    const decisions = await this.deps.decisions.list(e);
    if (decisions.length === 0 && !(await this.deps.executions.placementOf(e))) {
      throw new ExecutionNotFoundError(keyOf(e));
    }
    return decisions;
  }

  // ---- snapshot and changes ----

  /** Drops the cached clusters and rules. */
  invalidate(): void {
    this.snapshotCache = undefined;
  }

  /** Clusters and rules, cached for a second (changes reported through {@link RoutingChanges} drop it). */
  async snapshot(): Promise<{ clusters: ClusterRecord[]; rules: StoredRoutingRule[] }> {
    const t = Date.now();
    if (this.snapshotCache && t - this.snapshotCache.at < SNAPSHOT_TTL_MS) return this.snapshotCache;
    const [clusters, rules] = [await this.deps.registry.list(), await this.deps.rules.all()];
    this.snapshotCache = { at: t, clusters, rules };
    return this.snapshotCache;
  }

  /** Makes every pending placement due now and kicks the loop (after cluster or rule changes). */
  async reevaluateAll(): Promise<void> {
    this.invalidate();
    await this.deps.pending.makeAllDue();
    this.kick();
  }
}

function toSnapshot(c: ClusterRecord): ClusterSnapshot {
  return {
    name: c.name,
    labels: c.labels,
    state: c.state,
    priority: c.priority,
    lastHeartbeatAt: c.lastHeartbeatAt,
  };
}

function decisionInputs(input: RoutingInput): Record<string, unknown> {
  return {
    execution: input.execution,
    requestedLabel: input.requestedLabel ?? "",
    isolationLabel: input.isolationLabel ?? "",
    defaultLabel: input.defaultLabel ?? "",
    previousCluster: input.previousCluster ?? "",
    heartbeatTimeoutMs: input.heartbeatTimeoutMs,
    now: input.now.toISOString(),
    clusters: input.clusters.map((c) => ({
      name: c.name,
      labels: c.labels,
      state: c.state,
      lastHeartbeatAt: c.lastHeartbeatAt?.toISOString() ?? null,
    })),
    matchingRules: matchingRules(input.rules, input.execution).map((m) => ({
      id: m.rule.id,
      level: m.level,
      scope: m.rule.scope,
      clusterLabel: m.rule.clusterLabel,
      targets: m.rule.targets,
    })),
  };
}
