import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  CoordinationV1Api,
  CoreV1Api,
  PatchStrategy,
  Watch,
  setHeaderOptions,
  type V1Pod,
  type V1PodCondition,
} from "@kubernetes/client-node";
import { eventually, tempDir } from "@flotilla/testing";
import { startApiServer, type ApiServerHandle } from "../index.js";
import { kubeConfigFor } from "./api.js";
import { Annotations } from "./annotations.js";
import { InvalidKubeletOptionsError, KubeletTargetNotFoundError, type Kubelet } from "./kubelet.js";
import { startKubelet } from "./kubelet-thread.js";
import type { NodeSpec } from "./node-spec.js";

const WAIT = { timeout: 15_000, interval: 25 };

interface Cluster {
  server: ApiServerHandle;
  kubelet: Kubelet;
  core: CoreV1Api;
  coordination: CoordinationV1Api;
  workDir: string;
  stop(): Promise<void>;
}

async function startTestCluster(
  name: string,
  mode: "process" | "simulated",
  nodes?: NodeSpec[],
  heartbeatMs?: number,
  thread = false,
): Promise<Cluster> {
  const server = await startApiServer({ name });
  const dir = tempDir({ prefix: `kubelet-${name}-` });
  const kubelet = await startKubelet({
    server: server.url,
    clusterName: name,
    mode,
    workDir: dir.path,
    tickMs: 20,
    restartBackoffMs: 100,
    ...(heartbeatMs ? { heartbeatMs } : {}),
    thread,
    ...(nodes ? { nodes } : {}),
  });
  const kc = kubeConfigFor(server.url, name);
  return {
    server,
    kubelet,
    core: kc.makeApiClient(CoreV1Api),
    coordination: kc.makeApiClient(CoordinationV1Api),
    workDir: dir.path,
    stop: async () => {
      await kubelet.stop();
      await server.stop();
      await dir.cleanup();
    },
  };
}

/** A pod builder that reads as a sentence: aPod("x").running("sh", "-c", "exit 0").obj(). */
function aPod(name: string) {
  const pod: V1Pod = {
    metadata: { name, namespace: "default", annotations: {} },
    spec: { restartPolicy: "Never", containers: [{ name: "main", image: "busybox:1.36" }] },
  };
  const main = () => {
    const c = pod.spec?.containers[0];
    if (!c) throw new Error("no container");
    return c;
  };
  const builder = {
    running(...command: string[]) {
      main().command = command;
      return builder;
    },
    annotated(key: string, value: string) {
      pod.metadata = { ...pod.metadata, annotations: { ...pod.metadata?.annotations, [key]: value } };
      return builder;
    },
    simulated(duration: string) {
      return builder.annotated(Annotations.mode, "simulated").annotated(Annotations.duration, duration);
    },
    requesting(cpu: string) {
      main().resources = { requests: { cpu } };
      return builder;
    },
    withImage(image: string) {
      main().image = image;
      return builder;
    },
    withFinalizer(finalizer: string) {
      pod.metadata = { ...pod.metadata, finalizers: [finalizer] };
      return builder;
    },
    restarting(policy: "Always" | "OnFailure") {
      if (pod.spec) pod.spec.restartPolicy = policy;
      return builder;
    },
    withGracePeriod(seconds: number) {
      if (pod.spec) pod.spec.terminationGracePeriodSeconds = seconds;
      return builder;
    },
    obj: () => pod,
  };
  return builder;
}

async function readPod(c: Cluster, name: string): Promise<V1Pod> {
  return c.core.readNamespacedPod({ name, namespace: "default" });
}

async function podIn(c: Cluster, name: string, phase: string): Promise<V1Pod> {
  return eventually(async () => {
    const pod = await readPod(c, name);
    assert.equal(pod.status?.phase, phase, `pod ${name} phase`);
    return pod;
  }, WAIT);
}

function condition(pod: V1Pod, type: string): V1PodCondition | undefined {
  return pod.status?.conditions?.find((cond) => cond.type === type);
}

