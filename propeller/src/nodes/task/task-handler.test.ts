import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  ExecutionError_Kind,
  NodeExecution_Phase,
  SimpleType,
  TaskExecution_Phase,
  type TaskTemplate,
} from "@flotilla/proto";
import { formatResourceUsage, RESOURCE_USAGE_ANNOTATION } from "@flotilla/common";
import { aTask, aWorkflow, anExecutionSpec, fromInput } from "../../testing/builders.js";
import { ExecutorHarness } from "../../testing/executor-harness.js";
import { FakeTokens } from "../../testing/fakes.js";
import { DEFAULT_EXECUTOR_CONFIG, type PodCreateResult } from "../../workflow/ports.js";

const T0 = new Date("2030-01-01T00:00:00Z");

/** An execution `name` of one task node `t` running `task`, its clock at {@link T0}. */
function oneTask(name: string, task: TaskTemplate, tokens?: Record<string, number>): ExecutorHarness {
  const h = new ExecutorHarness(
    anExecutionSpec({ name, closure: aWorkflow("w").withNode("t", task).closure(), blobRoot: "mem://b" }),
  );
  if (tokens) h.tokens = new FakeTokens(tokens);
  h.now = T0;
  return h;
}

/** The events emitted so far, one line each: `node PHASE reason` or `task#attempt PHASE reason`. */
function eventLines(h: ExecutorHarness): string[] {
  return h.events.flatMap((e) => {
    if (e.event.case === "nodeEvent" && e.event.value.id?.nodeId === "t")
      return [`node ${NodeExecution_Phase[e.event.value.phase]} ${e.event.value.reason}`];
    if (e.event.case === "taskEvent")
      return [
        `task#${e.event.value.id?.retryAttempt} ${TaskExecution_Phase[e.event.value.phase]} ${e.event.value.reason}`,
      ];
    return [];
  });
}

/** How node `t` stands: its phase and, once an attempt failed, that error (`FAILED USER/InvalidTask`). */
function outcome(h: ExecutorHarness): string {
  const ns = h.node("t");
  const err = ns.error ? ` ${ExecutionError_Kind[ns.error.kind]}/${ns.error.code}` : "";
  return `${NodeExecution_Phase[ns.phase]}${err}`;
}

/** Events of a node waiting for `reason` before its first attempt (node QUEUED, task WAITING). */
function waited(reason: string): string[] {
  return [`node QUEUED ${reason}`, `task#0 WAITING_FOR_RESOURCES ${reason}`];
}

/** Events of a node's first attempt starting: node RUNNING, task QUEUED. */
function started(): string[] {
  return ["node RUNNING ", "task#0 QUEUED "];
}

/** Events of attempt `attempt` failing with `code` and the next attempt starting. */
function retried(attempt: number, code: string): string[] {
  return [`task#${attempt} RETRYABLE_FAILED ${code}`, `task#${attempt + 1} QUEUED `];
}

/** Events of attempt `attempt` failing with `code` and ending the node in `nodePhase`. */
function ended(attempt: number, code: string, nodePhase = "FAILED"): string[] {
  return [`task#${attempt} FAILED ${code}`, `node ${nodePhase} ${code}`];
}

/** The token holder of attempt `attempt` of node `t` of execution `name`. */
function holder(name: string, attempt: number): string {
  return `flotilla/development/${name}/t/${attempt}`;
}

/** Moves the harness clock `ms` past {@link T0}. */
function at(h: ExecutorHarness, ms: number): void {
  h.now = new Date(T0.getTime() + ms);
}

/** A task whose definition cannot become a pod. */
function withoutContainer(task: TaskTemplate): TaskTemplate {
  task.container = undefined;
  return task;
}

/**
 * Failures found before an attempt's pod exists. None is retried; the node fails with only its
 * node event (no attempt reported a task phase) and gives back every token it was granted.
 */
