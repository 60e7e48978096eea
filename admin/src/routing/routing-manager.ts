/**
 * The routing manager: the cluster registry's rules, routing rules, and the placer that turns
 * router decisions into WorkflowExecution CRs on clusters.
 *
 * Placement of one execution:
 *
 *   place(request) ──▶ pending row (durable) ──▶ attempt:
 *       already placed? ──yes──▶ placed (no cluster call)
 *       decide(snapshot, isolation, previous choice)
 *         ├─ no eligible cluster ──▶ QUEUED "NoEligibleCluster: ..." (re-evaluated on every
 *         │                          cluster/rule change and every reevaluate interval)
 *         └─ cluster X ──▶ CRD? namespace + quota ──▶ create CR (AlreadyExists = ok)
 *               ├─ ok ──▶ delete pending row, executions.cluster = X ──▶ placed
 *               └─ data-plane error ──▶ QUEUED "<Reason>: ..." retried with exponential backoff
 */
import type { Database } from "@flotilla/db";
import { ExecutionNotFoundError } from "../errors.js";
import type {
  ExecutionKey,
  ExecutionPlacer,
  PlacementOutcome,
  PlacementRequest,
} from "../manager/placement.js";
import type { ExecutionPlacementRepository } from "../repository/execution-placement.js";
import { credentialsFromRef, type ClusterCredentials } from "../dataplane/connection.js";
import type { DataPlane, DataPlaneCluster } from "../dataplane/data-plane.js";
import { DataPlaneError } from "../dataplane/errors.js";
import { QuotaTemplateError } from "../dataplane/quota.js";
import { CallTimeoutError } from "../dataplane/timeout.js";
import type { ClusterConfig, ResolvedRoutingSettings } from "./config.js";
import {
  PostgresClusterRepository,
  type ClusterRecord,
  type ClusterRegistration,
  type HeartbeatUpdate,
} from "./cluster-repository.js";
import { PostgresDecisionRepository, type StoredDecision } from "./decision-repository.js";
import type { RoutingMetrics } from "./metrics.js";
import { PostgresPendingPlacementRepository, type PendingPlacement } from "./pending-repository.js";
import type { IsolationResolver, ProjectLookup } from "./project-lookup.js";
import {
  ClusterState,
  ISOLATION_LABEL_KEY,
  decide,
  matchingRules,
  type ClusterSnapshot,
  type Decision,
  type RoutingInput,
} from "./router.js";
import {
  PostgresRoutingRuleRepository,
  type RoutingRuleInput,
  type StoredRoutingRule,
} from "./rule-repository.js";
import { PostgresTerminationRepository } from "./termination-repository.js";

/** Structured logger the routing subsystem writes to. */
export interface RoutingLogger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** Dependencies of {@link RoutingManager}. */
export interface RoutingManagerDeps {
  db: Database;
  executions: ExecutionPlacementRepository;
  dataPlane: DataPlane;
  settings: ResolvedRoutingSettings;
  configClusters: readonly ClusterConfig[];
  metrics: RoutingMetrics;
  logger: RoutingLogger;
  isolation: IsolationResolver;
  lookup: ProjectLookup;
  /** Clock (tests inject one). */
  now?: () => Date;
}

/** A cluster with its derived liveness. */
export interface ClusterView extends ClusterRecord {
  /** True when it sent heartbeats before and the last one is older than the timeout. */
  lost: boolean;
}

const SNAPSHOT_TTL_MS = 1_000;
/** Queue-reason code put on the executions of a cluster that stopped sending heartbeats. */
export const LOST_REASON = "ClusterLost";
const BATCH = 200;
const CONCURRENCY = 8;

function keyOf(e: ExecutionKey): string {
  return `${e.project}/${e.domain}/${e.name}`;
}

