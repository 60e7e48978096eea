/**
 * The kubelet's stand-in for kube-scheduler: pods without a node wait here in creation order;
 * on a tick where something changed (a pod came or went, a node changed) the queue is tried
 * against what each node has left (`schedulePod`'s filters and scoring), fitting pods are
 * bound through `pods/binding`, and pods that fit nowhere get `PodScheduled=False` with
 * kube-scheduler's message.
 */
import type { V1Node, V1Pod } from "@kubernetes/client-node";
import { statusOf, type KubeletApi } from "./api.js";
import { PodPhase, unschedulableCondition } from "./pod-status.js";
import { isTerminal, keyOf } from "./pod-worker.js";
import {
  podRequests,
  schedulePod,
  type NodeUsage,
  type ResourceList,
  type ScheduleResult,
} from "./scheduler.js";
import type { LatestWinsWriter, RequestPool } from "./work-queue.js";
import { toWire } from "./wire.js";

/** What the scheduling queue uses of its kubelet. */
export interface SchedulingHost {
  readonly api: KubeletApi;
  readonly pool: RequestPool;
  readonly writer: LatestWinsWriter;
  /** Runs an API call, retrying transient failures. */
  request<T>(call: () => Promise<T>): Promise<T>;
  /** The kubelet's nodes by name, as last seen. */
  nodes(): Iterable<[string, V1Node]>;
  /** The informer's current copy of a pod. */
  currentPod(namespace: string, name: string): V1Pod | undefined;
  /** Receives unexpected failures. */
  onError(err: unknown): void;
}

/** Where a pod runs and what it holds there. */
interface Placement {
  nodeName: string;
  requests: ResourceList;
}

/** A pod waiting for a node, with what the scheduler needs precomputed. */
interface PendingPod {
  pod: V1Pod;
  requests: ResourceList;
  /** Everything that decides where the pod fits; equal signatures fit the same nodes. */
  signature: string;
  /** Creation time in ms, the queue order. */
  created: number;
}

/** Pending pods, placed pods and the scheduling pass of one kubelet. */
export class SchedulingQueue {
  private readonly placements = new Map<string, Placement>();
  private readonly pending = new Map<string, PendingPod>();
  /** The last unschedulable message reported per pod (reported again only when it changes). */
  private readonly unschedulable = new Map<string, string>();
  private needed = false;

  constructor(private readonly host: SchedulingHost) {}

  /** Asks for a scheduling pass on the next tick (capacity or nodes changed). */
  markNeeded(): void {
    this.needed = true;
  }

  /** Queues a pod without a node, unless it is finished or already placed. */
  enqueue(pod: V1Pod): void {
    const key = keyOf(pod);
    if (isTerminal(pod) || this.placements.has(key)) return;
    this.pending.set(key, pendingPod(pod));
    this.needed = true;
  }

  /** Takes a pod off the queue (it is being deleted before it was bound). */
  dropPending(key: string): void {
    this.pending.delete(key);
  }

  /**
   * Records a pod bound to `nodeName`; `ours` tells whether that node is this kubelet's. A
   * finished pod frees what it held.
   */
  bound(pod: V1Pod, nodeName: string, ours: boolean): void {
    const key = keyOf(pod);
    this.pending.delete(key);
    this.unschedulable.delete(key);
    if (!ours) return;
    if (isTerminal(pod)) this.release(key);
    else if (!this.placements.has(key)) this.placements.set(key, { nodeName, requests: podRequests(pod) });
  }

  /** Forgets a deleted pod; what it held is free again. */
  forget(key: string): void {
    this.pending.delete(key);
    this.unschedulable.delete(key);
    this.release(key);
  }

  /** A pod reached a terminal phase: its resources are free again. */
  release(key: string): void {
    if (this.placements.delete(key)) this.needed = true;
  }

  /** Runs a scheduling pass when something changed since the last one. */
  runIfNeeded(): void {
    if (this.needed) this.schedule();
  }

