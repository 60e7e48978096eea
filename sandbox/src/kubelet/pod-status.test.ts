import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { V1Pod } from "@kubernetes/client-node";
import { qosClass, renderPodStatus, terminalPhase, exitWithCode } from "./pod-status.js";

const pod: V1Pod = {
  metadata: { name: "p", namespace: "ns", uid: "uid-1" },
  spec: {
    containers: [
      {
        name: "main",
        image: "busybox",
        resources: { requests: { cpu: "1", memory: "1Gi" }, limits: { cpu: "1", memory: "1Gi" } },
      },
    ],
  },
};
const base = {
  hostIP: "127.0.1.1",
  podIP: "127.100.0.1",
  startTime: new Date("2026-01-01T00:00:00Z"),
  runtime: "sandbox-simulated",
};

describe("renderPodStatus", () => {
  it("renders a creating pod as Pending/ContainerCreating and not ready", () => {
    const s = renderPodStatus(
      pod,
      { ...base, phase: "Pending", containers: [{ kind: "waiting", reason: "ContainerCreating" }] },
      new Date(),
    );
    assert.equal(s.phase, "Pending");
    assert.deepEqual(s.containerStatuses?.[0]?.state, { waiting: { reason: "ContainerCreating" } });
    const ready = s.conditions?.find((c) => c.type === "Ready");
    assert.equal(ready?.status, "False");
    assert.equal(ready?.reason, "ContainersNotReady");
    assert.equal(ready?.message, "containers with unready status: [main]");
    assert.equal(s.conditions?.find((c) => c.type === "PodScheduled")?.status, "True");
    assert.equal(s.qosClass, "Guaranteed");
  });

  it("renders a running pod as ready with IPs and startedAt", () => {
    const startedAt = new Date("2026-01-01T00:00:01Z");
    const s = renderPodStatus(
      pod,
      { ...base, phase: "Running", containers: [{ kind: "running", startedAt }] },
      new Date(),
    );
    assert.equal(s.phase, "Running");
    assert.equal(s.podIP, "127.100.0.1");
    assert.equal(s.hostIP, "127.0.1.1");
    const c = s.containerStatuses?.[0];
    assert.equal(c?.ready, true);
    assert.equal(c?.started, true);
    assert.equal(c?.containerID, "sandbox-simulated://uid-1/main");
    assert.deepEqual(c?.state?.running, { startedAt });
    for (const type of ["Ready", "ContainersReady", "PodReadyToStartContainers"]) {
      assert.equal(s.conditions?.find((x) => x.type === type)?.status, "True", type);
    }
  });

  it("renders a terminated container and keeps transition times of unchanged conditions", () => {
    const t0 = new Date("2026-01-01T00:00:00Z");
    const first = renderPodStatus(
      pod,
      { ...base, phase: "Pending", containers: [{ kind: "waiting", reason: "ContainerCreating" }] },
      t0,
    );
    const later = new Date("2026-01-01T00:05:00Z");
    const s = renderPodStatus(
      { ...pod, status: first },
      {
        ...base,
        phase: "Failed",
        containers: [{ kind: "terminated", exit: exitWithCode(3), startedAt: t0, finishedAt: later }],
      },
      later,
    );
    assert.deepEqual(s.containerStatuses?.[0]?.state?.terminated, {
      exitCode: 3,
      reason: "Error",
      startedAt: t0,
      finishedAt: later,
      containerID: "sandbox-simulated://uid-1/main",
    });
    const ready = s.conditions?.find((c) => c.type === "Ready");
    assert.equal(ready?.reason, "PodFailed");
    assert.deepEqual(ready?.lastTransitionTime, t0, "Ready stayed False: transition time is kept");
  });
});

describe("restarted containers", () => {
  it("report their restart count, last termination with the previous run's ID, and back-off", () => {
    const t0 = new Date("2026-01-01T00:00:00Z");
    const t1 = new Date("2026-01-01T00:00:05Z");
    const s = renderPodStatus(
      pod,
      {
        ...base,
        phase: "Running",
        containers: [{ kind: "waiting", reason: "CrashLoopBackOff", message: "back-off 10s" }],
        restartCount: 2,
        lastTermination: { exit: exitWithCode(1), startedAt: t0, finishedAt: t1 },
      },
      t1,
    );
    const c = s.containerStatuses?.[0];
    assert.equal(c?.restartCount, 2);
    assert.equal(c?.ready, false);
    assert.deepEqual(c?.state, { waiting: { reason: "CrashLoopBackOff", message: "back-off 10s" } });
    assert.deepEqual(c?.lastState?.terminated, {
      exitCode: 1,
      reason: "Error",
      startedAt: t0,
      finishedAt: t1,
      containerID: "sandbox-simulated://uid-1/main-1",
    });
  });
});

describe("pod phase and QoS", () => {
  it("derives Never-restart terminal phases", () => {
    assert.equal(terminalPhase([exitWithCode(0)]), "Succeeded");
    assert.equal(terminalPhase([exitWithCode(0), exitWithCode(1)]), "Failed");
  });
  it("classifies QoS", () => {
    assert.equal(qosClass({ spec: { containers: [{ name: "a" }] } }), "BestEffort");
    assert.equal(
      qosClass({ spec: { containers: [{ name: "a", resources: { requests: { cpu: "1" } } }] } }),
      "Burstable",
    );
  });
});