async function podGone(c: Cluster, name: string): Promise<void> {
  await eventually(async () => {
    const exists = await readPod(c, name).then(
      () => true,
      () => false,
    );
    assert.equal(exists, false, `pod ${name} still exists`);
  }, WAIT);
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("kubelet in process mode", () => {
  let c: Cluster;
  before(async () => {
    c = await startTestCluster("east", "process");
  });
  after(() => c.stop());

  it("registers ready nodes with labels, a tainted spot node and leases", async () => {
    const nodes = await c.core.listNode();
    assert.deepEqual(
      nodes.items.map((n) => n.metadata?.name),
      ["east-node-1", "east-node-2", "east-node-3"],
    );
    const spot = nodes.items[2];
    assert.equal(spot?.metadata?.labels?.["flotilla.io/capacity-type"], "spot");
    assert.ok(spot?.metadata?.labels?.["topology.kubernetes.io/zone"]);
    assert.ok(spot?.metadata?.labels?.["node.kubernetes.io/instance-type"]);
    assert.deepEqual(
      spot?.spec?.taints?.map((t) => `${t.key}=${t.value}:${t.effect}`),
      ["flotilla.io/capacity-type=spot:NoSchedule"],
    );
    for (const n of nodes.items) {
      assert.equal(n.status?.conditions?.find((x) => x.type === "Ready")?.status, "True");
      assert.equal(n.status?.allocatable?.cpu, "8");
    }
    const lease = await c.coordination.readNamespacedLease({
      name: "east-node-1",
      namespace: "kube-node-lease",
    });
    assert.equal(lease.spec?.holderIdentity, "east-node-1");
  });

  it("runs a succeeding process pod to Succeeded with its log", async () => {
    await c.core.createNamespacedPod({
      namespace: "default",
      body: aPod("ok").running("sh", "-c", "echo hello from $HOSTNAME").obj(),
    });
    const pod = await podIn(c, "ok", "Succeeded");
    const term = pod.status?.containerStatuses?.[0]?.state?.terminated;
    assert.equal(term?.exitCode, 0);
    assert.equal(term?.reason, "Completed");
    assert.ok(term?.startedAt && term.finishedAt);
    assert.ok(
      pod.spec?.nodeName === "east-node-1" || pod.spec?.nodeName === "east-node-2",
      "never on the tainted spot node",
    );
    assert.ok(pod.status?.hostIP && pod.status.podIP && pod.status.startTime);
    assert.equal(condition(pod, "Ready")?.reason, "PodCompleted");
    assert.equal(await c.core.readNamespacedPodLog({ name: "ok", namespace: "default" }), "hello from ok\n");
  });

  it("fails a process pod with its exit code, reason Error, and keeps its output", async () => {
    await c.core.createNamespacedPod({
      namespace: "default",
      body: aPod("bad").running("sh", "-c", "echo hi; exit 3").obj(),
    });
    const pod = await podIn(c, "bad", "Failed");
    const term = pod.status?.containerStatuses?.[0]?.state?.terminated;
    assert.equal(term?.exitCode, 3);
    assert.equal(term?.reason, "Error");
    assert.equal(await c.core.readNamespacedPodLog({ name: "bad", namespace: "default" }), "hi\n");
  });

  it("reports Running with a ready container while the process runs", async () => {
    await c.core.createNamespacedPod({
      namespace: "default",
      body: aPod("runner").running("sleep", "30").obj(),
    });
    const pod = await podIn(c, "runner", "Running");
    const status = pod.status?.containerStatuses?.[0];
    assert.equal(status?.ready, true);
    assert.ok(status?.state?.running?.startedAt);
    assert.equal(condition(pod, "Ready")?.status, "True");
    assert.equal(condition(pod, "ContainersReady")?.status, "True");
  });

  it("reports a missing executable as StartError", async () => {
    await c.core.createNamespacedPod({
      namespace: "default",
      body: aPod("noexec").running("no-such-binary-xyz").obj(),
    });
    const pod = await podIn(c, "noexec", "Failed");
    const term = pod.status?.containerStatuses?.[0]?.state?.terminated;
    assert.equal(term?.reason, "StartError");
    assert.equal(term?.exitCode, 128);
  });

  it("kills the whole process tree when a running pod is deleted, then removes the pod", async () => {
    const script = "trap '' TERM; sleep 300 & echo child=$!; echo leader=$$$$; wait";
    await c.core.createNamespacedPod({
      namespace: "default",
      body: aPod("victim").running("sh", "-c", script).withGracePeriod(1).obj(),
    });
    await podIn(c, "victim", "Running");
    const log = await eventually(async () => {
      const text = await c.core.readNamespacedPodLog({ name: "victim", namespace: "default" });
      assert.match(text, /child=\d+\nleader=\d+/);
      return text;
    }, WAIT);
    const child = Number(/child=(\d+)/.exec(log)?.[1]);
    const leader = Number(/leader=(\d+)/.exec(log)?.[1]);
    assert.ok(pidAlive(child) && pidAlive(leader));
    await c.core.deleteNamespacedPod({ name: "victim", namespace: "default" });
    await podGone(c, "victim");
    assert.equal(pidAlive(leader), false, "container process survived deletion");
    await eventually(() => assert.equal(pidAlive(child), false, "child process orphaned"), WAIT);
  });

  it("lets a pod choose simulated mode by annotation", async () => {
    await c.core.createNamespacedPod({
      namespace: "default",
      body: aPod("sim").simulated("50ms").annotated(Annotations.log, "simulated!").obj(),
    });
    await podIn(c, "sim", "Succeeded");
    assert.equal(await c.core.readNamespacedPodLog({ name: "sim", namespace: "default" }), "simulated!\n");
  });
});

// This suite runs the kubelet in a worker thread: every fault below crosses the thread boundary.
describe("kubelet in simulated mode (worker thread)", () => {
  let c: Cluster;
  before(async () => {
    c = await startTestCluster("west", "simulated", [{ name: "west-small", cpu: "1" }], 100, true);
  });
  after(() => c.stop());

  it("heartbeats through the node lease and the node's Ready condition", async () => {
    const heartbeat = async () => {
      const lease = await c.coordination.readNamespacedLease({
        name: "west-small",
        namespace: "kube-node-lease",
      });
      const node = await c.core.readNode({ name: "west-small" });
      const ready = node.status?.conditions?.find((x) => x.type === "Ready");
      // client-node leaves MicroTime as a string; Time fields become Dates.
      const time = (t: unknown) => (t === undefined ? 0 : new Date(t as string | Date).getTime());
      return { renew: time(lease.spec?.renewTime), ready: time(ready?.lastHeartbeatTime) };
    };
    const first = await heartbeat();
    await eventually(async () => {
      const later = await heartbeat();
      assert.ok(later.renew > first.renew, "lease renewed");
      assert.ok(later.ready > first.ready, "Ready heartbeat refreshed");
    }, WAIT);
  });

  it("goes Pending → Running → Succeeded over the annotated duration", async () => {
    const created = Date.now();
    await c.core.createNamespacedPod({ namespace: "default", body: aPod("timed").simulated("1200ms").obj() });
    const running = await podIn(c, "timed", "Running");
    assert.equal(running.spec?.nodeName, "west-small");
    await podIn(c, "timed", "Succeeded");
    assert.ok(Date.now() - created >= 1100, "finished before its duration");
  });

  it("reports a simulated pod Running in its first status patch (never Pending first), then its end", async () => {
    // Every write reaches a watcher, so the watch sees each status the kubelet patched; the
    // resource-usage annotation written before the end is a metadata write with the same status,
    // so consecutive equal statuses count once.
    const statuses: string[] = [];
    const watch = new Watch(kubeConfigFor(c.server.url, "west"));
    const req = await watch.watch(
      "/api/v1/namespaces/default/pods",
      { fieldSelector: "metadata.name=two-patches" },
      (type, obj: V1Pod) => {
        const state = obj.status?.containerStatuses?.[0]?.state;
        if (type !== "MODIFIED" || !state) return;
        const status = `${obj.status?.phase}/${Object.keys(state).join()}/${state.waiting?.reason ?? ""}`;
        if (statuses.at(-1) !== status) statuses.push(status);
      },
      () => {},
    );
    try {
      await c.core.createNamespacedPod({
        namespace: "default",
        body: aPod("two-patches").simulated("300ms").obj(),
      });
      await podIn(c, "two-patches", "Succeeded");
      await eventually(() => assert.deepEqual(statuses, ["Running/running/", "Succeeded/terminated/"]), WAIT);
    } finally {
      req.abort();
    }
  });

  it("keeps retrying status and log writes through transient API errors", async (t) => {
    t.after(() => c.server.faults.reset());
    c.server.faults.setErrorRate(0.5, { code: 503, verbs: ["patch", "update"], resources: ["pods"] });
    const names = ["flaky-1", "flaky-2", "flaky-3", "flaky-4"];
    for (const name of names) {
      await c.core.createNamespacedPod({
        namespace: "default",
        body: aPod(name).simulated("100ms").annotated(Annotations.log, `${name} done`).obj(),
      });
    }
    for (const name of names) await podIn(c, name, "Succeeded");
    c.server.faults.reset();
    for (const name of names) {
      assert.equal(await c.core.readNamespacedPodLog({ name, namespace: "default" }), `${name} done\n`);
    }
  });

  it("fails with the annotated exit code", async () => {
    await c.core.createNamespacedPod({
      namespace: "default",
      body: aPod("sim-fail")
        .simulated("10ms")
        .annotated(Annotations.outcome, "fail")
        .annotated(Annotations.exitCode, "5")
        .obj(),
    });
    const pod = await podIn(c, "sim-fail", "Failed");
    assert.deepEqual(
      [
        pod.status?.containerStatuses?.[0]?.state?.terminated?.exitCode,
        pod.status?.containerStatuses?.[0]?.state?.terminated?.reason,
      ],
      [5, "Error"],
    );
  });

  it("rejects faults aimed at pods it does not run with a typed error", async () => {
    await assert.rejects(
      c.kubelet.faults.oomKill("default", "no-such-pod"),
      (e: unknown) => e instanceof KubeletTargetNotFoundError && e.kind === "pod",
    );
  });

  it("OOM-kills by annotation and by fault injection", async () => {
    await c.core.createNamespacedPod({
      namespace: "default",
      body: aPod("oom-a").simulated("10ms").annotated(Annotations.outcome, "oom").obj(),
    });
    await c.core.createNamespacedPod({ namespace: "default", body: aPod("oom-b").simulated("10m").obj() });
    for (const name of ["oom-a", "oom-b"]) {
      if (name === "oom-b") {
        await podIn(c, name, "Running");
        await c.kubelet.faults.oomKill("default", name);
      }
      const pod = await podIn(c, name, "Failed");
      const term = pod.status?.containerStatuses?.[0]?.state?.terminated;
      assert.deepEqual([term?.exitCode, term?.reason], [137, "OOMKilled"], name);
    }
  });

  it("keeps a pod that fits nowhere Pending/Unschedulable and schedules it once capacity frees", async () => {
    await c.core.createNamespacedPod({
      namespace: "default",
      body: aPod("hog").simulated("10m").requesting("1").obj(),
    });
    await podIn(c, "hog", "Running");
    await c.core.createNamespacedPod({
      namespace: "default",
      body: aPod("waiter").simulated("10m").requesting("500m").obj(),
    });
    const waiting = await eventually(async () => {
      const pod = await readPod(c, "waiter");
      assert.equal(condition(pod, "PodScheduled")?.status, "False");
      return pod;
    }, WAIT);
    assert.equal(waiting.status?.phase, "Pending");
    assert.equal(condition(waiting, "PodScheduled")?.reason, "Unschedulable");
    assert.equal(condition(waiting, "PodScheduled")?.message, "0/1 nodes are available: 1 Insufficient cpu.");
    assert.equal(waiting.spec?.nodeName, undefined);
    await c.core.deleteNamespacedPod({ name: "hog", namespace: "default" });
    const scheduled = await podIn(c, "waiter", "Running");
    assert.equal(scheduled.spec?.nodeName, "west-small");
    assert.equal(condition(scheduled, "PodScheduled")?.status, "True");
    await c.core.deleteNamespacedPod({ name: "waiter", namespace: "default" });
    await podGone(c, "waiter");
  });

  it("reports image pull errors and keeps the pod Pending", async () => {
    await c.core.createNamespacedPod({
      namespace: "default",
      body: aPod("pull").simulated("10ms").withImage("registry.local/does-not-exist:v1").obj(),
    });
    const seen = new Set<string>();
    await eventually(async () => {
      const pod = await readPod(c, "pull");
      const reason = pod.status?.containerStatuses?.[0]?.state?.waiting?.reason;
      if (reason) seen.add(reason);
      assert.equal(pod.status?.phase, "Pending");
      assert.equal(reason, "ImagePullBackOff");
    }, WAIT);
    assert.ok(seen.has("ImagePullBackOff"));
    c.kubelet.faults.failImagePulls("busybox:broken");
    await c.core.createNamespacedPod({
      namespace: "default",
      body: aPod("pull2").simulated("10ms").withImage("busybox:broken").obj(),
    });
    await eventually(async () => {
      const reason = (await readPod(c, "pull2")).status?.containerStatuses?.[0]?.state?.waiting?.reason;
      assert.ok(reason === "ErrImagePull" || reason === "ImagePullBackOff", String(reason));
    }, WAIT);
    await c.core.deleteNamespacedPod({ name: "pull", namespace: "default" });
    await c.core.deleteNamespacedPod({ name: "pull2", namespace: "default" });
    await podGone(c, "pull");
  });

  it("marks preempted pods with DisruptionTarget", async () => {
    await c.core.createNamespacedPod({
      namespace: "default",
      body: aPod("spot").simulated("10ms").annotated(Annotations.outcome, "preempt").obj(),
    });
    const byKubelet = await podIn(c, "spot", "Failed");
    assert.equal(condition(byKubelet, "DisruptionTarget")?.reason, "TerminationByKubelet");
    assert.equal(byKubelet.status?.reason, "Terminated");

    await c.core.createNamespacedPod({
      namespace: "default",
      body: aPod("victim").simulated("10m").withFinalizer("flotilla.io/test").obj(),
    });
    await podIn(c, "victim", "Running");
    await c.kubelet.faults.preempt("default", "victim");
    const victim = await podIn(c, "victim", "Failed");
    assert.equal(condition(victim, "DisruptionTarget")?.reason, "PreemptionByScheduler");
    assert.ok(victim.metadata?.deletionTimestamp, "a scheduler victim is deleted");
    await c.core.patchNamespacedPod(
      { name: "victim", namespace: "default", body: [{ op: "remove", path: "/metadata/finalizers" }] },
      setHeaderOptions("Content-Type", PatchStrategy.JsonPatch),
    );
    await podGone(c, "victim");
  });

  it("restarts OnFailure/Always containers with back-off, counting restarts and keeping the last exit", async () => {
    await c.core.createNamespacedPod({
      namespace: "default",
      body: aPod("crashy")
        .simulated("10ms")
        .annotated(Annotations.exitCode, "2")
        .restarting("OnFailure")
        .obj(),
    });
    const crashing = await eventually(async () => {
      const pod = await readPod(c, "crashy");
      assert.ok((pod.status?.containerStatuses?.[0]?.restartCount ?? 0) >= 2, "restarted at least twice");
      return pod;
    }, WAIT);
    assert.equal(crashing.status?.phase, "Running", "a restarting pod is not terminal");
    const status = crashing.status?.containerStatuses?.[0];
    assert.equal(status?.lastState?.terminated?.exitCode, 2);
    assert.equal(status?.lastState?.terminated?.reason, "Error");

    await c.core.createNamespacedPod({
      namespace: "default",
      body: aPod("ok-once").simulated("10ms").restarting("OnFailure").obj(),
    });
    const done = await podIn(c, "ok-once", "Succeeded");
    assert.equal(done.status?.containerStatuses?.[0]?.restartCount, 0);

    await c.core.deleteNamespacedPod({ name: "crashy", namespace: "default" });
    await podGone(c, "crashy");
  });

  it("fails the pods of a lost node with NodeLost and stops scheduling there until it returns", async () => {
    await c.core.createNamespacedPod({ namespace: "default", body: aPod("stranded").simulated("10m").obj() });
    await podIn(c, "stranded", "Running");
    await c.kubelet.faults.loseNode("west-small");
    const pod = await podIn(c, "stranded", "Failed");
    assert.equal(pod.status?.reason, "NodeLost");
    assert.equal(condition(pod, "DisruptionTarget")?.status, "True");
    assert.equal(pod.status?.containerStatuses?.[0]?.state?.terminated?.reason, "ContainerStatusUnknown");
    const node = await c.core.readNode({ name: "west-small" });
    assert.equal(node.status?.conditions?.find((x) => x.type === "Ready")?.status, "Unknown");
    assert.ok(
      node.spec?.taints?.some((t) => t.key === "node.kubernetes.io/unreachable" && t.effect === "NoExecute"),
    );

    await c.core.createNamespacedPod({ namespace: "default", body: aPod("later").simulated("10ms").obj() });
    await eventually(async () => {
      const p = await readPod(c, "later");
      assert.match(
        condition(p, "PodScheduled")?.message ?? "",
        /untolerated taint \{node\.kubernetes\.io\/unreachable: \}/,
      );
    }, WAIT);
    await c.kubelet.faults.restoreNode("west-small");
    await podIn(c, "later", "Succeeded");
  });

  it("follows the node: a cordon stops scheduling, the fault annotation loses and restores it", async () => {
    const mergePatch = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);
    await c.core.patchNode({ name: "west-small", body: { spec: { unschedulable: true } } }, mergePatch);
    await c.core.createNamespacedPod({
      namespace: "default",
      body: aPod("cordoned").simulated("10ms").obj(),
    });
    await eventually(async () => {
      const p = await readPod(c, "cordoned");
      assert.equal(
        condition(p, "PodScheduled")?.message,
        "0/1 nodes are available: 1 node(s) were unschedulable.",
      );
    }, WAIT);
    await c.core.patchNode({ name: "west-small", body: { spec: { unschedulable: null } } }, mergePatch);
    await podIn(c, "cordoned", "Succeeded");

    const ready = async () =>
      (await c.core.readNode({ name: "west-small" })).status?.conditions?.find((x) => x.type === "Ready")
        ?.status;
    await c.core.patchNode(
      { name: "west-small", body: { metadata: { annotations: { [Annotations.nodeFault]: "lost" } } } },
      mergePatch,
    );
    await eventually(async () => assert.equal(await ready(), "Unknown"), WAIT);
    await c.core.patchNode(
      { name: "west-small", body: { metadata: { annotations: { [Annotations.nodeFault]: null } } } },
      mergePatch,
    );
    await eventually(async () => assert.equal(await ready(), "True"), WAIT);
  });
});

describe("kubelet options", () => {
  it("refuses duplicate or missing nodes before touching the API server", async () => {
    const base = {
      server: "http://127.0.0.1:1",
      clusterName: "bad",
      mode: "simulated" as const,
      workDir: "/tmp",
    };
    await assert.rejects(
      startKubelet({ ...base, nodes: [{ name: "n" }, { name: "n" }] }),
      (e: unknown) => e instanceof InvalidKubeletOptionsError && e.option === "nodes",
    );
    await assert.rejects(startKubelet({ ...base, nodes: [] }), InvalidKubeletOptionsError);
    await assert.rejects(
      startKubelet({ ...base, nodes: [], thread: true }),
      (e: unknown) => e instanceof InvalidKubeletOptionsError && e.option === "nodes",
      "typed errors cross the thread boundary",
    );
  });
});