const FAILURES_BEFORE_THE_POD: {
  title: string;
  task: TaskTemplate;
  tokens?: Record<string, number>;
  podRefusal?: PodCreateResult;
  error: string;
  message: string;
  tokenCalls: string[];
}[] = [
  {
    title: "needing tokens without a resource manager is a SYSTEM error",
    task: aTask("wh").needing("warehouse").build(),
    error: "SYSTEM/ResourceManagerNotConfigured",
    message: "task needs external resources (warehouse) but this propeller has no resource manager",
    tokenCalls: [],
  },
  {
    title: "a rejected token request is a USER error that gives back the tokens already granted",
    task: aTask("wh").needing("warehouse").needing("nowhere").build(),
    tokens: { warehouse: 1 },
    error: "USER/ExternalResourceRejected",
    message: "nowhere: NotFound: no pool nowhere",
    tokenCalls: [
      `acquire warehouse ${holder("early", 0)}`,
      `acquire nowhere ${holder("early", 0)}`,
      `release warehouse ${holder("early", 0)}`,
      `release nowhere ${holder("early", 0)}`,
    ],
  },
  {
    title: "a task without a container is an InvalidTask USER error",
    task: withoutContainer(aTask("wh").needing("warehouse").build()),
    tokens: { warehouse: 1 },
    error: "USER/InvalidTask",
    message: "task wh cannot run as a pod: it has no container",
    tokenCalls: [`acquire warehouse ${holder("early", 0)}`, `release warehouse ${holder("early", 0)}`],
  },
  {
    title: "a pod the API server rejects as invalid is an InvalidPodSpec USER error",
    task: aTask("wh").needing("warehouse").build(),
    tokens: { warehouse: 1 },
    podRefusal: { outcome: "invalid", message: "spec.containers[0].image: Required value" },
    error: "USER/InvalidPodSpec",
    message: "spec.containers[0].image: Required value",
    tokenCalls: [`acquire warehouse ${holder("early", 0)}`, `release warehouse ${holder("early", 0)}`],
  },
];