  private schedule(): void {
    this.needed = false;
    if (this.pending.size === 0) return;
    const usage = new Map<string, NodeUsage>();
    for (const [name, node] of this.host.nodes()) usage.set(name, { node, requested: new Map(), pods: 0 });
    for (const p of this.placements.values()) {
      const u = usage.get(p.nodeName);
      if (u) addPlacement(u, p.requests);
    }
    const usageList = [...usage.values()];
    const queue = [...this.pending.entries()].sort(
      ([ka, a], [kb, b]) => a.created - b.created || ka.localeCompare(kb),
    );
    // Usage only grows during a pass, so a pod identical (for scheduling) to one that did not
    // fit will not fit either: 10,000 identical pending pods cost one evaluation, not 10,000.
    const failed = new Map<string, string>();
    for (const [key, { pod, requests, signature }] of queue) {
      const known = failed.get(signature);
      const result: ScheduleResult =
        known !== undefined ? { scheduled: false, message: known } : schedulePod(pod, usageList, requests);
      if (!result.scheduled) {
        failed.set(signature, result.message);
        if (this.unschedulable.get(key) !== result.message) {
          this.unschedulable.set(key, result.message);
          this.reportUnschedulable(pod, result.message);
        }
        continue;
      }
      this.pending.delete(key);
      this.unschedulable.delete(key);
      this.placements.set(key, { nodeName: result.nodeName, requests });
      const u = usage.get(result.nodeName);
      if (u) addPlacement(u, requests);
      void this.bind(key, pod, result.nodeName);
    }
  }

  private async bind(key: string, pod: V1Pod, nodeName: string): Promise<void> {
    const ns = pod.metadata?.namespace ?? "default";
    const name = pod.metadata?.name ?? "";
    try {
      await this.host.pool.run(() => this.host.api.bindPod(ns, name, pod.metadata?.uid, nodeName));
    } catch (err) {
      const status = statusOf(err);
      // 404: deleted meanwhile. 409: already bound (by us earlier or someone else).
      if (status !== 404 && status !== 409) {
        this.host.onError(err);
        const current = this.host.currentPod(ns, name);
        if (current && !current.spec?.nodeName && current.metadata?.uid === pod.metadata?.uid) {
          this.placements.delete(key);
          this.pending.set(key, pendingPod(current));
          this.needed = true;
        }
      } else if (status === 404) {
        this.placements.delete(key);
      }
    }
  }

  private reportUnschedulable(pod: V1Pod, message: string): void {
    const ns = pod.metadata?.namespace ?? "default";
    const name = pod.metadata?.name ?? "";
    const key = keyOf(pod);
    void this.host.writer.submit(key, async () => {
      const current = this.host.currentPod(ns, name) ?? pod;
      if (current.spec?.nodeName || current.metadata?.uid !== pod.metadata?.uid) return;
      if (this.unschedulable.get(key) !== message) return;
      const others = (current.status?.conditions ?? []).filter((c) => c.type !== "PodScheduled");
      await this.host.request(() =>
        this.host.api.patchPodStatus(
          ns,
          name,
          toWire({
            phase: PodPhase.pending,
            conditions: [...others, unschedulableCondition(message, new Date())],
          }),
        ),
      );
    });
  }
}

function addPlacement(u: NodeUsage, requests: ResourceList): void {
  u.pods++;
  for (const [r, amount] of requests) u.requested.set(r, (u.requested.get(r) ?? 0) + amount);
}

function pendingPod(pod: V1Pod): PendingPod {
  const requests = podRequests(pod);
  const spec = pod.spec;
  const signature = JSON.stringify([
    [...requests].sort(([a], [b]) => a.localeCompare(b)),
    spec?.nodeSelector ?? null,
    spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? null,
    spec?.tolerations ?? null,
  ]);
  return { pod, requests, signature, created: timeOf(pod.metadata?.creationTimestamp) };
}

function timeOf(value: Date | string | undefined): number {
  if (value === undefined) return 0;
  return value instanceof Date ? value.getTime() : Date.parse(value);
}
