/**
 * Execution namespaces (`{project}-{domain}`) and their ResourceQuota on one cluster.
 */
import { Labels, MANAGED_BY } from "@flotilla/common";
import type { V1ResourceQuota } from "@kubernetes/client-node";
import type { ClusterConnection } from "./connection.js";
import { httpStatusOf, toDataPlaneError } from "./errors.js";
import { RESOURCE_QUOTA_NAME } from "./quota.js";
import { withTimeout } from "./timeout.js";

/** Options shared by data-plane calls. */
export interface CallOptions {
  /** Per-request timeout in milliseconds. */
  timeoutMs: number;
}

/**
 * Creates the namespace when it does not exist (AlreadyExists counts as existing).
 * Returns "created" or "exists"; throws a DataPlaneError naming the cluster otherwise.
 */
export async function ensureNamespace(
  conn: ClusterConnection,
  namespace: string,
  owner: { project: string; domain: string },
  options: CallOptions,
): Promise<"created" | "exists"> {
  const op = `ensure namespace ${namespace}`;
  try {
    await withTimeout(conn.core.readNamespace({ name: namespace }), options.timeoutMs, op);
    return "exists";
  } catch (err) {
    if (httpStatusOf(err) !== 404) throw toDataPlaneError(conn.cluster, op, err);
  }
  try {
    await withTimeout(
      conn.core.createNamespace({
        body: {
          apiVersion: "v1",
          kind: "Namespace",
          metadata: {
            name: namespace,
            labels: {
              [Labels.project]: owner.project,
              [Labels.domain]: owner.domain,
              [Labels.managedBy]: MANAGED_BY,
            },
          },
        },
      }),
      options.timeoutMs,
      op,
    );
    return "created";
  } catch (err) {
    if (httpStatusOf(err) === 409) return "exists";
    throw toDataPlaneError(conn.cluster, op, err);
  }
}

function sameHard(a: Record<string, string> | undefined, b: Record<string, string>): boolean {
  const ak = Object.keys(a ?? {}).sort();
  const bk = Object.keys(b).sort();
  return ak.length === bk.length && ak.every((k, i) => k === bk[i] && a?.[k] === b[k]);
}

/**
 * Makes the namespace's managed ResourceQuota have exactly `hard` (creates, replaces or
 * deletes it when `hard` is empty). Returns what it did; throws a DataPlaneError.
 */
export async function applyResourceQuota(
  conn: ClusterConnection,
  namespace: string,
  hard: Record<string, string>,
  options: CallOptions,
): Promise<"created" | "updated" | "unchanged" | "deleted"> {
  const op = `apply resource quota ${namespace}/${RESOURCE_QUOTA_NAME}`;
  let current: V1ResourceQuota | undefined;
  try {
    current = await withTimeout(
      conn.core.readNamespacedResourceQuota({ name: RESOURCE_QUOTA_NAME, namespace }),
      options.timeoutMs,
      op,
    );
  } catch (err) {
    if (httpStatusOf(err) !== 404) throw toDataPlaneError(conn.cluster, op, err);
  }
  const empty = Object.keys(hard).length === 0;
  try {
    if (!current) {
      if (empty) return "unchanged";
      await withTimeout(
        conn.core.createNamespacedResourceQuota({
          namespace,
          body: {
            apiVersion: "v1",
            kind: "ResourceQuota",
            metadata: { name: RESOURCE_QUOTA_NAME, namespace, labels: { [Labels.managedBy]: MANAGED_BY } },
            spec: { hard },
          },
        }),
        options.timeoutMs,
        op,
      );
      return "created";
    }
    if (empty) {
      await withTimeout(
        conn.core.deleteNamespacedResourceQuota({ name: RESOURCE_QUOTA_NAME, namespace }),
        options.timeoutMs,
        op,
      );
      return "deleted";
    }
    if (sameHard(current.spec?.hard, hard)) return "unchanged";
    await withTimeout(
      conn.core.replaceNamespacedResourceQuota({
        name: RESOURCE_QUOTA_NAME,
        namespace,
        body: { ...current, spec: { ...current.spec, hard } },
      }),
      options.timeoutMs,
      op,
    );
    return "updated";
  } catch (err) {
    // A concurrent writer won (409 on create or on a stale resourceVersion): the next sync converges.
    if (httpStatusOf(err) === 409) return "unchanged";
    throw toDataPlaneError(conn.cluster, op, err);
  }
}