/** Implements placement, the cluster registry and routing rules on top of the repositories. */
export class RoutingManager implements ExecutionPlacer {
  readonly clusters: PostgresClusterRepository;
  readonly rules: PostgresRoutingRuleRepository;
  readonly decisions: PostgresDecisionRepository;
  readonly pending: PostgresPendingPlacementRepository;
  readonly terminations: PostgresTerminationRepository;
  private readonly now: () => Date;
  private readonly configCredentials = new Map<string, ClusterCredentials>();
  private snapshotCache: { at: number; clusters: ClusterRecord[]; rules: StoredRoutingRule[] } | undefined;
  private readonly inFlight = new Map<string, Promise<PlacementOutcome>>();
  private timer: NodeJS.Timeout | undefined;
  private quotaTimer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private kickAgain = false;
  private stopped = true;
  private readonly lostClusters = new Set<string>();

  constructor(private readonly deps: RoutingManagerDeps) {
    this.clusters = new PostgresClusterRepository(deps.db);
    this.rules = new PostgresRoutingRuleRepository(deps.db);
    this.decisions = new PostgresDecisionRepository(deps.db);
    this.pending = new PostgresPendingPlacementRepository(deps.db);
    this.terminations = new PostgresTerminationRepository(deps.db);
    this.now = deps.now ?? (() => new Date());
  }

  // ---- lifecycle ----

  /**
   * Applies the configured clusters to the registry and starts the re-evaluation loop (and
   * the quota sync when a quota template is configured). Side effects: DB writes, timers.
   */
  async start(): Promise<void> {
    for (const c of this.deps.configClusters) {
      const credentials: ClusterCredentials =
        c.kubeconfigInline !== undefined
          ? { kind: "kubeconfigInline", kubeconfig: c.kubeconfigInline, context: c.context }
          : c.kubeconfig !== undefined
            ? { kind: "kubeconfigFile", path: c.kubeconfig, context: c.context }
            : { kind: "endpoint", server: c.apiEndpoint ?? "" };
      this.configCredentials.set(c.name, credentials);
      this.deps.dataPlane.forget(c.name);
      await this.clusters.applyFromConfig(
        {
          name: c.name,
          apiEndpoint: c.apiEndpoint ?? "",
          credentialsRef:
            c.kubeconfigInline !== undefined
              ? "config:inline"
              : c.kubeconfig !== undefined
                ? `${c.kubeconfig}${c.context ? `#${c.context}` : ""}`
                : "",
          labels: c.labels ?? {},
          priority: c.priority ?? 0,
          capacity: {},
          prices: {},
        },
        c.state,
      );
    }
    this.invalidate();
    this.stopped = false;
    this.schedule();
    if (this.deps.settings.resourceQuota) this.scheduleQuotaSync(0);
    if (this.deps.settings.installCrd) void this.installConfiguredCrds();
  }

  /**
   * Installs the WorkflowExecution CRD into every configured cluster, in the background: a
   * propeller's informers wait for the CRD, so without this a fresh cluster's propeller would
   * only start once the first execution is placed there. A cluster that cannot be reached yet is
   * retried with backoff (0.5 s doubling to 30 s) until it answers or the admin stops; its first
   * failure is logged. Placement installs the CRD too, so nothing waits on this loop.
   */
  private async installConfiguredCrds(): Promise<void> {
    await Promise.all(
      this.deps.configClusters.map(async (c) => {
        for (let delay = 500, attempt = 1; !this.stopped; delay = Math.min(30_000, delay * 2), attempt++) {
          try {
            const result = await this.installCrd(c.name);
            this.deps.logger.info("WorkflowExecution CRD ready", { cluster: c.name, result, attempt });
            return;
          } catch (err) {
            if (attempt === 1)
              this.deps.logger.warn("cannot install the WorkflowExecution CRD yet; retrying", {
                cluster: c.name,
                error: err,
              });
          }
          await new Promise((r) => setTimeout(r, delay).unref());
        }
      }),
    );
  }

