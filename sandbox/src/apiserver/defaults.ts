/**
 * What kube's registry strategies fill in on writes of built-in types: a new pod's defaults
 * (restart policy, grace period, DNS policy, scheduler, container fields) and its QoS class,
 * and a secret's write-only `stringData` folded into `data`.
 */
import { isObject } from "./objects.js";
import type { KubeObject } from "./store.js";

/** Fills in a validated new pod's defaults and its initial status (Pending, QoS class). */
export function defaultPod(pod: KubeObject): void {
  const spec = pod.spec as Record<string, unknown>;
  spec.restartPolicy ??= "Always";
  spec.terminationGracePeriodSeconds ??= 30;
  spec.dnsPolicy ??= "ClusterFirst";
  spec.schedulerName ??= "default-scheduler";
  spec.enableServiceLinks ??= true;
  for (const c of spec.containers as Record<string, unknown>[]) {
    c.terminationMessagePath ??= "/dev/termination-log";
    c.terminationMessagePolicy ??= "File";
    c.imagePullPolicy ??=
      String(c.image).endsWith(":latest") || !String(c.image).includes(":") ? "Always" : "IfNotPresent";
    c.resources ??= {};
  }
  pod.status = { phase: "Pending", qosClass: qosClass(pod) };
}

/** Secrets: `stringData` is write-only; kube merges it into `data` (base64) on every write. */
export function foldStringData(secret: KubeObject): void {
  const stringData = secret.stringData;
  if (!isObject(stringData)) return;
  const data = isObject(secret.data) ? secret.data : {};
  for (const [k, v] of Object.entries(stringData)) {
    if (typeof v === "string") data[k] = Buffer.from(v, "utf8").toString("base64");
  }
  secret.data = data;
  delete secret.stringData;
}

/** Kube's QoS class of a pod from its requests and limits. */
function qosClass(pod: KubeObject): string {
  const spec = pod.spec as Record<string, unknown>;
  const containers = (spec.containers as Record<string, unknown>[]) ?? [];
  let anySet = false;
  let guaranteed = true;
  for (const c of containers) {
    const res = isObject(c.resources) ? c.resources : {};
    const req = isObject(res.requests) ? res.requests : {};
    const lim = isObject(res.limits) ? res.limits : {};
    if (Object.keys(req).length || Object.keys(lim).length) anySet = true;
    for (const r of ["cpu", "memory"]) {
      if (lim[r] === undefined) guaranteed = false;
      else if (req[r] !== undefined && req[r] !== lim[r]) guaranteed = false;
    }
  }
  if (!anySet) return "BestEffort";
  return guaranteed ? "Guaranteed" : "Burstable";
}
