/**
 * The cluster registry: clusters from the configuration file and the API, their placement state
 * (active, cordoned, draining), heartbeats and liveness. A cluster whose last heartbeat is older
 * than the timeout is lost: its active executions are marked with the ClusterLost queue reason
 * (their placement is kept) until it beats again.
 *
 *   heartbeat ──▶ healthy/degraded ──(no heartbeat for heartbeatTimeout)──▶ lost
 *       ▲                                                                    │
 *       └───────────── heartbeat: unmark executions, re-evaluate ◀───────────┘
 */
import { credentialsFromRef, type ClusterCredentials } from "../dataplane/connection.js";
import type { DataPlane, DataPlaneCluster } from "../dataplane/data-plane.js";
import type { AdminLogger } from "../logger.js";
import type {
  ClusterRecord,
  ClusterRegistration,
  HeartbeatUpdate,
  ClusterRepository,
} from "../repository/cluster-repository.js";
import type { ExecutionPlacementRepository } from "../repository/execution-placement.js";
import type { PendingTerminationRepository } from "../repository/pending-termination-repository.js";
import type { ClusterConfig, ResolvedRoutingSettings } from "../routing/config.js";
import { QueueReasonCode, reasonText, type Reason } from "../routing/reason.js";
import { ClusterState } from "../routing/router.js";
import type { RoutingChanges } from "./routing-changes.js";
import type { RoutingMetrics } from "./routing-metrics.js";

/** A cluster with its derived liveness. */
export interface ClusterView extends ClusterRecord {
  /** True when it sent heartbeats before and the last one is older than the timeout. */
  lost: boolean;
}

/** Dependencies of {@link ClusterRegistry}. */
export interface ClusterRegistryDeps {
  clusters: ClusterRepository;
  executions: ExecutionPlacementRepository;
  /** Deletions still to do: a heartbeat tells the cluster's propeller to abort them. */
  terminations: PendingTerminationRepository;
  /** Only `forget` is used: cached connections go when a cluster's registration changes. */
  dataPlane: Pick<DataPlane, "forget">;
  settings: Pick<ResolvedRoutingSettings, "heartbeatTimeoutMs" | "heartbeatIntervalMs">;
  configClusters: readonly ClusterConfig[];
  metrics: RoutingMetrics;
  logger: AdminLogger;
  /** The placer, told about every change. */
  changes: RoutingChanges;
  /** Clock (tests inject one). */
  now?: () => Date;
}

/** Registration, state, heartbeats and liveness of data-plane clusters. */
export class ClusterRegistry {
  private readonly now: () => Date;
  private readonly configCredentials = new Map<string, ClusterCredentials>();
  private readonly lostClusters = new Set<string>();

  constructor(private readonly deps: ClusterRegistryDeps) {
    this.now = deps.now ?? (() => new Date());
  }