  /** Stops the loops and waits for the running pass. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.quotaTimer) clearTimeout(this.quotaTimer);
    this.timer = undefined;
    this.quotaTimer = undefined;
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

  private scheduleQuotaSync(delay: number): void {
    if (this.stopped) return;
    this.quotaTimer = setTimeout(() => {
      this.syncQuotas()
        .catch((err: unknown) => this.deps.logger.error("quota sync failed", { error: String(err) }))
        .finally(() => this.scheduleQuotaSync(this.deps.settings.quotaSyncIntervalMs));
    }, delay);
    this.quotaTimer.unref();
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
   * One pass: retries due placements and terminations, refreshes gauges. With `all`, every
   * pending placement is attempted regardless of its backoff. Returns when done.
   */
  async tick(all = false): Promise<void> {
    const now = this.now();
    await this.refreshGauges(now);
    const due = await this.pending.due(now, BATCH, all);
    for (let i = 0; i < due.length; i += CONCURRENCY) {
      await Promise.all(due.slice(i, i + CONCURRENCY).map((p) => this.retry(p)));
    }
    for (const t of await this.terminations.due(now, BATCH)) {
      const record = (await this.snapshot()).clusters.find((c) => c.name === t.cluster);
      if (!record) {
        await this.terminations.delete(t.cluster, t.execution);
        continue;
      }
      await this.deleteOn(record, t.execution, t.attempts);
    }
  }

