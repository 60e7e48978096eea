/**
 * The data plane as the placer sees it: put an execution's CR on a cluster (namespace, quota
 * and, on demand, the CRD first) and take it away again. Connections and "already ensured"
 * facts are cached per cluster; a 404 on create drops the cache and retries once.
 */
import { executionNamespace, type BlobStore } from "@flotilla/common";
import type { ExecutionKey, PlacementRequest } from "../manager/placement.js";
import { ClusterConnections, type ClusterConnection, type ClusterCredentials } from "./connection.js";
import { installWorkflowExecutionCrd } from "./crd.js";
import { ClusterRequestError } from "./errors.js";
import { applyResourceQuota, ensureNamespace } from "./namespaces.js";
import { renderResourceQuota, type ResourceQuotaConfig } from "./quota.js";
import {
  createWorkflowExecution,
  deleteWorkflowExecution,
  prepareWorkflowExecutionObject,
} from "./workflow-executions.js";

/** A cluster as the data plane needs it: a name and how to reach it. */
export interface DataPlaneCluster {
  name: string;
  credentials: ClusterCredentials;
}

/** Operations on clusters' Kubernetes APIs. Every failure is a DataPlaneError naming the cluster. */
export interface DataPlane {
  /**
   * Makes sure the execution's CR exists on the cluster: CRD (when enabled), namespace and
   * quota, then the CR (a large closure offloaded first). Returns "created" or "exists".
   */
  createExecution(
    cluster: DataPlaneCluster,
    request: PlacementRequest,
  ): Promise<{ result: "created" | "exists"; offloaded: boolean }>;
  /** Deletes the execution's CR. Returns "deleted" or "absent". */
  deleteExecution(cluster: DataPlaneCluster, execution: ExecutionKey): Promise<"deleted" | "absent">;
  /** Installs the CRD when missing. Returns "created" or "exists". */
  installCrd(cluster: DataPlaneCluster): Promise<"created" | "exists">;
  /** Ensures the namespace of a project/domain and applies its quota. Returns the quota action. */
  syncNamespace(cluster: DataPlaneCluster, project: string, domain: string): Promise<string>;
  /** The cached (or new) API connection of a cluster. */
  connection(cluster: DataPlaneCluster): ClusterConnection;
  /** Forgets cached connection and ensured facts of a cluster (after its credentials changed). */
  forget(cluster: string): void;
}

/** Options of {@link createDataPlane}. */
export interface DataPlaneOptions {
  blobStore: BlobStore;
  /** CR size budget in bytes above which the closure is offloaded. */
  crBudgetBytes: number;
  /** Per-request timeout in milliseconds. */
  requestTimeoutMs: number;
  /** Install the CRD when missing, before the first create on a cluster. */
  installCrd: boolean;
  /** Namespace quota template; no quota when undefined. */
  resourceQuota?: ResourceQuotaConfig | undefined;
  /** Quota template values from matchable attributes for a project/domain. */
  quotaValues?: (project: string, domain: string) => Promise<Record<string, string>>;
}

/** Creates the {@link DataPlane}. No I/O until it is used. */
export function createDataPlane(options: DataPlaneOptions): DataPlane {
  const connections = new ClusterConnections();
  const crdReady = new Set<string>();
  /** Namespaces ensured per cluster. */
  const namespacesReady = new Map<string, Set<string>>();
  const call = { timeoutMs: options.requestTimeoutMs };

  const connection = (c: DataPlaneCluster): ClusterConnection => connections.get(c.name, c.credentials);

  async function syncNamespace(c: DataPlaneCluster, project: string, domain: string): Promise<string> {
    const conn = connection(c);
    const namespace = executionNamespace(project, domain);
    await ensureNamespace(conn, namespace, { project, domain }, call);
    let action = "none";
    if (options.resourceQuota) {
      const values = options.quotaValues ? await options.quotaValues(project, domain) : {};
      const hard = renderResourceQuota(options.resourceQuota, project, domain, namespace, values);
      action = await applyResourceQuota(conn, namespace, hard, call);
    }
    namespacesReady.set(c.name, (namespacesReady.get(c.name) ?? new Set()).add(namespace));
    return action;
  }

  async function prepare(c: DataPlaneCluster, e: ExecutionKey): Promise<void> {
    if (options.installCrd && !crdReady.has(c.name)) {
      await installWorkflowExecutionCrd(connection(c), call);
      crdReady.add(c.name);
    }
    if (!namespacesReady.get(c.name)?.has(executionNamespace(e.project, e.domain))) {
      await syncNamespace(c, e.project, e.domain);
    }
  }

  return {
    connection,
    syncNamespace,
    forget(cluster) {
      connections.forget(cluster);
      crdReady.delete(cluster);
      namespacesReady.delete(cluster);
    },
    async installCrd(c) {
      const result = await installWorkflowExecutionCrd(connection(c), call);
      crdReady.add(c.name);
      return result;
    },
    async createExecution(c, request) {
      const e = request.execution;
      const { object, offloaded } = await prepareWorkflowExecutionObject(
        {
          spec: request.spec,
          namespace: executionNamespace(e.project, e.domain),
          name: e.name,
          labels: request.labels,
          annotations: request.annotations,
        },
        options.blobStore,
        options.crBudgetBytes,
      );
      await prepare(c, e);
      try {
        return { result: await createWorkflowExecution(connection(c), object, call), offloaded };
      } catch (err) {
        // The namespace or the CRD vanished behind our cache: ensure again, once.
        if (!(err instanceof ClusterRequestError) || err.status !== 404) throw err;
        crdReady.delete(c.name);
        namespacesReady.get(c.name)?.delete(executionNamespace(e.project, e.domain));
        await prepare(c, e);
        return { result: await createWorkflowExecution(connection(c), object, call), offloaded };
      }
    },
    async deleteExecution(c, e) {
      return deleteWorkflowExecution(connection(c), executionNamespace(e.project, e.domain), e.name, call);
    },
  };
}