describe("task nodes", () => {
  for (const c of FAILURES_BEFORE_THE_POD) {
    test(`fail before their pod: ${c.title}`, async () => {
      const h = oneTask("early", c.task, c.tokens);
      h.pods.refuseWith = c.podRefusal;
      await h.round();
      assert.equal(outcome(h), `FAILED ${c.error}`);
      assert.equal(h.node("t").error?.message, c.message);
      assert.equal(h.pods.pods.size, 0);
      assert.equal(h.node("t").leases.length, 0);
      assert.equal(h.tokens?.held.size ?? 0, 0);
      assert.deepEqual(h.tokens?.calls ?? [], c.tokenCalls);
      assert.deepEqual(eventLines(h), [`node FAILED ${c.error.split("/")[1]}`]);
    });
  }

  test("wait in the token queue with their position, and report a task event only when it moves", async () => {
    const h = oneTask("q", aTask("wh").needing("warehouse").build(), { warehouse: 1 });
    assert.ok(h.tokens);
    await h.tokens.acquire({ resource: "warehouse", tokens: 1, holder: "other" });
    await h.tokens.acquire({ resource: "warehouse", tokens: 1, holder: "ahead" });

    await h.round();
    assert.equal(h.node("t").phase, NodeExecution_Phase.QUEUED);
    assert.equal(h.node("t").taskPhase, TaskExecution_Phase.WAITING_FOR_RESOURCES);
    assert.equal(h.node("t").waiting?.reason, "WaitingForTokens");
    assert.equal(h.node("t").waiting?.resource, "warehouse");
    assert.equal(h.node("t").waiting?.queuePosition, 2);
    assert.equal(h.lastRequeue, DEFAULT_EXECUTOR_CONFIG.tokenPollMs);
    await h.round();
    assert.equal(eventLines(h).length, 2, "an unchanged position emits nothing");

    await h.tokens.release({ resource: "warehouse", holder: "ahead" });
    await h.round();
    assert.equal(h.node("t").waiting?.queuePosition, 1);
    await h.tokens.release({ resource: "warehouse", holder: "other" });
    await h.round();
    assert.equal(h.node("t").phase, NodeExecution_Phase.RUNNING);
    assert.equal(h.node("t").waiting, undefined);
    assert.equal(h.node("t").leases.length, 1);
    assert.deepEqual(eventLines(h), [
      ...waited("WaitingForTokens"),
      "task#0 WAITING_FOR_RESOURCES WaitingForTokens",
      ...started(),
    ]);
  });

  test("wait for ResourceQuota admission and start once the quota admits the pod", async () => {
    const h = oneTask("quota", aTask("t").build());
    const message = `exceeded quota: ${"x".repeat(2000)}`;
    h.pods.refuseWith = { outcome: "quota", message };
    await h.round();
    assert.equal(h.node("t").phase, NodeExecution_Phase.QUEUED);
    assert.equal(h.node("t").taskPhase, TaskExecution_Phase.WAITING_FOR_RESOURCES);
    assert.equal(h.node("t").waiting?.reason, "ResourceQuotaExceeded");
    assert.equal(h.node("t").waiting?.message, message.slice(0, 1024));
    assert.equal(h.node("t").attempts, 0);
    assert.equal(h.lastRequeue, 2_000);
    await h.round();
    assert.equal(eventLines(h).length, 2, "still refused: nothing new");

    h.pods.refuseWith = undefined;
    await h.round();
    assert.equal(h.node("t").phase, NodeExecution_Phase.RUNNING);
    assert.ok(h.pods.pods.has("quota-t-0"));
    assert.deepEqual(eventLines(h), [...waited("ResourceQuotaExceeded"), ...started()]);
  });

  test("an unresolvable binding fails the node before its pod and gives back its tokens", async () => {
    const t = aTask("wh").withInput("x", SimpleType.INTEGER).needing("warehouse").build();
    const closure = aWorkflow("w")
      .withNode("t", t, { x: fromInput("missing") })
      .closure();
    const h = new ExecutorHarness(anExecutionSpec({ name: "bind", closure, blobRoot: "mem://b" }));
    h.tokens = new FakeTokens({ warehouse: 1 });
    await h.tokens.acquire({ resource: "warehouse", tokens: 1, holder: "other" });
    await h.round();
    await h.tokens.release({ resource: "warehouse", holder: "other" });
    await h.round();
    assert.equal(outcome(h), "FAILED USER/BindingResolutionFailed");
    assert.equal(h.node("t").waiting, undefined);
    assert.equal(h.pods.pods.size, 0);
    assert.equal(h.tokens.held.size, 0);
    assert.deepEqual(eventLines(h), [...waited("WaitingForTokens"), ...ended(0, "BindingResolutionFailed")]);
  });

  test("a retried attempt gives back its tokens before the next attempt asks again as its own holder", async () => {
    const h = oneTask("retry", aTask("wh").needing("warehouse").withRetries(1).build(), { warehouse: 1 });
    await h.round();
    h.pods.finish("retry-t-0", "Failed", 1);
    await h.round();
    assert.equal(h.node("t").attempts, 2);
    assert.equal(outcome(h), "RUNNING USER/NonZeroExitCode", "the retried failure stays on the status");
    h.pods.finish("retry-t-1", "Failed", 1);
    await h.round();
    assert.equal(outcome(h), "FAILED USER/NonZeroExitCode");
    assert.equal(h.tokens?.held.size, 0);
    assert.deepEqual(h.tokens?.calls, [
      `acquire warehouse ${holder("retry", 0)}`,
      `release warehouse ${holder("retry", 0)}`,
      `acquire warehouse ${holder("retry", 1)}`,
      `release warehouse ${holder("retry", 1)}`,
    ]);
    assert.deepEqual(eventLines(h), [
      ...started(),
      ...retried(0, "NonZeroExitCode"),
      ...ended(1, "NonZeroExitCode"),
    ]);
  });

  test("a pod missing from the cache past the grace period is a SYSTEM failure on the SYSTEM budget", async () => {
    const h = oneTask("lost", aTask("t").withRetries(0, 1).build());
    await h.round();
    h.pods.pods.delete("lost-t-0");
    at(h, 10_000);
    await h.round();
    assert.equal(h.node("t").attempts, 1, "within the grace period the pod is waited for");
    assert.equal(h.lastRequeue, 1_000);
    at(h, DEFAULT_EXECUTOR_CONFIG.podMissingGraceMs);
    await h.round();
    assert.equal(h.node("t").systemFailures, 1);
    assert.ok(h.pods.pods.has("lost-t-1"), "retried on the system budget");
    h.pods.pods.delete("lost-t-1");
    at(h, 2 * DEFAULT_EXECUTOR_CONFIG.podMissingGraceMs);
    await h.round();
    assert.equal(outcome(h), "FAILED SYSTEM/PodNotFound");
    assert.equal(h.node("t").error?.message, "pod lost-t-1 of attempt 1 disappeared");
    assert.deepEqual(eventLines(h), [...started(), ...retried(0, "PodNotFound"), ...ended(1, "PodNotFound")]);
  });

  test("a lost lease deletes the pod and retries the attempt on the SYSTEM budget with new tokens", async () => {
    const h = oneTask("lease", aTask("wh").needing("warehouse").withRetries(0, 1).build(), { warehouse: 1 });
    h.now = new Date();
    await h.round();
    h.pods.finish("lease-t-0", "Running");
    h.tokens?.held.clear();
    h.now = new Date(Date.now() + DEFAULT_EXECUTOR_CONFIG.tokenLeaseTtlMs * 0.75);
    await h.round();
    assert.deepEqual(h.pods.deleted, ["lease-t-0"]);
    assert.equal(h.node("t").systemFailures, 1);
    assert.equal(outcome(h), "RUNNING SYSTEM/ResourceLeaseLost");
    assert.ok(h.pods.pods.has("lease-t-1"));
    assert.deepEqual(h.tokens?.calls, [
      `acquire warehouse ${holder("lease", 0)}`,
      "renew lease-1",
      `release warehouse ${holder("lease", 0)}`,
      `acquire warehouse ${holder("lease", 1)}`,
    ]);
    assert.deepEqual(eventLines(h), [
      ...started(),
      "task#0 RUNNING PodRunning",
      ...retried(0, "ResourceLeaseLost"),
    ]);
  });

  test("keep their leases alive while the pod waits to be scheduled or started", async () => {
    const h = oneTask("slowstart", aTask("wh").needing("warehouse").build(), { warehouse: 1 });
    h.now = new Date();
    await h.round();
    const firstExpiry = h.node("t").leases[0]?.expiresAt?.seconds;
    h.now = new Date(Date.now() + DEFAULT_EXECUTOR_CONFIG.tokenLeaseTtlMs * 0.75);
    await h.round();
    assert.equal(h.pods.pods.get("slowstart-t-0")?.status?.phase, "Pending");
    assert.equal(outcome(h), "RUNNING");
    assert.deepEqual(h.tokens?.calls, [`acquire warehouse ${holder("slowstart", 0)}`, "renew lease-1"]);
    assert.ok((h.node("t").leases[0]?.expiresAt?.seconds ?? 0n) >= (firstExpiry ?? 0n));
  });

  test("keep a granted lease alive while waiting for quota admission, and ask again for one reclaimed meanwhile", async () => {
    const h = oneTask("held", aTask("wh").needing("warehouse").build(), { warehouse: 1 });
    h.pods.refuseWith = { outcome: "quota", message: "exceeded quota: pods" };
    h.now = new Date();
    await h.round();
    assert.equal(h.node("t").waiting?.reason, "ResourceQuotaExceeded");
    h.now = new Date(Date.now() + DEFAULT_EXECUTOR_CONFIG.tokenLeaseTtlMs * 0.75);
    await h.round();
    assert.equal(h.tokens?.calls.at(-1), "renew lease-1");
    h.tokens?.held.clear(); // reclaimed, as after a resource-manager outage longer than the TTL
    h.now = new Date(Date.now() + DEFAULT_EXECUTOR_CONFIG.tokenLeaseTtlMs * 1.5);
    await h.round();
    assert.deepEqual(
      h.node("t").leases.map((l) => l.leaseId),
      ["lease-2"],
    );
    h.pods.refuseWith = undefined;
    h.now = new Date(); // lease-2 is fresh: nothing to renew
    await h.round();
    assert.equal(outcome(h), "RUNNING");
    assert.deepEqual(h.tokens?.calls, [
      `acquire warehouse ${holder("held", 0)}`,
      "renew lease-1",
      "renew lease-1",
      `acquire warehouse ${holder("held", 0)}`,
    ]);
    assert.deepEqual(eventLines(h), [...waited("ResourceQuotaExceeded"), ...started()]);
  });

  test("a timed-out attempt is a USER failure: retried on the USER budget, the last one ends TIMED_OUT", async () => {
    const h = oneTask("to", aTask("slow").withTimeout(1_000).withRetries(1).build());
    await h.round();
    h.pods.finish("to-t-0", "Running");
    at(h, 5_000);
    await h.round();
    assert.equal(outcome(h), "RUNNING USER/TaskTimeout");
    h.pods.finish("to-t-1", "Running");
    at(h, 10_000);
    await h.round();
    assert.equal(outcome(h), "TIMED_OUT USER/TaskTimeout");
    assert.deepEqual(h.pods.deleted, ["to-t-0", "to-t-1"]);
    assert.deepEqual(eventLines(h), [
      ...started(),
      ...retried(0, "TaskTimeout"),
      ...ended(1, "TaskTimeout", "TIMED_OUT"),
    ]);
  });

  test("a succeeded pod's reported usage travels as the SUCCEEDED event's used resources; none without the annotation", async () => {
    const usedOf = (h: ExecutorHarness) =>
      h.events.flatMap((e) =>
        e.event.case === "taskEvent" && e.event.value.phase === TaskExecution_Phase.SUCCEEDED
          ? [e.event.value.usedResources]
          : [],
      );
    const reported = oneTask("use", aTask("train").build());
    await reported.round();
    const pod = reported.pods.pods.get("use-t-0")!;
    pod.metadata = {
      ...pod.metadata,
      annotations: {
        ...pod.metadata?.annotations,
        [RESOURCE_USAGE_ANNOTATION]: formatResourceUsage({ cpuCores: 0.25, memoryBytes: 2 ** 28, gpus: 0 }),
      },
    };
    await reported.succeed("use-t-0", "t", 0, {});
    await reported.round();
    const [used] = usedOf(reported);
    assert.deepEqual([used?.cpuCores, used?.memoryBytes, used?.gpus], [0.25, 2 ** 28, 0]);

    const silent = oneTask("nouse", aTask("train").build());
    await silent.round();
    await silent.succeed("nouse-t-0", "t", 0, {});
    await silent.round();
    assert.deepEqual(usedOf(silent), [undefined]);
  });

  test("outputs that do not match the interface fail the attempt as InvalidOutputs and give back its tokens", async () => {
    const t = aTask("wh").withOutput("y", SimpleType.INTEGER).needing("warehouse").withRetries(3).build();
    const h = oneTask("out", t, { warehouse: 1 });
    await h.round();
    await h.succeed("out-t-0", "t", 0, {});
    await h.round();
    assert.equal(outcome(h), "FAILED USER/InvalidOutputs", "not retried: outputs are a user error");
    assert.equal(h.tokens?.held.size, 0);
    assert.deepEqual(eventLines(h), [...started(), ...ended(0, "InvalidOutputs")]);
  });

  test("abort while waiting for tokens withdraws the queued request and ends ABORTED", async () => {
    const h = oneTask("abq", aTask("wh").needing("warehouse").build(), { warehouse: 1 });
    assert.ok(h.tokens);
    await h.tokens.acquire({ resource: "warehouse", tokens: 1, holder: "other" });
    await h.round();
    h.abortCause = "user asked";
    await h.round();
    assert.equal(outcome(h), "ABORTED");
    assert.equal(h.tokens.queue.length, 0);
    assert.equal(h.tokens.calls.at(-1), `release warehouse ${holder("abq", 0)}`);
    assert.deepEqual(eventLines(h), [
      ...waited("WaitingForTokens"),
      "task#0 ABORTED Aborted",
      "node ABORTED Aborted",
    ]);
  });
});
