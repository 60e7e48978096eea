/**
 * ResourceQuota admission and accounting for pods and object counts, as kube's quota admission
 * plugin and quota controller behave: a pod create that would exceed a quota's `hard` is
 * refused with kube's `exceeded quota` wording, and each quota's `status.used` is kept current
 * (terminated pods stop counting).
 */
import { formatMilli, parseMilli } from "@flotilla/common";
import type { KubeObject } from "./store.js";
import { isObject } from "./objects.js";

/** Usage in milli-units per quota resource name (`pods`, `requests.cpu`, ...). */
export type Usage = Map<string, number>;

const COMPUTE = ["requests.cpu", "requests.memory", "limits.cpu", "limits.memory"] as const;
const MEMORY_LIKE = new Set([
  "requests.memory",
  "limits.memory",
  "requests.ephemeral-storage",
  "limits.ephemeral-storage",
]);

function containerAmount(c: unknown, kind: "requests" | "limits", res: string): number | undefined {
  if (!isObject(c) || !isObject(c.resources)) return undefined;
  const map = c.resources[kind];
  if (!isObject(map)) return undefined;
  const v = map[res];
  if (typeof v !== "string" && typeof v !== "number") return undefined;
  try {
    return parseMilli(v);
  } catch {
    return undefined;
  }
}

/** Whether a pod still counts against quota (not Succeeded/Failed). */
export function podCounts(pod: KubeObject | undefined): boolean {
  if (!pod) return false;
  const phase = isObject(pod.status) ? pod.status.phase : undefined;
  return phase !== "Succeeded" && phase !== "Failed";
}

/**
 * The quota usage one pod contributes, in milli-units: `pods` 1000 and the effective
 * requests/limits (max of the containers' sum and any single init container, as kube computes).
 * Requests default to limits when only limits are set.
 */
export function podUsage(pod: KubeObject): Usage {
  const usage: Usage = new Map([["pods", 1000]]);
  const spec = isObject(pod.spec) ? pod.spec : {};
  const containers = Array.isArray(spec.containers) ? spec.containers : [];
  const inits = Array.isArray(spec.initContainers) ? spec.initContainers : [];
  for (const key of COMPUTE) {
    const [kind, res] = key.split(".") as ["requests" | "limits", string];
    const amount = (c: unknown): number | undefined =>
      containerAmount(c, kind, res) ?? (kind === "requests" ? containerAmount(c, "limits", res) : undefined);
    let sum = 0;
    let any = false;
    for (const c of containers) {
      const a = amount(c);
      if (a !== undefined) {
        sum += a;
        any = true;
      }
    }
    for (const c of inits) {
      const a = amount(c);
      if (a !== undefined) {
        sum = Math.max(sum, a);
        any = true;
      }
    }
    if (any) usage.set(key, sum);
  }
  return usage;
}

/** Names of containers missing a value for a constrained compute resource. */
export function missingSpecs(pod: KubeObject, hard: Record<string, unknown>): string[] {
  const spec = isObject(pod.spec) ? pod.spec : {};
  const containers = [
    ...(Array.isArray(spec.initContainers) ? spec.initContainers : []),
    ...(Array.isArray(spec.containers) ? spec.containers : []),
  ];
  const missing: string[] = [];
  for (const key of COMPUTE) {
    if (!(key in hard)) continue;
    const [kind, res] = key.split(".") as ["requests" | "limits", string];
    const lacking = containers
      .filter(
        (c) =>
          containerAmount(c, kind, res) === undefined &&
          !(kind === "requests" && containerAmount(c, "limits", res) !== undefined),
      )
      .map((c) => (isObject(c) && typeof c.name === "string" ? c.name : ""));
    if (lacking.length > 0) missing.push(`${key} for: ${lacking.join(",")}`);
  }
  return missing;
}

/** Formats a usage value of a quota resource the way kube prints it. */
export function formatUsage(resource: string, milli: number): string {
  if (resource === "pods" || resource.startsWith("count/") || !resource.includes(".")) {
    return formatMilli(milli);
  }
  return formatMilli(milli, MEMORY_LIKE.has(resource));
}

/** Adds `b` into `a` scaled by `sign`. */
export function addUsage(a: Usage, b: Usage, sign: 1 | -1): void {
  for (const [k, v] of b) a.set(k, (a.get(k) ?? 0) + sign * v);
}

/** Parses a quota's `spec.hard` map into milli-units, skipping malformed entries. */
export function parseHard(quota: KubeObject): Map<string, number> {
  const spec = isObject(quota.spec) ? quota.spec : {};
  const hard = isObject(spec.hard) ? spec.hard : {};
  const out = new Map<string, number>();
  for (const [k, v] of Object.entries(hard)) {
    if (typeof v !== "string" && typeof v !== "number") continue;
    try {
      out.set(k, parseMilli(v));
    } catch {
      continue;
    }
  }
  return out;
}
