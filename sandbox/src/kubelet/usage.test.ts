import assert from "node:assert/strict";
import { test } from "node:test";
import type { V1Pod } from "@kubernetes/client-node";
import { simulatedUsage } from "./usage.js";

const pod = (name: string, requests: Record<string, string>, limits?: Record<string, string>): V1Pod => ({
  metadata: { name },
  spec: {
    containers: [{ name: "task", image: "x", resources: { requests, ...(limits ? { limits } : {}) } }],
  },
});

test("simulated usage is a plausible, stable fraction of the requests", () => {
  for (let i = 0; i < 200; i++) {
    const p = pod(`run-${i}-t-0`, { cpu: "2", memory: "4Gi", "nvidia.com/gpu": "1" });
    const u = simulatedUsage(p);
    assert.ok(u.cpuCores >= 0.6 && u.cpuCores <= 1.8, `cpu ${u.cpuCores}`);
    assert.ok(
      u.memoryBytes >= Math.floor(0.4 * 4 * 2 ** 30) && u.memoryBytes <= Math.ceil(0.95 * 4 * 2 ** 30),
      `memory ${u.memoryBytes}`,
    );
    assert.equal(u.gpus, 1);
    assert.deepEqual(simulatedUsage(p), u, "the same pod reports the same usage");
  }
  assert.notDeepEqual(
    simulatedUsage(pod("a", { cpu: "1", memory: "1Gi" })),
    simulatedUsage(pod("b", { cpu: "1", memory: "1Gi" })),
  );
  assert.deepEqual(simulatedUsage(pod("none", {})), { cpuCores: 0, memoryBytes: 0, gpus: 0 });
  assert.ok(
    simulatedUsage(pod("lim", {}, { cpu: "1" })).cpuCores > 0,
    "limits stand in for missing requests",
  );
});
