/**
 * Keeping the clusters' data plane in order besides placement: deleting the CRs of terminated
 * executions (retried with backoff while a cluster is unreachable), installing the
 * WorkflowExecution CRD into configured clusters, and syncing every project/domain's namespace
 * and ResourceQuota onto the clusters it may run on.
 */
import type { DataPlane } from "../dataplane/data-plane.js";
import { failureReason } from "../dataplane/errors.js";
import type { AdminLogger } from "../logger.js";
import type { ClusterRecord } from "../repository/cluster-repository.js";
import type { PendingPlacementRepository } from "../repository/pending-placement-repository.js";
import type { PendingTerminationRepository } from "../repository/pending-termination-repository.js";
import type { RoutingDecisionRepository } from "../repository/routing-decision-repository.js";
import type { ClusterConfig, ResolvedRoutingSettings } from "../routing/config.js";
import { QueueReasonCode, type Reason } from "../routing/reason.js";
import { ClusterState, ISOLATION_LABEL_KEY } from "../routing/router.js";
import type { ClusterRegistry } from "./cluster-registry.js";
import type { ExecutionKey } from "./placement.js";
import type { ProjectDomain } from "./project-lookup.js";
import { retryDelay } from "./retry-delay.js";
import type { RoutingMetrics } from "./routing-metrics.js";

/** Dependencies of {@link DataPlaneMaintenance}. */
export interface DataPlaneMaintenanceDeps {
  registry: ClusterRegistry;
  terminations: PendingTerminationRepository;
  pending: PendingPlacementRepository;
  decisions: RoutingDecisionRepository;
  dataPlane: DataPlane;
  /** The project/domains whose namespaces the quota sync keeps. */
  projects: { projectDomains(): Promise<ProjectDomain[]> };
  settings: ResolvedRoutingSettings;
  configClusters: readonly ClusterConfig[];
  metrics: RoutingMetrics;
  logger: AdminLogger;
  /** Clock (tests inject one). */
  now?: () => Date;
}

const BATCH = 200;

/** CR deletions, CRD installation and namespace/quota sync. */
export class DataPlaneMaintenance {
  private readonly now: () => Date;
  private quotaTimer: NodeJS.Timeout | undefined;
  private stopped = true;

  constructor(private readonly deps: DataPlaneMaintenanceDeps) {
    this.now = deps.now ?? (() => new Date());
  }

  /**
   * Starts the quota sync (when a quota template is configured) and, in the background, the CRD
   * installation into configured clusters. Side effects: timers, cluster calls.
   */
  start(): void {
    this.stopped = false;
    if (this.deps.settings.resourceQuota) this.scheduleQuotaSync(0);
    if (this.deps.settings.installCrd) void this.installConfiguredCrds();
  }

  /** Stops the quota sync and the CRD installation retries. */
  stop(): void {
    this.stopped = true;
    if (this.quotaTimer) clearTimeout(this.quotaTimer);
    this.quotaTimer = undefined;
  }

  // ---- terminations ----

  /**
   * Deletes the execution's CR from its cluster (NotFound = success) and drops its pending
   * placement. When the cluster is unreachable the deletion is recorded and retried (and the
   * cluster's heartbeats ask its propeller to abort). Side effects: DB writes, cluster calls.
   */
  async terminate(execution: ExecutionKey, cluster: string): Promise<void> {
    await this.deps.pending.delete(execution);
    const targets = new Set<string>();
    if (cluster) targets.add(cluster);
    const lastChosen = await this.deps.decisions.latestChosen(execution);
    if (lastChosen) targets.add(lastChosen);
    const clusters = await this.deps.registry.list();
    for (const name of targets) {
      const record = clusters.find((c) => c.name === name);
      if (record) await this.deleteOn(record, execution, 0);
    }
  }

  /** Records a CR deletion to make on `cluster` at `at` (e.g. after an unanswered create moved elsewhere). */
  scheduleDeletion(cluster: string, execution: ExecutionKey, reason: Reason, at: Date): Promise<void> {
    return this.deps.terminations.upsert(cluster, execution, reason, at);
  }

  /** Retries the deletions due at `now`; a deletion on a cluster no longer registered is dropped. */
  async retryDueDeletions(now: Date): Promise<void> {
    const due = await this.deps.terminations.due(now, BATCH);
    if (due.length === 0) return;
    const clusters = await this.deps.registry.list();
    for (const t of due) {
      const record = clusters.find((c) => c.name === t.cluster);
      if (!record) await this.deps.terminations.delete(t.cluster, t.execution);
      else await this.deleteOn(record, t.execution, t.attempts);
    }
  }

  private async deleteOn(record: ClusterRecord, e: ExecutionKey, attempts: number): Promise<void> {
    try {
      await this.deps.dataPlane.deleteExecution(this.deps.registry.dataPlaneCluster(record), e);
      await this.deps.terminations.delete(record.name, e);
    } catch (err) {
      const failure = failureReason(err);
      if (!failure) throw err;
      this.deps.metrics.crDeleteFailures.inc({ cluster: record.name, reason: failure.code });
      this.deps.logger.warn("CR delete failed; will retry", {
        execution: `${e.project}/${e.domain}/${e.name}`,
        cluster: record.name,
        error: failure.message,
      });
      await this.deps.terminations.upsert(
        record.name,
        e,
        failure,
        new Date(this.now().getTime() + retryDelay(attempts + 1, this.deps.settings)),
      );
    }
  }

  // ---- CRD ----

  /** Installs the CRD into a cluster on demand. Returns "created" or "exists". */
  async installCrd(name: string): Promise<"created" | "exists"> {
    const record = await this.deps.registry.get(name);
    return this.deps.dataPlane.installCrd(this.deps.registry.dataPlaneCluster(record));
  }

  /**
   * Installs the WorkflowExecution CRD into every configured cluster, in the background: a
   * propeller's informers wait for the CRD, so without this a fresh cluster's propeller would
   * only start once the first execution is placed there. A cluster that cannot be reached yet is
   * retried with backoff (0.5 s doubling to 30 s) until it answers or admin stops; its first
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

  // ---- namespaces and quotas ----

  private scheduleQuotaSync(delay: number): void {
    if (this.stopped) return;
    this.quotaTimer = setTimeout(() => {
      this.syncQuotas()
        .catch((err: unknown) => this.deps.logger.error("quota sync failed", { error: String(err) }))
        .finally(() => this.scheduleQuotaSync(this.deps.settings.quotaSyncIntervalMs));
    }, delay);
    this.quotaTimer.unref();
  }

  /**
   * Ensures namespace + quota of every project/domain on every active, live cluster the
   * project may run on (isolation respected). Returns counts; failures are logged and counted,
   * and an unreachable cluster is skipped for the rest of the pass.
   */
  async syncQuotas(): Promise<{ applied: number; failed: number }> {
    const now = this.now();
    const clusters = (await this.deps.registry.list()).filter(
      (c) => c.state === ClusterState.Active && !this.deps.registry.view(c, now).lost,
    );
    const pds = await this.deps.projects.projectDomains();
    let applied = 0;
    let failed = 0;
    for (const c of clusters) {
      const dedicatedTo = c.labels[ISOLATION_LABEL_KEY];
      for (const pd of pds) {
        if (pd.isolationLabel !== dedicatedTo) continue;
        try {
          await this.deps.dataPlane.syncNamespace(
            this.deps.registry.dataPlaneCluster(c),
            pd.project,
            pd.domain,
          );
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
          if (failureReason(err)?.code === QueueReasonCode.ClusterUnreachable) break;
        }
      }
    }
    return { applied, failed };
  }
}
