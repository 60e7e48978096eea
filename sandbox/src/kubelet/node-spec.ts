import type { V1Node, V1Taint } from "@kubernetes/client-node";

/** Label and taint keys the sandbox puts on its nodes. */
export const NodeLabels = {
  zone: "topology.kubernetes.io/zone",
  region: "topology.kubernetes.io/region",
  instanceType: "node.kubernetes.io/instance-type",
  capacityType: "flotilla.io/capacity-type",
  hostname: "kubernetes.io/hostname",
  os: "kubernetes.io/os",
  arch: "kubernetes.io/arch",
} as const;

/** Whether a node is billed on demand or is reclaimable spot capacity. */
export const CapacityType = { spot: "spot", onDemand: "on-demand" } as const;
/** Spot or on-demand. */
export type CapacityType = (typeof CapacityType)[keyof typeof CapacityType];

/** The taint every spot node carries, so only pods that tolerate interruption land there. */
export const SPOT_TAINT: Readonly<V1Taint> = {
  key: NodeLabels.capacityType,
  value: CapacityType.spot,
  effect: "NoSchedule",
};

/** A simulated node: its size, placement labels and taints. */
export interface NodeSpec {
  /** Node name, unique in the cluster. */
  name: string;
  /** CPU capacity as a quantity ("8", "16000m"). Default "8". */
  cpu?: string;
  /** Memory capacity as a quantity ("32Gi"). Default "32Gi". */
  memory?: string;
  /** Maximum pods on the node. Default 110, as a real kubelet. */
  pods?: number;
  /** Number of `nvidia.com/gpu` devices. Default none (the resource is not advertised). */
  gpus?: number;
  /** Ephemeral storage capacity. Default "100Gi". */
  ephemeralStorage?: string;
  /** `topology.kubernetes.io/zone`. Default `<cluster>-a`, `-b`, `-c` round-robin. */
  zone?: string;
  /** `node.kubernetes.io/instance-type`. Default "sandbox.xlarge" (or "sandbox.gpu" with GPUs). */
  instanceType?: string;
  /** `flotilla.io/capacity-type`. Spot nodes also get SPOT_TAINT. Default "on-demand". */
  capacityType?: CapacityType;
  /** Extra labels, merged over the defaults. */
  labels?: Record<string, string>;
  /** Extra taints, added to the spot taint if any. */
  taints?: V1Taint[];
}

/**
 * The default topology of a sandbox cluster: `<cluster>-node-1` and `-2` on demand, `-3` spot
 * (tainted), in three zones, 8 CPU / 32Gi / 110 pods each. Returns fresh objects.
 */
export function defaultNodeSpecs(clusterName: string): NodeSpec[] {
  return [1, 2, 3].map((i) => ({
    name: `${clusterName}-node-${i}`,
    capacityType: i === 3 ? CapacityType.spot : CapacityType.onDemand,
  }));
}

/** A NodeSpec with every default filled in. */
export interface ResolvedNodeSpec extends Required<Omit<NodeSpec, "gpus">> {
  gpus: number;
  /** Address reported as InternalIP and as hostIP of its pods (loopback range, never routed). */
  address: string;
}

/**
 * Fills defaults of a node spec; `index` (0-based position in the cluster) picks the zone and
 * the node's loopback address. Returns a new object.
 */
export function resolveNodeSpec(clusterName: string, spec: NodeSpec, index: number): ResolvedNodeSpec {
  const gpus = spec.gpus ?? 0;
  const capacityType = spec.capacityType ?? CapacityType.onDemand;
  const taints = [...(capacityType === CapacityType.spot ? [{ ...SPOT_TAINT }] : []), ...(spec.taints ?? [])];
  return {
    name: spec.name,
    cpu: spec.cpu ?? "8",
    memory: spec.memory ?? "32Gi",
    pods: spec.pods ?? 110,
    gpus,
    ephemeralStorage: spec.ephemeralStorage ?? "100Gi",
    zone: spec.zone ?? `${clusterName}-${"abc"[index % 3]}`,
    instanceType: spec.instanceType ?? (gpus > 0 ? "sandbox.gpu" : "sandbox.xlarge"),
    capacityType,
    labels: spec.labels ?? {},
    taints,
    address: `127.0.${1 + Math.floor(index / 250)}.${1 + (index % 250)}`,
  };
}

/**
 * Builds the Node object a kubelet registers for `spec`: labels, taints, capacity ==
 * allocatable, addresses, node info and (initially) a Ready=True condition stamped `now`.
 */
export function buildNode(clusterName: string, spec: ResolvedNodeSpec, now: Date): V1Node {
  const capacity: Record<string, string> = {
    cpu: spec.cpu,
    memory: spec.memory,
    pods: String(spec.pods),
    "ephemeral-storage": spec.ephemeralStorage,
  };
  if (spec.gpus > 0) capacity["nvidia.com/gpu"] = String(spec.gpus);
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: {
      name: spec.name,
      labels: {
        [NodeLabels.hostname]: spec.name,
        [NodeLabels.os]: "linux",
        [NodeLabels.arch]: "amd64",
        [NodeLabels.region]: clusterName,
        [NodeLabels.zone]: spec.zone,
        [NodeLabels.instanceType]: spec.instanceType,
        [NodeLabels.capacityType]: spec.capacityType,
        "flotilla.io/sandbox": "true",
        ...spec.labels,
      },
      annotations: { "node.alpha.kubernetes.io/ttl": "0" },
    },
    spec: {
      providerID: `sandbox://${clusterName}/${spec.name}`,
      ...(spec.taints.length > 0 ? { taints: spec.taints.map((t) => ({ ...t })) } : {}),
    },
    status: {
      capacity,
      allocatable: { ...capacity },
      addresses: [
        { type: "InternalIP", address: spec.address },
        { type: "Hostname", address: spec.name },
      ],
      conditions: nodeConditions(true, now, now),
      daemonEndpoints: { kubeletEndpoint: { Port: 0 } },
      nodeInfo: {
        architecture: "amd64",
        bootID: "",
        containerRuntimeVersion: "flotilla-sandbox://0.1.0",
        kernelVersion: "",
        kubeProxyVersion: "",
        kubeletVersion: "v1.31.0-sandbox",
        machineID: spec.name,
        operatingSystem: "linux",
        osImage: "Flotilla sandbox",
        systemUUID: spec.name,
      },
      phase: "Running",
    },
  };
}

/**
 * The node conditions a kubelet reports: Ready True ("KubeletReady") when `ready`, otherwise
 * Unknown ("NodeStatusUnknown", as the node lifecycle controller marks a silent node), plus
 * the pressure conditions all False. `transition` is when Ready last changed.
 */
export function nodeConditions(ready: boolean, heartbeat: Date, transition: Date) {
  const pressure = (type: string, reason: string, message: string) => ({
    type,
    status: ready ? "False" : "Unknown",
    reason: ready ? reason : "NodeStatusUnknown",
    message: ready ? message : "Kubelet stopped posting node status.",
    lastHeartbeatTime: heartbeat,
    lastTransitionTime: transition,
  });
  return [
    pressure("MemoryPressure", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
    pressure("DiskPressure", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    pressure("PIDPressure", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
    {
      type: "Ready",
      status: ready ? "True" : "Unknown",
      reason: ready ? "KubeletReady" : "NodeStatusUnknown",
      message: ready ? "kubelet is posting ready status" : "Kubelet stopped posting node status.",
      lastHeartbeatTime: heartbeat,
      lastTransitionTime: transition,
    },
  ];
}