  /** Applies the configured clusters to the registry (registration fields, and state when set). */
  async applyConfig(): Promise<void> {
    for (const c of this.deps.configClusters) {
      this.configCredentials.set(c.name, configCredentials(c));
      this.deps.dataPlane.forget(c.name);
      await this.deps.clusters.applyFromConfig(
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
          prices: pricesJson(c.prices),
        },
        c.state,
      );
    }
    this.deps.changes.invalidate();
  }

  /** Every cluster, ordered by name. */
  list(): Promise<ClusterRecord[]> {
    return this.deps.clusters.list();
  }

  /** One cluster; throws ClusterNotFoundError. */
  get(name: string): Promise<ClusterRecord> {
    return this.deps.clusters.get(name);
  }

  /** Registers a cluster through the API (idempotent on identical content); re-evaluates queued executions. */
  async register(reg: ClusterRegistration): Promise<ClusterRecord> {
    const c = await this.deps.clusters.register(reg);
    this.deps.dataPlane.forget(c.name);
    await this.deps.changes.reevaluateAll();
    return c;
  }

  /** Replaces a cluster's registration fields; re-evaluates queued executions. */
  async update(reg: ClusterRegistration): Promise<ClusterRecord> {
    const c = await this.deps.clusters.update(reg);
    this.deps.dataPlane.forget(c.name);
    await this.deps.changes.reevaluateAll();
    return c;
  }

  /** Sets a cluster's placement state (cordon, drain, uncordon); re-evaluates queued executions. */
  async setState(name: string, state: ClusterState, reason: string): Promise<ClusterRecord> {
    const c = await this.deps.clusters.setState(name, state, reason);
    this.deps.logger.info("cluster state changed", { cluster: name, state, reason });
    await this.deps.changes.reevaluateAll();
    return c;
  }

  /**
   * Records a heartbeat. A first heartbeat, or one after the cluster was lost, unmarks its
   * executions and re-evaluates queued ones. Returns the cluster and the executions its
   * propeller should abort (deletions admin could not make).
   */
  async heartbeat(name: string, hb: HeartbeatUpdate): Promise<{ cluster: ClusterRecord; abort: string[] }> {
    const { cluster, previous } = await this.deps.clusters.recordHeartbeat(name, hb);
    const wasLost =
      previous !== undefined && hb.at.getTime() - previous.getTime() > this.deps.settings.heartbeatTimeoutMs;
    if (previous === undefined || wasLost) {
      if (this.lostClusters.delete(name) || wasLost) await this.unmarkLost(name);
      await this.deps.changes.reevaluateAll();
    } else {
      this.deps.changes.invalidate();
    }
    const abort = (await this.deps.terminations.forCluster(name)).map((t) => t.execution.name);
    return { cluster, abort };
  }

  /** The heartbeat interval propellers are told to use, in milliseconds. */
  get heartbeatIntervalMs(): number {
    return this.deps.settings.heartbeatIntervalMs;
  }

  /** Number of non-terminal executions placed on a cluster. */
  activeExecutions(cluster: string): Promise<number> {
    return this.deps.executions.countActiveOn(cluster);
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

  /** How the data plane reaches a cluster: credentials from the config file, else its credentials_ref / endpoint. */
  dataPlaneCluster(record: ClusterRecord): DataPlaneCluster {
    return {
      name: record.name,
      credentials:
        this.configCredentials.get(record.name) ??
        credentialsFromRef(record.name, record.credentialsRef, record.apiEndpoint),
    };
  }

  /**
   * Refreshes the cluster gauges and liveness: a cluster that just became lost has its active
   * executions marked; one that is alive again is unmarked and queued executions are
   * re-evaluated. Side effects: metrics, execution rows.
   */
  async refresh(now: Date): Promise<void> {
    const { metrics } = this.deps;
    let becameAlive = false;
    for (const c of await this.deps.clusters.list()) {
      for (const s of Object.values(ClusterState))
        metrics.clusterState.set({ cluster: c.name, state: s }, c.state === s ? 1 : 0);
      const v = this.view(c, now);
      metrics.clusterLost.set({ cluster: c.name }, v.lost ? 1 : 0);
      // Exported at 0 for every registered cluster before its first failure.
      metrics.quotaSyncFailures.inc({ cluster: c.name }, 0);
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
    if (becameAlive) await this.deps.changes.reevaluateAll();
  }

  /**
   * Marks every active execution of a lost cluster with the ClusterLost queue reason (shown as
   * the execution's message, saying since when); the placement itself is kept. Returns how many.
   */
  private async markLost(c: ClusterRecord): Promise<number> {
    const reason: Reason = {
      code: QueueReasonCode.ClusterLost,
      message: `cluster ${c.name} has sent no heartbeat since ${c.lastHeartbeatAt?.toISOString() ?? "?"}`,
    };
    const active = await this.deps.executions.listActiveOn(c.name);
    for (const e of active)
      await this.deps.executions.updatePlacement(e.key, {
        cluster: c.name,
        queueReason: reasonText(reason),
        queueReasonCode: reason.code,
      });
    return active.length;
  }

  /** Clears the ClusterLost mark of a cluster's executions once it sends heartbeats again. */
  private async unmarkLost(cluster: string): Promise<void> {
    for (const e of await this.deps.executions.listActiveOn(cluster)) {
      if (e.queueReasonCode === QueueReasonCode.ClusterLost)
        await this.deps.executions.updatePlacement(e.key, { cluster, queueReason: null });
    }
  }
}

/** proto-JSON of the PriceTable a config cluster declares (fields at their default omitted, as toJson does). */
function pricesJson(p: ClusterConfig["prices"]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (p?.currency) out.currency = p.currency;
  if (p?.cpuCoreHour) out.cpuHour = p.cpuCoreHour;
  if (p?.memoryGibHour) out.memoryGibHour = p.memoryGibHour;
  if (p?.gpuHour) out.gpuHour = p.gpuHour;
  return out;
}

function configCredentials(c: ClusterConfig): ClusterCredentials {
  if (c.kubeconfigInline !== undefined)
    return { kind: "kubeconfigInline", kubeconfig: c.kubeconfigInline, context: c.context };
  if (c.kubeconfig !== undefined) return { kind: "kubeconfigFile", path: c.kubeconfig, context: c.context };
  return { kind: "endpoint", server: c.apiEndpoint ?? "" };
}