  private async retry(p: PendingPlacement): Promise<void> {
    const key = keyOf(p.request.execution);
    if (this.inFlight.has(key)) return;
    try {
      await this.track(key, () => this.attempt(p.request, p));
    } catch (err) {
      if (err instanceof ExecutionNotFoundError) {
        await this.pending.delete(p.request.execution);
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
    await this.pending.upsert(request, this.now());
    const existing = await this.pending.get(request.execution);
    return this.track(keyOf(request.execution), () => this.attempt(request, existing));
  }

  private async placedCluster(e: ExecutionKey): Promise<string | undefined> {
    const { rows } = await this.deps.db.query(
      "SELECT cluster FROM executions WHERE project = $1 AND domain = $2 AND name = $3",
      [e.project, e.domain, e.name],
    );
    return (rows[0]?.cluster as string | null | undefined) ?? undefined;
  }

  private async attempt(
    request: PlacementRequest,
    pending: PendingPlacement | undefined,
  ): Promise<PlacementOutcome> {
    const e = request.execution;
    const now = this.now();
    const attempts = (pending?.attempts ?? 0) + 1;
    const already = await this.placedCluster(e);
    if (already) {
      await this.pending.delete(e);
      return { state: "placed", cluster: already, reason: "AlreadyPlaced" };
    }
    const snap = await this.snapshot();
    const isolationLabel = await this.deps.isolation.isolationLabel(e.project, e.domain);
    const previousCluster = pending?.lastCluster ?? (await this.decisions.latestChosen(e));
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
    const decision = decide(input);
    this.deps.metrics.decisions.inc({ cluster: decision.chosen ?? "", reason: decision.reason });
    const inputs = decisionInputs(input);

    if (decision.chosen === undefined) {
      const queueReason = `${decision.reason}: ${decision.message}`;
      await this.decisions.record(e, decision, queueReason, inputs, now);
      await this.deps.executions.updatePlacement(e, { cluster: null, queueReason });
      await this.pending.reschedule(e, {
        attempts,
        lastCluster: previousCluster,
        lastError: queueReason,
        nextAttemptAt: new Date(now.getTime() + this.waitInterval(attempts)),
      });
      return { state: "queued", reason: queueReason };
    }

    const chosen = decision.chosen;
    // A create on the previous cluster may have succeeded behind a timeout: make sure it goes.
    if (
      previousCluster &&
      previousCluster !== chosen &&
      pending?.lastError.startsWith("ClusterUnreachable")
    ) {
      await this.terminations.upsert(
        previousCluster,
        e,
        "moved to another cluster after an unanswered create",
        now,
      );
    }
    const stored = await this.decisions.record(e, decision, "", inputs, now);
    const record = snap.clusters.find((c) => c.name === chosen) as ClusterRecord;
    try {
      const { result } = await this.deps.dataPlane.createExecution(this.dataPlaneCluster(record), request);
      await this.deps.executions.updatePlacement(e, { cluster: chosen, queueReason: null });
      await this.pending.delete(e);
      this.deps.metrics.placements.inc({ cluster: chosen });
      return {
        state: "placed",
        cluster: chosen,
        reason: `${decision.reason}: ${decision.message}${result === "exists" ? " (CR already existed)" : ""}`,
      };
    } catch (err) {
      const failure = placementFailure(err);
      if (!failure) throw err;
      const queueReason = `${failure.reason}: ${failure.message}`;
      this.deps.metrics.crCreateFailures.inc({ cluster: chosen, reason: failure.reason });
      this.deps.logger.warn("placement failed; will retry", {
        execution: keyOf(e),
        cluster: chosen,
        reason: queueReason,
      });
      await this.decisions.setQueueReason(stored.id, queueReason, now);
      await this.deps.executions.updatePlacement(e, { cluster: null, queueReason });
      await this.pending.reschedule(e, {
        attempts,
        lastCluster: chosen,
        lastError: queueReason,
        nextAttemptAt: new Date(now.getTime() + this.backoff(attempts)),
      });
      return { state: "queued", reason: queueReason };
    }
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

  private backoff(attempts: number): number {
    const { retryInitialBackoffMs, retryMaxBackoffMs } = this.deps.settings;
    const base = Math.min(retryMaxBackoffMs, retryInitialBackoffMs * 2 ** Math.min(30, attempts - 1));
    return Math.round(base * (0.8 + Math.random() * 0.4));
  }

  /**
   * Deletes the execution's CR from its cluster (NotFound = success) and drops its pending
   * placement. When the cluster is unreachable the deletion is recorded and retried (and the
   * cluster's heartbeats ask its propeller to abort). Side effects: DB writes, cluster calls.
   */
  async terminate(execution: ExecutionKey, cluster: string): Promise<void> {
    await this.pending.delete(execution);
    const targets = new Set<string>();
    if (cluster) targets.add(cluster);
    const lastChosen = await this.decisions.latestChosen(execution);
    if (lastChosen) targets.add(lastChosen);
    const snap = await this.snapshot();
    for (const name of targets) {
      const record = snap.clusters.find((c) => c.name === name);
      if (record) await this.deleteOn(record, execution, 0);
    }
  }

  private async deleteOn(record: ClusterRecord, e: ExecutionKey, attempts: number): Promise<void> {
    try {
      await this.deps.dataPlane.deleteExecution(this.dataPlaneCluster(record), e);
      await this.terminations.delete(record.name, e);
    } catch (err) {
      const failure = placementFailure(err);
      if (!failure) throw err;
      this.deps.metrics.crDeleteFailures.inc({ cluster: record.name, reason: failure.reason });
      this.deps.logger.warn("CR delete failed; will retry", {
        execution: keyOf(e),
        cluster: record.name,
        error: failure.message,
      });
      await this.terminations.upsert(
        record.name,
        e,
        `${failure.reason}: ${failure.message}`,
        new Date(this.now().getTime() + this.backoff(attempts + 1)),
      );
    }
  }

  // ---- snapshot ----

  private invalidate(): void {
    this.snapshotCache = undefined;
  }

  /** Clusters and rules, cached for a second (writes through this manager invalidate it). */
  async snapshot(): Promise<{ clusters: ClusterRecord[]; rules: StoredRoutingRule[] }> {
    const t = Date.now();
    if (this.snapshotCache && t - this.snapshotCache.at < SNAPSHOT_TTL_MS) return this.snapshotCache;
    const [clusters, rules] = [await this.clusters.list(), await this.rules.all()];
    this.snapshotCache = { at: t, clusters, rules };
    return this.snapshotCache;
  }

  /** Credentials of a cluster: from the config file, else from its credentials_ref / endpoint. */
  dataPlaneCluster(record: ClusterRecord): DataPlaneCluster {
    return {
      name: record.name,
      credentials:
        this.configCredentials.get(record.name) ??
        credentialsFromRef(record.name, record.credentialsRef, record.apiEndpoint),
    };
  }

  /** A cluster with liveness derived from its heartbeat age. */
  view(record: ClusterRecord, now = this.now()): ClusterView {
    return {
      ...record,
      lost:
        record.lastHeartbeatAt !== undefined &&
        now.getTime() - record.lastHeartbeatAt.getTime() > this.deps.settings.heartbeatTimeoutMs,
    };
  }

  private async refreshGauges(now: Date): Promise<void> {
    const { metrics } = this.deps;
    const clusters = await this.clusters.list();
    let becameAlive = false;
    for (const c of clusters) {
      for (const s of Object.values(ClusterState))
        metrics.clusterState.set({ cluster: c.name, state: s }, c.state === s ? 1 : 0);
      const v = this.view(c, now);
      metrics.clusterLost.set({ cluster: c.name }, v.lost ? 1 : 0);
      if (c.lastHeartbeatAt)
        metrics.heartbeatAge.set({ cluster: c.name }, (now.getTime() - c.lastHeartbeatAt.getTime()) / 1000);
      if (v.lost && !this.lostClusters.has(c.name)) {
        this.lostClusters.add(c.name);
        const marked = await this.markLost(c);
        this.deps.logger.warn("cluster lost: no heartbeat within the timeout", {
          cluster: c.name,
          lastHeartbeatAt: c.lastHeartbeatAt?.toISOString(),
          activeExecutions: marked,
        });
      } else if (!v.lost && this.lostClusters.delete(c.name)) {
        await this.unmarkLost(c.name);
        becameAlive = true;
      }
    }
    metrics.pendingPlacements.set(await this.pending.count());
    if (becameAlive) await this.reevaluateAll();
  }

  /**
   * Marks every active execution of a lost cluster: its queue reason (shown as the execution's
   * message) says the cluster is lost since when; the placement itself is kept. Returns how many.
   */
  private async markLost(c: ClusterRecord): Promise<number> {
    const reason = `${LOST_REASON}: cluster ${c.name} has sent no heartbeat since ${c.lastHeartbeatAt?.toISOString() ?? "?"}`;
    const active = await this.deps.lookup.activeExecutionsOn(c.name);
    for (const e of active)
      await this.deps.executions.updatePlacement(e, { cluster: c.name, queueReason: reason });
    return active.length;
  }

  /** Clears the lost mark of a cluster's executions once it sends heartbeats again. */
  private async unmarkLost(cluster: string): Promise<void> {
    for (const e of await this.deps.lookup.activeExecutionsOn(cluster)) {
      if (e.queueReason?.startsWith(`${LOST_REASON}:`)) {
        await this.deps.executions.updatePlacement(e, { cluster, queueReason: null });
      }
    }
  }

  /** Makes every pending placement due now and kicks the loop (after cluster or rule changes). */
  async reevaluateAll(): Promise<void> {
    this.invalidate();
    await this.deps.db.query(
      "UPDATE pending_placements SET next_attempt_at = now() WHERE next_attempt_at > now()",
    );
    this.kick();
  }

  // ---- cluster registry ----

  /** Registers a cluster through the API (idempotent on identical content). */
  async registerCluster(reg: ClusterRegistration): Promise<ClusterRecord> {
    const c = await this.clusters.register(reg);
    this.deps.dataPlane.forget(c.name);
    await this.reevaluateAll();
    return c;
  }

  /** Replaces a cluster's registration fields. */
  async updateCluster(reg: ClusterRegistration): Promise<ClusterRecord> {
    const c = await this.clusters.update(reg);
    this.deps.dataPlane.forget(c.name);
    await this.reevaluateAll();
    return c;
  }

  /** Sets a cluster's placement state; re-evaluates queued executions. */
  async setClusterState(name: string, state: ClusterState, reason: string): Promise<ClusterRecord> {
    const c = await this.clusters.setState(name, state, reason);
    this.deps.logger.info("cluster state changed", { cluster: name, state, reason });
    await this.reevaluateAll();
    return c;
  }

  /** Records a heartbeat. Returns the cluster and the executions its propeller should abort. */
  async heartbeat(name: string, hb: HeartbeatUpdate): Promise<{ cluster: ClusterRecord; abort: string[] }> {
    const { cluster, previous } = await this.clusters.recordHeartbeat(name, hb);
    const wasLost =
      previous !== undefined && hb.at.getTime() - previous.getTime() > this.deps.settings.heartbeatTimeoutMs;
    if (previous === undefined || wasLost) {
      if (this.lostClusters.delete(name) || wasLost) await this.unmarkLost(name);
      await this.reevaluateAll();
    } else {
      this.invalidate();
    }
    const abort = (await this.terminations.forCluster(name)).map((t) => t.execution.name);
    return { cluster, abort };
  }

  /** The heartbeat interval propellers are told to use, in milliseconds. */
  get heartbeatIntervalMs(): number {
    return this.deps.settings.heartbeatIntervalMs;
  }

  /** True when the executions table has the execution. */
  async executionExists(e: ExecutionKey): Promise<boolean> {
    const { rows } = await this.deps.db.query(
      "SELECT 1 FROM executions WHERE project = $1 AND domain = $2 AND name = $3",
      [e.project, e.domain, e.name],
    );
    return rows.length > 0;
  }

  /** Number of non-terminal executions placed on a cluster. */
  activeExecutions(cluster: string): Promise<number> {
    return this.deps.lookup.activeExecutions(cluster);
  }

  // ---- routing rules ----

  /** Creates a rule; queued executions are re-evaluated. */
  async createRule(input: RoutingRuleInput): Promise<StoredRoutingRule> {
    const r = await this.rules.create(input);
    await this.reevaluateAll();
    return r;
  }

  /** Updates a rule (optimistic revision); queued executions are re-evaluated. */
  async updateRule(
    id: string,
    revision: number,
    input: Omit<RoutingRuleInput, "scope">,
  ): Promise<StoredRoutingRule> {
    const r = await this.rules.update(id, revision, input);
    await this.reevaluateAll();
    return r;
  }

  /** Deletes a rule; queued executions are re-evaluated. */
  async deleteRule(id: string): Promise<void> {
    await this.rules.delete(id);
    await this.reevaluateAll();
  }

  /** Stored decisions of an execution, oldest first. */
  explain(e: ExecutionKey): Promise<StoredDecision[]> {
    return this.decisions.list(e);
  }

  // ---- data plane maintenance ----

  /** Installs the CRD into a cluster on demand. Returns "created" or "exists". */
  async installCrd(name: string): Promise<"created" | "exists"> {
    return this.deps.dataPlane.installCrd(this.dataPlaneCluster(await this.clusters.get(name)));
  }

  /**
   * Ensures namespace + quota of every project/domain on every active, live cluster the
   * project may run on (isolation respected). Returns counts; failures are logged and counted.
   */
  async syncQuotas(): Promise<{ applied: number; failed: number }> {
    const now = this.now();
    const clusters = (await this.clusters.list()).filter(
      (c) => c.state === ClusterState.Active && !this.view(c, now).lost,
    );
    const pds = await this.deps.lookup.projectDomains();
    let applied = 0;
    let failed = 0;
    for (const c of clusters) {
      const dedicatedTo = c.labels[ISOLATION_LABEL_KEY];
      for (const pd of pds) {
        if (pd.isolationLabel !== dedicatedTo) continue;
        try {
          await this.deps.dataPlane.syncNamespace(this.dataPlaneCluster(c), pd.project, pd.domain);
          applied++;
        } catch (err) {
          failed++;
          this.deps.metrics.quotaSyncFailures.inc({ cluster: c.name });
          this.deps.logger.warn("namespace/quota sync failed", {
            cluster: c.name,
            project: pd.project,
            domain: pd.domain,
            error: String(err),
          });
          if (placementFailure(err)?.reason === "ClusterUnreachable") break;
        }
      }
    }
    return { applied, failed };
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

function placementFailure(err: unknown): { reason: string; message: string } | undefined {
  if (err instanceof DataPlaneError) return { reason: err.reason, message: err.message };
  if (err instanceof CallTimeoutError) return { reason: "ClusterUnreachable", message: err.message };
  if (err instanceof QuotaTemplateError) return { reason: "QuotaTemplateInvalid", message: err.message };
  return undefined;
}

/** Re-exported for handlers: the decision type stored per execution. */
export type { Decision };
