/**
 * Node lifecycle of the simulated kubelet: registers its Node objects (and a Lease per node
 * in `kube-node-lease`), renews the leases and re-posts the Ready heartbeat, follows edits of
 * the Node objects (cordon, labels, taints, the `sandbox.flotilla.io/fault` annotation),
 * registers a deleted node again, and loses, restores and reclaims nodes:
 *
 *   Ready ─▶ (loseNode / fault=lost) lease stops, Ready=Unknown, unreachable taints,
 *            its pods Failed (NodeLost) ─▶ (restoreNode / annotation removed) Ready again
 *
 * Status changes of one node run one after the other (heartbeat, lose, restore).
 */
import type { V1Lease, V1Node, V1Taint } from "@kubernetes/client-node";
import { Annotations } from "./annotations.js";
import type { KubeletApi } from "./api.js";
import { InvalidKubeletOptionsError, KubeletTargetNotFoundError } from "./errors.js";
import {
  buildNode,
  nodeConditions,
  resolveNodeSpec,
  type NodeSpec,
  type ResolvedNodeSpec,
} from "./node-spec.js";
import { DisruptionReason } from "./pod-status.js";
import type { PodWorker } from "./pod-worker.js";
import type { RequestPool } from "./work-queue.js";
import { toWire } from "./wire.js";

const UNREACHABLE_TAINTS: V1Taint[] = [
  { key: "node.kubernetes.io/unreachable", effect: "NoSchedule" },
  { key: "node.kubernetes.io/unreachable", effect: "NoExecute" },
];

/** One node this kubelet plays. */
export interface NodeState {
  spec: ResolvedNodeSpec;
  index: number;
  node: V1Node;
  lost: boolean;
  /** What lost the node: the faults API or the node's fault annotation. */
  lostBy?: "api" | "annotation";
  lease?: V1Lease;
  nextPodIP: number;
  /** When Ready last turned True (the condition's lastTransitionTime). */
  readySince: Date;
  /** When the node status (Ready heartbeat) was last written. */
  statusReportedAt: number;
  /** Tail of this node's serialized status changes. */
  ops: Promise<void>;
}

/** Hands out the next pod IP of a node (`127.1xx.x.x`: loopback, never dialled). */
export function allocatePodIP(node: NodeState): string {
  const ip = `127.${100 + (node.index % 150)}.${(node.nextPodIP >> 8) & 255}.${node.nextPodIP & 255}`;
  node.nextPodIP = (node.nextPodIP % 65_000) + 1;
  return ip;
}

/** What node lifecycle uses of its kubelet. */
export interface NodeLifecycleHost {
  readonly api: KubeletApi;
  readonly pool: RequestPool;
  /** Whether the kubelet is stopping. */
  stopped(): boolean;
  /** Receives unexpected failures. */
  onError(err: unknown): void;
  /** A node changed in a way the scheduler must see (labels, cordon, lost, back). */
  nodesChanged(): void;
  /** The workers of the pods running on a node. */
  workersOn(nodeName: string): PodWorker[];
  /** A lost node is back: pods bound to it meanwhile may start. */
  nodeRestored(nodeName: string): void;
}

/** Options of node lifecycle. */
export interface NodeLifecycleOptions {
  clusterName: string;
  nodes: NodeSpec[];
  /** Lease renewal interval; the Ready heartbeat is re-posted every six. */
  heartbeatMs: number;
}

/** The nodes of one kubelet and their lifecycle. */
export class NodeLifecycle {
  /** The nodes by name. */
  readonly nodes = new Map<string, NodeState>();
  private heartbeatTimer?: NodeJS.Timeout;

  /** Throws InvalidKubeletOptionsError for an empty node list or a name listed twice. */
  constructor(
    private readonly host: NodeLifecycleHost,
    private readonly options: NodeLifecycleOptions,
  ) {
    if (options.nodes.length === 0)
      throw new InvalidKubeletOptionsError("nodes", "at least one node is needed");
    for (const [index, spec] of options.nodes.entries()) {
      if (this.nodes.has(spec.name))
        throw new InvalidKubeletOptionsError("nodes", `node name ${spec.name} is listed twice`);
      const resolved = resolveNodeSpec(options.clusterName, spec, index);
      this.nodes.set(spec.name, {
        spec: resolved,
        index,
        node: buildNode(options.clusterName, resolved, new Date()),
        lost: false,
        nextPodIP: 1,
        readySince: new Date(),
        statusReportedAt: Date.now(),
        ops: Promise.resolve(),
      });
    }
  }

  /** Registers every node and its lease with the API server. */
  async register(): Promise<void> {
    await this.host.api.ensureNamespace("kube-node-lease");
    for (const state of this.nodes.values()) {
      state.node = await this.host.api.registerNode(state.node);
      state.lease = await this.host.api.renewLease(state.spec.name, undefined, new Date());
    }
  }

  /** Starts lease renewal and heartbeats until `stop()`. */
  startHeartbeats(): void {
    this.heartbeatTimer = setInterval(() => void this.heartbeat(), this.options.heartbeatMs);
  }

  /** Stops heartbeats. */
  stop(): void {
    clearInterval(this.heartbeatTimer);
  }

  /** The state of one of our nodes; throws KubeletTargetNotFoundError for any other. */
  nodeState(name: string): NodeState {
    const state = this.nodes.get(name);
    if (!state) throw new KubeletTargetNotFoundError("node", name);
    return state;
  }

