import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { V1Container, V1Pod, V1PodSpec } from "@kubernetes/client-node";
import { buildNode, defaultNodeSpecs, resolveNodeSpec, type NodeSpec } from "./node-spec.js";
import { podRequests, schedulePod, tolerates, type NodeUsage } from "./scheduler.js";

function usageAt(cluster: NodeUsage[], i: number): NodeUsage {
  const usage = cluster[i];
  if (!usage) throw new Error(`no node ${i}`);
  return usage;
}

function nodes(specs: NodeSpec[]): NodeUsage[] {
  return specs.map((s, i) => ({
    node: buildNode("east", resolveNodeSpec("east", s, i), new Date()),
    requested: new Map(),
    pods: 0,
  }));
}

function aPod(): PodBuilder {
  return new PodBuilder();
}

class PodBuilder {
  private readonly container: V1Container = { name: "main", image: "busybox" };
  private readonly spec: V1PodSpec = { containers: [this.container] };
  private readonly pod: V1Pod = { metadata: { name: "p", namespace: "ns" }, spec: this.spec };
  requesting(resources: Record<string, string>): this {
    this.container.resources = { requests: resources };
    return this;
  }
  limitedTo(resources: Record<string, string>): this {
    this.container.resources = { limits: resources };
    return this;
  }
  withNodeSelector(selector: Record<string, string>): this {
    this.spec.nodeSelector = selector;
    return this;
  }
  toleratingSpot(): this {
    this.spec.tolerations = [
      { key: "flotilla.io/capacity-type", operator: "Equal", value: "spot", effect: "NoSchedule" },
    ];
    return this;
  }
  withRequiredAffinity(key: string, operator: string, values: string[]): this {
    this.spec.affinity = {
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [{ matchExpressions: [{ key, operator, values }] }],
        },
      },
    };
    return this;
  }
  obj(): V1Pod {
    return this.pod;
  }
}

describe("schedulePod", () => {
  it("spreads pods to the least allocated untainted node", () => {
    const cluster = nodes(defaultNodeSpecs("east"));
    usageAt(cluster, 0).requested.set("cpu", 4000);
    const result = schedulePod(aPod().requesting({ cpu: "1" }).obj(), cluster);
    assert.deepEqual(result, { scheduled: true, nodeName: "east-node-2" });
  });

  it("keeps pods off the tainted spot node unless they tolerate it", () => {
    const cluster = nodes([{ name: "spot-1", capacityType: "spot" }]);
    const refused = schedulePod(aPod().obj(), cluster);
    assert.deepEqual(refused, {
      scheduled: false,
      message: "0/1 nodes are available: 1 node(s) had untolerated taint {flotilla.io/capacity-type: spot}.",
    });
    assert.deepEqual(schedulePod(aPod().toleratingSpot().obj(), cluster), {
      scheduled: true,
      nodeName: "spot-1",
    });
  });

  it("reports insufficient resources per node like kube-scheduler", () => {
    const cluster = nodes([{ name: "a" }, { name: "b" }, { name: "c" }]);
    const result = schedulePod(aPod().requesting({ cpu: "9" }).obj(), cluster);
    assert.deepEqual(result, { scheduled: false, message: "0/3 nodes are available: 3 Insufficient cpu." });
  });

  it("counts already placed requests and mixes reasons in sorted order", () => {
    const cluster = nodes([{ name: "a" }, { name: "b" }, { name: "s", capacityType: "spot" }]);
    usageAt(cluster, 0).requested.set("cpu", 7500);
    usageAt(cluster, 1).requested.set("memory", 32 * 2 ** 30);
    const result = schedulePod(aPod().requesting({ cpu: "1", memory: "1Gi" }).obj(), cluster);
    assert.deepEqual(result, {
      scheduled: false,
      message:
        "0/3 nodes are available: 1 Insufficient cpu, 1 Insufficient memory, 1 node(s) had untolerated taint {flotilla.io/capacity-type: spot}.",
    });
  });

  it("uses limits as requests when requests are absent, and schedules GPUs only where advertised", () => {
    const cluster = nodes([{ name: "cpu-only" }, { name: "gpu", gpus: 2 }]);
    const pod = aPod().limitedTo({ "nvidia.com/gpu": "1" }).obj();
    assert.equal(podRequests(pod).get("nvidia.com/gpu"), 1);
    assert.deepEqual(schedulePod(pod, cluster), { scheduled: true, nodeName: "gpu" });
    usageAt(cluster, 1).requested.set("nvidia.com/gpu", 2);
    assert.deepEqual(schedulePod(pod, cluster), {
      scheduled: false,
      message: "0/2 nodes are available: 2 Insufficient nvidia.com/gpu.",
    });
  });

  it("enforces the pod count limit", () => {
    const cluster = nodes([{ name: "small", pods: 1 }]);
    usageAt(cluster, 0).pods = 1;
    assert.deepEqual(schedulePod(aPod().obj(), cluster), {
      scheduled: false,
      message: "0/1 nodes are available: 1 Too many pods.",
    });
  });

  it("honours nodeSelector and required node affinity", () => {
    const cluster = nodes([
      { name: "a", zone: "z1" },
      { name: "b", zone: "z2", labels: { tier: "7" } },
    ]);
    assert.deepEqual(
      schedulePod(aPod().withNodeSelector({ "topology.kubernetes.io/zone": "z2" }).obj(), cluster),
      {
        scheduled: true,
        nodeName: "b",
      },
    );
    assert.deepEqual(
      schedulePod(aPod().withRequiredAffinity("topology.kubernetes.io/zone", "NotIn", ["z2"]).obj(), cluster),
      {
        scheduled: true,
        nodeName: "a",
      },
    );
    assert.deepEqual(schedulePod(aPod().withRequiredAffinity("tier", "Gt", ["5"]).obj(), cluster), {
      scheduled: true,
      nodeName: "b",
    });
    assert.deepEqual(schedulePod(aPod().withNodeSelector({ gpu: "yes" }).obj(), cluster), {
      scheduled: false,
      message: "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector.",
    });
  });

  it("skips cordoned nodes", () => {
    const cluster = nodes([{ name: "a" }]);
    const node = usageAt(cluster, 0).node;
    node.spec = { ...node.spec, unschedulable: true };
    assert.deepEqual(schedulePod(aPod().obj(), cluster), {
      scheduled: false,
      message: "0/1 nodes are available: 1 node(s) were unschedulable.",
    });
  });
});

describe("tolerates", () => {
  it("follows Kubernetes toleration matching", () => {
    const taint = { key: "k", value: "v", effect: "NoSchedule" };
    assert.equal(tolerates([{ operator: "Exists" }], taint), true);
    assert.equal(tolerates([{ key: "k", operator: "Exists" }], taint), true);
    assert.equal(tolerates([{ key: "k", value: "v" }], taint), true);
    assert.equal(tolerates([{ key: "k", value: "w" }], taint), false);
    assert.equal(tolerates([{ key: "k", operator: "Exists", effect: "NoExecute" }], taint), false);
    assert.equal(tolerates(undefined, taint), false);
  });
});
