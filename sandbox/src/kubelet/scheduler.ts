import type {
  V1Node,
  V1NodeSelectorRequirement,
  V1NodeSelectorTerm,
  V1Pod,
  V1Taint,
  V1Toleration,
} from "@kubernetes/client-node";
import { parseResourceUnits } from "@flotilla/common";

/** Resource amounts keyed by resource name, in scheduler units (millicores for cpu). */
export type ResourceList = Map<string, number>;

/**
 * What a pod asks the scheduler for: per container `requests`, falling back to `limits` when a
 * request is absent (API defaulting), summed over containers; init containers run one at a
 * time, so the effective request is the max of that sum and any single init container.
 */
export function podRequests(pod: V1Pod): ResourceList {
  const total: ResourceList = new Map();
  const containerRequests = (c: {
    resources?: { requests?: Record<string, unknown>; limits?: Record<string, unknown> };
  }) => {
    const merged = { ...(c.resources?.limits ?? {}), ...(c.resources?.requests ?? {}) };
    const out: ResourceList = new Map();
    for (const [name, value] of Object.entries(merged)) {
      if (typeof value === "string" || typeof value === "number")
        out.set(name, parseResourceUnits(name, value));
    }
    return out;
  };
  for (const c of pod.spec?.containers ?? []) {
    for (const [name, amount] of containerRequests(c)) total.set(name, (total.get(name) ?? 0) + amount);
  }
  for (const c of pod.spec?.initContainers ?? []) {
    for (const [name, amount] of containerRequests(c))
      total.set(name, Math.max(total.get(name) ?? 0, amount));
  }
  return total;
}

/** A node as the scheduler sees it: the object plus what is already placed on it. */
export interface NodeUsage {
  node: V1Node;
  /** Sum of requests of non-terminal pods bound to the node. */
  requested: ResourceList;
  /** Number of non-terminal pods bound to the node. */
  pods: number;
}

/** Outcome of a scheduling attempt. */
export type ScheduleResult =
  | { readonly scheduled: true; readonly nodeName: string }
  | { readonly scheduled: false; readonly message: string };

/**
 * Picks a node for `pod` among `nodes` with the filters of the default scheduler (unschedulable
 * nodes, taints vs tolerations, nodeSelector and required node affinity, resource fit), then
 * prefers the least allocated feasible node (spreads load). Returns the node name, or a
 * kube-scheduler style FitError message ("0/3 nodes are available: 3 Insufficient cpu.").
 * Pure: it does not change `nodes`.
 */
export function schedulePod(
  pod: V1Pod,
  nodes: readonly NodeUsage[],
  requests: ResourceList = podRequests(pod),
): ScheduleResult {
  const reasons = new Map<string, number>();
  let best: { name: string; score: number } | undefined;
  for (const usage of nodes) {
    const failed = filterNode(pod, usage, requests);
    if (failed.length > 0) {
      for (const r of failed) reasons.set(r, (reasons.get(r) ?? 0) + 1);
      continue;
    }
    const score = allocatedFraction(usage, requests);
    const name = usage.node.metadata?.name ?? "";
    if (!best || score < best.score || (score === best.score && name < best.name)) best = { name, score };
  }
  if (best) return { scheduled: true, nodeName: best.name };
  const parts = [...reasons].map(([reason, count]) => `${count} ${reason}`).sort();
  const detail = parts.length > 0 ? ` ${parts.join(", ")}.` : "";
  return { scheduled: false, message: `0/${nodes.length} nodes are available:${detail}` };
}

/**
 * Runs the scheduler filters for one node, in kube-scheduler order, stopping at the first
 * failing filter. Returns the failure reasons (empty when the pod fits).
 */
export function filterNode(pod: V1Pod, usage: NodeUsage, requests: ResourceList): string[] {
  const node = usage.node;
  if (
    node.spec?.unschedulable &&
    !tolerates(pod.spec?.tolerations, { key: "node.kubernetes.io/unschedulable", effect: "NoSchedule" })
  ) {
    return ["node(s) were unschedulable"];
  }
  const untolerated = (node.spec?.taints ?? []).find(
    (t) => (t.effect === "NoSchedule" || t.effect === "NoExecute") && !tolerates(pod.spec?.tolerations, t),
  );
  if (untolerated) return [`node(s) had untolerated taint {${untolerated.key}: ${untolerated.value ?? ""}}`];
  if (!matchesNodeSelector(pod, node)) return ["node(s) didn't match Pod's node affinity/selector"];
  return insufficientResources(usage, requests);
}