  /** Keeps our copy of a Node current (labels, cordon) and applies its fault annotation. */
  onNode(node: V1Node): void {
    const name = node.metadata?.name ?? "";
    const state = this.nodes.get(name);
    if (!state || this.host.stopped()) return;
    state.node = node;
    this.host.nodesChanged();
    const fault = node.metadata?.annotations?.[Annotations.nodeFault];
    if (fault === "lost" && !state.lost) {
      void this.loseNode(name, "annotation").catch((err: unknown) => this.host.onError(err));
    } else if (fault !== "lost" && state.lost && state.lostBy === "annotation") {
      void this.restoreNode(name).catch((err: unknown) => this.host.onError(err));
    }
  }

  /** A real kubelet re-registers a node object deleted under it; so does this one. */
  onNodeDeleted(node: V1Node): void {
    const state = this.nodes.get(node.metadata?.name ?? "");
    if (!state || this.host.stopped()) return;
    state.lost = false;
    state.lostBy = undefined;
    state.readySince = new Date();
    const fresh = buildNode(this.options.clusterName, state.spec, state.readySince);
    void this.host.api
      .registerNode(fresh)
      .then((registered) => {
        state.node = registered;
        this.host.nodesChanged();
      })
      .catch((err: unknown) => this.host.onError(err));
  }

  /** Loses a node: lease stops, Ready=Unknown, unreachable taints, its pods Failed (NodeLost). */
  async loseNode(name: string, by: "api" | "annotation" = "api"): Promise<void> {
    const state = this.nodeState(name);
    if (state.lost) return;
    state.lost = true;
    state.lostBy = by;
    await this.nodeOp(state, () => this.markLost(state));
  }

  /** Brings a lost node back: Ready again, taints removed, pods bound meanwhile start. */
  async restoreNode(name: string): Promise<void> {
    const state = this.nodeState(name);
    if (!state.lost) return;
    await this.nodeOp(state, () => this.markRestored(state));
  }

  /** Reclaims a spot node: every pod on it is terminated with TerminationByKubelet. */
  async reclaimNode(name: string): Promise<void> {
    this.nodeState(name);
    const victims = this.host.workersOn(name);
    await Promise.all(victims.map((w) => w.preempt(DisruptionReason.terminationByKubelet)));
  }

  /**
   * Renews every live node's lease, and, like a kubelet's nodeStatusReportFrequency, re-posts
   * its Ready condition with a fresh heartbeat every six lease periods even when unchanged.
   */
  private async heartbeat(): Promise<void> {
    const reportEveryMs = 6 * this.options.heartbeatMs;
    const { api, pool } = this.host;
    for (const state of this.nodes.values()) {
      if (state.lost || this.host.stopped()) continue;
      const now = new Date();
      try {
        state.lease = await pool.run(() => api.renewLease(state.spec.name, state.lease, now));
        if (now.getTime() - state.statusReportedAt >= reportEveryMs) {
          state.statusReportedAt = now.getTime();
          await this.nodeOp(state, async () => {
            if (state.lost) return; // lost meanwhile: its Unknown condition must stand
            await pool.run(() =>
              api.patchNodeStatus(
                state.spec.name,
                toWire({ conditions: nodeConditions(true, now, state.readySince) }),
              ),
            );
          });
        }
      } catch (err) {
        state.lease = undefined;
        this.host.onError(err);
      }
    }
  }

  /** Runs node status changes of one node one after the other (heartbeat, lose, restore). */
  private nodeOp(state: NodeState, op: () => Promise<void>): Promise<void> {
    const next = state.ops.then(op, op);
    state.ops = next.catch(() => undefined);
    return next;
  }

  private async markLost(state: NodeState): Promise<void> {
    const name = state.spec.name;
    const now = new Date();
    const taints = [
      ...withoutUnreachable(state.node),
      ...UNREACHABLE_TAINTS.map((t) => ({ ...t, timeAdded: now })),
    ];
    await this.host.api.setNodeTaints(name, toWire(taints));
    state.node = await this.host.api.patchNodeStatus(
      name,
      toWire({ conditions: nodeConditions(false, lastHeartbeat(state.node) ?? now, now) }),
    );
    state.node.spec = { ...state.node.spec, taints };
    await Promise.all(this.host.workersOn(name).map((w) => w.nodeLost()));
  }

  private async markRestored(state: NodeState): Promise<void> {
    if (!state.lost) return;
    const name = state.spec.name;
    const now = new Date();
    const taints = withoutUnreachable(state.node);
    await this.host.api.setNodeTaints(name, toWire(taints));
    state.node = await this.host.api.patchNodeStatus(
      name,
      toWire({ conditions: nodeConditions(true, now, now) }),
    );
    state.readySince = now;
    state.statusReportedAt = now.getTime();
    state.node.spec = { ...state.node.spec, taints };
    state.lost = false;
    state.lostBy = undefined;
    state.lease = await this.host.api.renewLease(name, state.lease, now);
    this.host.nodesChanged();
    this.host.nodeRestored(name);
  }
}

function withoutUnreachable(node: V1Node): V1Taint[] {
  return (node.spec?.taints ?? []).filter((t) => !t.key.startsWith("node.kubernetes.io/unreachable"));
}

function lastHeartbeat(node: V1Node): Date | undefined {
  const ready = node.status?.conditions?.find((c) => c.type === "Ready");
  return ready?.lastHeartbeatTime ? new Date(ready.lastHeartbeatTime) : undefined;
}
