/**
 * `POST .../pods/<name>/binding`: assigns a pending pod to a node (what kube-scheduler and the
 * sandbox kubelet's scheduler send), setting `spec.nodeName` and `PodScheduled=True`.
 */
import type { ServerResponse } from "node:http";
import type { ClusterApi } from "../api.js";
import { ApiError, conflict } from "../errors.js";
import { sendJson } from "../http/responses.js";
import { clone, kubeTime } from "../objects.js";

const BINDING = { group: "", resource: "pods/binding" };

/**
 * Binds pod `ns/name` to the node named by the Binding `body`. Throws 422 without a target,
 * 404 for a missing pod, 409 when it is already bound or being deleted.
 */
export function servePodBinding(
  api: ClusterApi,
  res: ServerResponse,
  ns: string,
  name: string,
  body: unknown,
): void {
  const podType = api.types.get("", "v1", "pods")!;
  const binding = (body ?? {}) as Record<string, unknown>;
  const target = (binding.target ?? {}) as Record<string, unknown>;
  if (typeof target.name !== "string" || !target.name) {
    throw new ApiError(422, "Invalid", `Binding "${name}" is invalid: target.name: Required value`);
  }
  const pod = api.get(podType, ns, name);
  const spec = (pod.obj.spec ?? {}) as Record<string, unknown>;
  if (spec.nodeName) {
    const node = typeof spec.nodeName === "string" ? spec.nodeName : "";
    throw conflict(BINDING, name, `pod ${name} is already assigned to node "${node}"`);
  }
  if (pod.obj.metadata.deletionTimestamp) {
    throw conflict(BINDING, name, `pod ${name} is being deleted, cannot be assigned to a host`);
  }
  const next = clone(pod);
  (next.spec as Record<string, unknown>).nodeName = target.name;
  const status = (next.status ?? {}) as Record<string, unknown>;
  const conditions = (Array.isArray(status.conditions) ? status.conditions : []) as Record<string, unknown>[];
  status.conditions = [
    ...conditions.filter((c) => c.type !== "PodScheduled"),
    { type: "PodScheduled", status: "True", lastProbeTime: null, lastTransitionTime: kubeTime() },
  ];
  next.status = status;
  api.bindPod(next);
  sendJson(res, 201, { kind: "Status", apiVersion: "v1", metadata: {}, status: "Success", code: 201 });
}