function insufficientResources(usage: NodeUsage, requests: ResourceList): string[] {
  const allocatable = usage.node.status?.allocatable ?? {};
  const reasons: string[] = [];
  const maxPods = allocatable.pods !== undefined ? parseResourceUnits("pods", allocatable.pods) : 110;
  if (usage.pods + 1 > maxPods) reasons.push("Too many pods");
  for (const [name, amount] of requests) {
    if (amount <= 0 || name === "pods") continue;
    const raw = allocatable[name];
    const available = raw === undefined ? 0 : parseResourceUnits(name, raw);
    if ((usage.requested.get(name) ?? 0) + amount > available) reasons.push(`Insufficient ${name}`);
  }
  return reasons;
}

function allocatedFraction(usage: NodeUsage, requests: ResourceList): number {
  const allocatable = usage.node.status?.allocatable ?? {};
  let sum = 0;
  let count = 0;
  for (const name of ["cpu", "memory"]) {
    const raw = allocatable[name];
    if (raw === undefined) continue;
    const capacity = parseResourceUnits(name, raw);
    if (capacity <= 0) continue;
    sum += ((usage.requested.get(name) ?? 0) + (requests.get(name) ?? 0)) / capacity;
    count++;
  }
  return count > 0 ? sum / count : usage.pods;
}

/**
 * Whether some toleration in `tolerations` tolerates `taint` (Kubernetes semantics: empty key
 * with Exists tolerates everything, empty effect matches every effect, Equal compares values).
 */
export function tolerates(
  tolerations: readonly V1Toleration[] | undefined,
  taint: Pick<V1Taint, "key" | "value" | "effect">,
): boolean {
  return (tolerations ?? []).some((t) => {
    if (t.effect && t.effect !== taint.effect) return false;
    if (!t.key) return t.operator === "Exists";
    if (t.key !== taint.key) return false;
    if (t.operator === "Exists") return true;
    return (t.value ?? "") === (taint.value ?? "");
  });
}

/** Whether `node` satisfies the pod's nodeSelector and required node affinity terms. */
export function matchesNodeSelector(pod: V1Pod, node: V1Node): boolean {
  const labels = node.metadata?.labels ?? {};
  for (const [key, value] of Object.entries(pod.spec?.nodeSelector ?? {})) {
    if (labels[key] !== value) return false;
  }
  const terms =
    pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
  if (!terms || terms.length === 0) return true;
  return terms.some((term) => matchesTerm(term, node));
}

function matchesTerm(term: V1NodeSelectorTerm, node: V1Node): boolean {
  const expressions = term.matchExpressions ?? [];
  const fields = term.matchFields ?? [];
  if (expressions.length === 0 && fields.length === 0) return false;
  const labels = node.metadata?.labels ?? {};
  return (
    expressions.every((e) => matchesRequirement(e, labels[e.key])) &&
    fields.every((f) => f.key === "metadata.name" && matchesRequirement(f, node.metadata?.name))
  );
}

function matchesRequirement(req: V1NodeSelectorRequirement, value: string | undefined): boolean {
  const values = req.values ?? [];
  switch (req.operator) {
    case "In":
      return value !== undefined && values.includes(value);
    case "NotIn":
      return value === undefined || !values.includes(value);
    case "Exists":
      return value !== undefined;
    case "DoesNotExist":
      return value === undefined;
    case "Gt":
    case "Lt": {
      if (value === undefined || values.length !== 1) return false;
      const have = Number.parseInt(value, 10);
      const want = Number.parseInt(values[0] ?? "", 10);
      if (Number.isNaN(have) || Number.isNaN(want)) return false;
      return req.operator === "Gt" ? have > want : have < want;
    }
    default:
      return false;
  }
}
