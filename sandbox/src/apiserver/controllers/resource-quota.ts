/**
 * ResourceQuota admission and status, as kube's quota admission plugin and quota controller
 * behave. Admission runs inside the write (a create that would exceed a quota's `hard` is
 * refused with kube's `exceeded quota` wording); usage of pods is kept per namespace from
 * store change events; `status.hard`/`status.used` of a namespace's quotas are recomputed in
 * the controller pass after anything they count changed (terminated pods stop counting).
 */
import { forbidden } from "../errors.js";
import { clone, isObject } from "../objects.js";
import { addUsage, formatUsage, missingSpecs, parseHard, podCounts, podUsage, type Usage } from "../quota.js";
import { type ResourceType, typeKey } from "../registry.js";
import type { ChangeEvent, KubeObject, Stored } from "../store.js";
import { canonicalJson } from "../validation.js";
import type { ControllerHost } from "./controller-host.js";
import type { ControllerLoop } from "./controller-loop.js";
import { Controller } from "./controller.js";
import { NAMESPACES } from "./namespace.js";

/** The type key of ResourceQuotas. */
export const QUOTAS = "/resourcequotas";
const PODS = "/pods";
/** Core resources a quota may also limit by their plain name (`configmaps: 10`). */
const PLAIN_COUNTED = ["configmaps", "secrets", "services", "persistentvolumeclaims", "resourcequotas"];

/** The quota admission and controller of one cluster. */
export class ResourceQuotaController extends Controller<string> {
  /** Usage of counting pods per namespace. */
  private readonly podUsage = new Map<string, Usage>();
  /** Subscribes to the host's store; passes run on `loop`. */
  constructor(host: ControllerHost, loop: ControllerLoop) {
    super(host, loop, "resource-quota");
  }

  /**
   * Admission of a create: throws 403 Forbidden in kube's words when the new object would
   * exceed a quota of its namespace, or when a pod lacks a request or limit a quota demands.
   */
  admit(t: ResourceType, obj: KubeObject): void {
    if (!t.namespaced) return;
    if (typeKey(t) === PODS) this.admitPod(t, obj);
    else this.admitCount(t, obj);
  }

  protected observe(e: ChangeEvent): void {
    if (e.typeKey === NAMESPACES && e.type === "DELETED") {
      this.podUsage.delete(e.obj.metadata.name!);
      return;
    }
    if (e.typeKey === QUOTAS) {
      if (e.type !== "DELETED") this.enqueue(e.namespace);
      return;
    }
    if (e.typeKey === PODS) {
      let usage = this.podUsage.get(e.namespace);
      if (!usage) {
        usage = new Map();
        this.podUsage.set(e.namespace, usage);
      }
      if (podCounts(e.prev)) addUsage(usage, podUsage(e.prev!), -1);
      if (e.type !== "DELETED" && podCounts(e.obj)) addUsage(usage, podUsage(e.obj), 1);
    }
    if (!e.namespace || this.host.store.count(QUOTAS, e.namespace) === 0) return;
    // Counts change on create and delete; a pod update matters only when it starts or stops counting.
    const podCountChanged =
      e.typeKey === PODS && e.type === "MODIFIED" && podCounts(e.prev) !== podCounts(e.obj);
    if (e.type !== "MODIFIED" || podCountChanged) this.enqueue(e.namespace);
  }

  private quotasIn(ns: string): Stored[] {
    return [...this.host.store.iterate(QUOTAS, ns)];
  }

  private admitPod(t: ResourceType, pod: KubeObject): void {
    const ns = pod.metadata.namespace!;
    const quotas = this.quotasIn(ns);
    if (quotas.length === 0) return;
    const requested = podUsage(pod);
    const used = this.podUsage.get(ns) ?? new Map<string, number>();
    const keyOf = (r: string): string => (r === "count/pods" ? "pods" : r);
    for (const q of quotas) {
      const hard = parseHard(q.obj);
      const missing = missingSpecs(pod, hardSpec(q.obj));
      if (missing.length) {
        throw forbidden(
          t,
          pod.metadata.name!,
          `failed quota: ${q.obj.metadata.name}: must specify ${missing.join("; ")}`,
        );
      }
      const exceeded: string[] = [];
      for (const [res, limit] of hard) {
        const req = requested.get(keyOf(res));
        if (req === undefined) continue;
        if ((used.get(keyOf(res)) ?? 0) + req > limit) exceeded.push(res);
      }
      if (exceeded.length) {
        exceeded.sort();
        const fmt = (f: (r: string) => number): string =>
          exceeded.map((r) => `${r}=${formatUsage(r, f(r))}`).join(",");
        throw forbidden(
          t,
          pod.metadata.name!,
          `exceeded quota: ${q.obj.metadata.name}, requested: ${fmt((r) => requested.get(keyOf(r)) ?? 0)}, used: ${fmt((r) => used.get(keyOf(r)) ?? 0)}, limited: ${fmt((r) => hard.get(r) ?? 0)}`,
        );
      }
    }
  }

  private admitCount(t: ResourceType, obj: KubeObject): void {
    const ns = obj.metadata.namespace!;
    if (this.host.store.count(QUOTAS, ns) === 0) return;
    const countKey = t.group ? `count/${t.resource}.${t.group}` : `count/${t.resource}`;
    const plainKey = !t.group && PLAIN_COUNTED.includes(t.resource) ? t.resource : undefined;
    const used = this.host.store.count(typeKey(t), ns);
    for (const q of this.quotasIn(ns)) {
      const hard = parseHard(q.obj);
      for (const res of [countKey, plainKey]) {
        if (!res || !hard.has(res)) continue;
        const limit = hard.get(res)!;
        if ((used + 1) * 1000 > limit) {
          throw forbidden(
            t,
            obj.metadata.name!,
            `exceeded quota: ${q.obj.metadata.name}, requested: ${res}=1, used: ${res}=${used}, limited: ${res}=${formatUsage(res, limit)}`,
          );
        }
      }
    }
  }

  /** Recomputes `status.hard`/`status.used` of every quota in a namespace. */
  protected process(ns: string): void {
    const quotaType = this.host.typeFor(QUOTAS)!;
    for (const q of this.quotasIn(ns)) {
      const hard = parseHard(q.obj);
      const used: Record<string, string> = {};
      for (const res of hard.keys()) used[res] = formatUsage(res, Math.max(0, this.usedMilli(ns, res)));
      const status = { hard: hardSpec(q.obj), used };
      if (canonicalJson(status) === canonicalJson(q.obj.status ?? null)) continue;
      const next = clone(q);
      next.status = status;
      this.host.replace(quotaType, q, next, "status");
    }
  }

  /** What a namespace uses of one quota resource, in milli-units. */
  private usedMilli(ns: string, res: string): number {
    if (res === "pods" || res === "count/pods" || res.startsWith("requests.") || res.startsWith("limits.")) {
      return this.podUsage.get(ns)?.get(res === "count/pods" ? "pods" : res) ?? 0;
    }
    if (res.startsWith("count/")) {
      const [resource, ...group] = res.slice("count/".length).split(".");
      return this.host.store.count(`${group.join(".")}/${resource}`, ns) * 1000;
    }
    return this.host.store.count(`/${res}`, ns) * 1000;
  }
}

/** A quota's `spec.hard` as written. */
function hardSpec(quota: KubeObject): Record<string, unknown> {
  return isObject(quota.spec) && isObject(quota.spec.hard) ? quota.spec.hard : {};
}
