/**
 * Execution namespaces (`{project}-{domain}`) and their ResourceQuota on one cluster.
 */
import { Labels, MANAGED_BY } from "@flotilla/common";
import { callCluster, ensureExists, type CallOptions } from "./call.js";
import type { ClusterConnection } from "./connection.js";
import { RESOURCE_QUOTA_NAME } from "./quota.js";

/**
 * Creates the namespace when it does not exist (AlreadyExists counts as existing).
 * Returns "created" or "exists"; throws a DataPlaneError naming the cluster otherwise.
 */
export function ensureNamespace(
  conn: ClusterConnection,
  namespace: string,
  owner: { project: string; domain: string },
  options: CallOptions,
): Promise<"created" | "exists"> {
  return ensureExists(
    conn,
    `ensure namespace ${namespace}`,
    options,
    () => conn.core.readNamespace({ name: namespace }),
    () =>
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
  );
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
  const current = await callCluster(
    conn,
    op,
    options,
    () => conn.core.readNamespacedResourceQuota({ name: RESOURCE_QUOTA_NAME, namespace }),
    { 404: undefined },
  );
  const empty = Object.keys(hard).length === 0;
  if (!current ? empty : !empty && sameHard(current.spec?.hard, hard)) return "unchanged";
  const [action, send] = !current
    ? [
        "created" as const,
        () =>
          conn.core.createNamespacedResourceQuota({
            namespace,
            body: {
              apiVersion: "v1",
              kind: "ResourceQuota",
              metadata: { name: RESOURCE_QUOTA_NAME, namespace, labels: { [Labels.managedBy]: MANAGED_BY } },
              spec: { hard },
            },
          }),
      ]
    : empty
      ? [
          "deleted" as const,
          () => conn.core.deleteNamespacedResourceQuota({ name: RESOURCE_QUOTA_NAME, namespace }),
        ]
      : [
          "updated" as const,
          () =>
            conn.core.replaceNamespacedResourceQuota({
              name: RESOURCE_QUOTA_NAME,
              namespace,
              body: { ...current, spec: { ...current.spec, hard } },
            }),
        ];
  // A concurrent writer won (409 on create or on a stale resourceVersion): the next sync converges.
  return callCluster(conn, op, options, () => send().then(() => action), { 409: "unchanged" as const });
}
