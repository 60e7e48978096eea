/**
 * The handler of task nodes: starts attempts (tokens, inputs, pod), follows the attempt's pod
 * from the cache, applies timeouts and the separate USER / SYSTEM retry budgets, collects
 * outputs, and aborts.
 *
 * ```
 *  UNSPECIFIED ─(tokens queued / quota)─▶ QUEUED[WAITING_FOR_RESOURCES] ─(granted)─┐
 *       │                                                                          ▼
 *       └──────────────(pod created or adopted: attempt k, task QUEUED)──────▶ RUNNING
 *  RUNNING ─(pod Running)─▶ task RUNNING
 *  RUNNING ─(pod Succeeded, outputs read)─▶ SUCCEEDED
 *  RUNNING ─(pod Failed / timeout / pod lost, budget left)─▶ task RETRYABLE_FAILED ─▶ attempt k+1
 *  RUNNING ─(budget of that kind exhausted)─▶ FAILED (TIMED_OUT for a timeout)
 *  any non-terminal ─(abort)─▶ ABORTED (pod deleted, tokens released)
 * ```
 */
import { mkdir } from "node:fs/promises";
import { create } from "@bufbuild/protobuf";
import { durationMs, timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  BlobNotFoundError,
  identifierKey,
  parseResourceUsage,
  RESOURCE_USAGE_ANNOTATION,
  taskPodName,
} from "@flotilla/common";
import {
  ExecutionError_Kind,
  LiteralMapSchema,
  NodeExecution_Phase,
  ResourceLeaseSchema,
  type ResourceLease,
  TaskExecution_Phase,
  WaitingReasonSchema,
  type LiteralMap,
  type Node,
  type NodeStatus,
  type TaskTemplate,
  type WaitingReason,
} from "@flotilla/proto";
import { BindingResolutionError, resolveBindings } from "../../workflow/bindings.js";
import {
  MissingOutputError,
  OutputTypeError,
  defaultOutputs,
  literalToJson,
  outputsJsonToLiteralMap,
  primitiveEnvValue,
} from "../../workflow/literals.js";
import { isTerminalNodePhase } from "../../workflow/phases.js";
import type { PhaseDetails, RoundContext } from "../../workflow/round-context.js";
import {
  InvalidTaskError,
  buildTaskPod,
  observePod,
  podStartTime,
  type AttemptLocations,
  type TaskFailure,
} from "../../plugins/pod/pod-plugin.js";
import { nodeError } from "../node-failures.js";
import type { NodeHandler } from "../node-handler.js";

/** Waiting reasons a task node can report. */
export const WaitingReasons = {
  tokens: "WaitingForTokens",
  quota: "ResourceQuotaExceeded",
  parallelism: "MaxParallelismReached",
} as const;

/** How soon a pod refused by ResourceQuota admission is created again. */
const QUOTA_RECHECK_MS = 2_000;

/** Prefix of pod annotations that mark a simulated task (see the sandbox kubelet). */
const SIMULATION_ANNOTATION_PREFIX = "sandbox.flotilla.io/";

/** The retry, timeout and interruptible policy of a task node (node metadata overrides the task's). */
export interface TaskPolicy {
  userRetries: number;
  systemRetries: number;
  /** Per-attempt timeout in ms; 0 means none. */
  timeoutMs: number;
  interruptible: boolean;
}

/** Resolves the policy of `node` running `task` in an execution whose spec may override interruptible. */
export function taskPolicy(
  node: Node,
  task: TaskTemplate,
  executionInterruptible: boolean | undefined,
): TaskPolicy {
  const retries = node.metadata?.retries ?? task.metadata?.retries;
  const timeout = node.metadata?.timeout ?? task.metadata?.timeout;
  return {
    userRetries: retries?.userRetries ?? 0,
    systemRetries: retries?.systemRetries ?? 0,
    timeoutMs: timeout ? durationMs(timeout) : 0,
    interruptible:
      executionInterruptible ?? node.metadata?.interruptible ?? task.metadata?.interruptible ?? false,
  };
}

/**
 * Whether the next attempt may run on interruptible (spot) capacity. Interruption (preemption,
 * spot reclaim) is a SYSTEM failure, so the attempt after which no SYSTEM retry is left — the
 * last attempt — always runs on regular capacity; earlier attempts of an interruptible task
 * get the spot toleration and affinity.
 */
export function attemptIsInterruptible(policy: TaskPolicy, ns: NodeStatus): boolean {
  return policy.interruptible && ns.systemFailures < policy.systemRetries;
}

/**
 * The resource-manager holder string of one attempt of node `nodeId` of `ctx`'s level:
 * `{project}/{domain}/{execution}/{node}/{attempt}` with the node's execution-wide id.
 */
export function tokenHolder(ctx: RoundContext, nodeId: string, attempt: number): string {
  const id = ctx.execution.spec.executionId;
  return `${id?.project ?? ""}/${id?.domain ?? ""}/${id?.name ?? ctx.execution.name}/${ctx.uniqueId(nodeId)}/${attempt}`;
}

function podAnnotationsOf(task: TaskTemplate): Record<string, string> {
  const raw = task.pluginConfig?.["podAnnotations"];
  const out: Record<string, string> = {};
  if (raw && typeof raw === "object" && !Array.isArray(raw)) {
    for (const [k, v] of Object.entries(raw)) if (typeof v === "string") out[k] = v;
  }
  return out;
}

const ACTIVE_TASK_PHASES = new Set([
  TaskExecution_Phase.QUEUED,
  TaskExecution_Phase.INITIALIZING,
  TaskExecution_Phase.RUNNING,
]);

/**
 * One attempt of a task node within a round: what every step of the state machine below works
 * on. `number` is the attempt's 0-based number (its pod name and token holder end with it).
 */
interface TaskAttempt {
  readonly ctx: RoundContext;
  readonly node: Node;
  readonly task: TaskTemplate;
  readonly policy: TaskPolicy;
  /** The node's status; the steps update it in place. */
  readonly ns: NodeStatus;
  readonly number: number;
}

/** What releasing an attempt's tokens needs (an aborted node's task may be missing). */
type TokenScope = Pick<TaskAttempt, "ctx" | "node" | "ns" | "number"> & { task: TaskTemplate | undefined };

/** Creates the task node handler. */
export function createTaskHandler(): NodeHandler {
  return {
    async handle(ctx, node) {
      const ns = ctx.node(node.id);
      if (isTerminalNodePhase(ns.phase)) return;
      const task = taskOf(ctx, node);
      if (!task) {
        ctx.setNodePhase(node.id, NodeExecution_Phase.FAILED, {
          reason: "TaskNotFound",
          error: nodeError(
            ExecutionError_Kind.SYSTEM,
            "TaskNotFound",
            `task ${node.target.case === "taskNode" ? identifierKey(node.target.value.referenceId) : "(none)"} of node ${node.id} is not in the compiled closure`,
          ),
        });
        return;
      }
      const policy = taskPolicy(node, task, ctx.execution.spec.interruptible);
      if (ns.attempts > 0 && ACTIVE_TASK_PHASES.has(ns.taskPhase)) {
        await followAttempt({ ctx, node, task, policy, ns, number: ns.attempts - 1 });
      } else {
        await startAttempt({ ctx, node, task, policy, ns, number: ns.attempts });
      }
    },

    async abort(ctx, node, cause) {
      const ns = ctx.nodes[node.id];
      if (!ns || isTerminalNodePhase(ns.phase)) return;
      const task = taskOf(ctx, node);
      if (ns.podName && ACTIVE_TASK_PHASES.has(ns.taskPhase)) {
        await ctx.ports.pods.delete(ctx.execution.namespace, ns.podName);
      }
      const attempt = ACTIVE_TASK_PHASES.has(ns.taskPhase) ? ns.attempts - 1 : ns.attempts;
      await releaseTokens({ ctx, node, task, ns, number: attempt });
      if (
        task &&
        (ACTIVE_TASK_PHASES.has(ns.taskPhase) || ns.taskPhase === TaskExecution_Phase.WAITING_FOR_RESOURCES)
      ) {
        ctx.setTaskPhase(node.id, task, Math.max(0, attempt), TaskExecution_Phase.ABORTED, {
          reason: "Aborted",
          message: cause,
        });
      }
      ctx.setNodePhase(node.id, NodeExecution_Phase.ABORTED, { reason: "Aborted", message: cause });
    },
  };
}

function taskOf(ctx: RoundContext, node: Node): TaskTemplate | undefined {
  if (node.target.case !== "taskNode") return undefined;
  return ctx.graph.tasks.get(identifierKey(node.target.value.referenceId));
}

/**
 * Gives back the attempt's tokens (a granted lease is returned, a queued request withdrawn) and
 * forgets its leases. Every way out of an attempt calls it: success, failure, abort.
 */
async function releaseTokens(attempt: TokenScope): Promise<void> {
  const { ctx, node, task, ns } = attempt;
  const broker = ctx.ports.tokens;
  if (!broker || !task || task.externalResources.length === 0 || attempt.number < 0) {
    ns.leases = [];
    return;
  }
  const holder = tokenHolder(ctx, node.id, attempt.number);
  for (const req of task.externalResources) {
    const lease = ns.leases.find((l) => l.resource === req.resource);
    await broker.release({ resource: req.resource, holder, ...(lease ? { leaseId: lease.leaseId } : {}) });
  }
  ns.leases = [];
}

/**
 * Acquires every external resource of the attempt not held yet: "granted" once all are held,
 * "waiting" while one is queued (the node is parked), "rejected" when the node failed.
 */
async function acquireTokens(attempt: TaskAttempt): Promise<"granted" | "waiting" | "rejected"> {
  const { ctx, node, task, ns } = attempt;
  if (task.externalResources.length === 0) return "granted";
  const broker = ctx.ports.tokens;
  if (!broker) {
    fail(attempt, {
      kind: ExecutionError_Kind.SYSTEM,
      code: "ResourceManagerNotConfigured",
      message: `task needs external resources (${task.externalResources.map((r) => r.resource).join(", ")}) but this propeller has no resource manager`,
    });
    return "rejected";
  }
  const id = ctx.execution.spec.executionId;
  const holder = tokenHolder(ctx, node.id, attempt.number);
  for (const req of task.externalResources) {
    if (ns.leases.some((l) => l.resource === req.resource)) continue;
    const outcome = await broker.acquire({
      resource: req.resource,
      tokens: req.tokens,
      tenant: { project: id?.project ?? "", domain: id?.domain ?? "" },
      holder,
    });
    if (outcome.outcome === "granted") {
      ns.leases.push(
        create(ResourceLeaseSchema, {
          resource: req.resource,
          leaseId: outcome.leaseId,
          tokens: req.tokens,
          expiresAt: timestampFromDate(outcome.expiresAt),
        }),
      );
      continue;
    }
    if (outcome.outcome === "queued") {
      const message = `waiting for ${req.tokens} ${req.resource} token(s): position ${outcome.position} (${outcome.reason})`;
      const changed = ns.waiting?.queuePosition !== outcome.position || ns.waiting?.resource !== req.resource;
      const waiting = create(WaitingReasonSchema, {
        reason: WaitingReasons.tokens,
        message,
        queuePosition: outcome.position,
        resource: req.resource,
      });
      waitForResources(attempt, waiting, changed, ctx.config.tokenPollMs);
      return "waiting";
    }
    await failUnretryable(
      attempt,
      "ExternalResourceRejected",
      `${req.resource}: ${outcome.reason}: ${outcome.message}`,
    );
    return "rejected";
  }
  return "granted";
}

/**
 * Parks the attempt before its pod exists: node QUEUED and task WAITING_FOR_RESOURCES with
 * `waiting`'s reason and message, looked at again within `recheckMs`. While the same wait goes
 * on, the task event is sent again only when the caller says it `changed` (another queue
 * position), so a long wait does not repeat the same event every round.
 */
function waitForResources(
  attempt: TaskAttempt,
  waiting: WaitingReason,
  changed: boolean,
  recheckMs: number,
): void {
  const { ctx, node, task, ns } = attempt;
  ns.waiting = waiting;
  const details = { reason: waiting.reason, message: waiting.message };
  ctx.setNodePhase(node.id, NodeExecution_Phase.QUEUED, details);
  ctx.setTaskPhase(node.id, task, attempt.number, TaskExecution_Phase.WAITING_FOR_RESOURCES, {
    ...details,
    update: changed,
  });
  ctx.requeue(recheckMs);
}

/**
 * Ends the node on a USER error that no retry can fix (a rejected token request, an
 * unresolvable binding, an invalid task or pod spec, outputs that do not match the interface):
 * gives back the attempt's tokens and fails the node without consulting the retry budget.
 */
async function failUnretryable(attempt: TaskAttempt, code: string, message: string): Promise<void> {
  await releaseTokens(attempt);
  fail(attempt, { kind: ExecutionError_Kind.USER, code, message });
}

/**
 * Writes an attempt's inputs (LiteralMap, `inputs.json`, one file per primitive) and creates its
 * outputs directory when the store is local. Nodes without inputs write nothing (their events
 * carry no input URI) and tasks without outputs get no outputs directory: at thousands of tasks
 * per second these file operations are a large part of a round's cost.
 */
async function writeInputs(
  ctx: RoundContext,
  task: TaskTemplate,
  loc: AttemptLocations,
  inputs: LiteralMap,
): Promise<void> {
  const io = ctx.ports.io;
  const names = Object.keys(inputs.literals);
  if (names.length > 0) {
    await io.writeLiteralMap(loc.inputsUri, inputs);
    const json: Record<string, unknown> = {};
    for (const name of names) {
      json[name] = literalToJson(inputs.literals[name]);
      const text = primitiveEnvValue(inputs.literals[name]);
      if (text !== undefined) await io.writeText(io.join(loc.inputsDirUri, name), text);
    }
    await io.writeText(io.join(loc.inputsDirUri, "inputs.json"), JSON.stringify(json));
  }
  if (loc.outputsDirPath && Object.keys(task.interface?.outputs?.variables ?? {}).length > 0) {
    await mkdir(loc.outputsDirPath, { recursive: true });
  }
}

/**
 * Starts the attempt: tokens first, then (unless its pod exists already, from a round whose
 * status write was lost) inputs and the pod. A started attempt is counted in `ns.attempts`, and
 * the node is RUNNING with the task QUEUED.
 */
async function startAttempt(attempt: TaskAttempt): Promise<void> {
  const { ctx, node, task, policy, ns } = attempt;
  // Leases granted in an earlier round, while the attempt then waited (for another resource or
  // for ResourceQuota admission), are kept alive; one reclaimed meanwhile is asked for again.
  const lost = await renewLeases(attempt);
  if (lost.length > 0) ns.leases = ns.leases.filter((l) => !lost.includes(l));
  const tokens = await acquireTokens(attempt);
  if (tokens !== "granted") return;

  const exec = ctx.execution;
  const podName = taskPodName(
    exec.spec.executionId?.name ?? exec.name,
    ctx.uniqueId(node.id),
    attempt.number,
  );
  const loc = ctx.attemptLocations(node.id, attempt.number);
  if (!ctx.pods.has(podName)) {
    let inputs: LiteralMap;
    try {
      inputs = await resolveBindings(node.inputs, ctx.bindingSources());
    } catch (err) {
      if (!(err instanceof BindingResolutionError)) throw err;
      await failUnretryable(attempt, "BindingResolutionFailed", err.message);
      return;
    }
    await writeInputs(ctx, task, loc, inputs);
    let pod;
    try {
      pod = buildTaskPod({
        name: podName,
        namespace: exec.namespace,
        owner: { name: exec.name, uid: exec.uid },
        spec: exec.spec,
        nodeId: ctx.uniqueId(node.id),
        attempt: attempt.number,
        task,
        interruptible: attemptIsInterruptible(policy, ns),
        inputs,
        locations: loc,
        podAnnotations: podAnnotationsOf(task),
        ...(exec.traceparent ? { traceparent: exec.traceparent } : {}),
      });
    } catch (err) {
      if (!(err instanceof InvalidTaskError)) throw err;
      await failUnretryable(attempt, "InvalidTask", err.message);
      return;
    }
    const result = await ctx.ports.pods.create(pod);
    if (result.outcome === "quota") {
      const changed = ns.waiting?.reason !== WaitingReasons.quota;
      const waiting = create(WaitingReasonSchema, {
        reason: WaitingReasons.quota,
        message: result.message.slice(0, 1024),
      });
      waitForResources(attempt, waiting, changed, QUOTA_RECHECK_MS);
      return;
    }
    if (result.outcome === "invalid") {
      await failUnretryable(attempt, "InvalidPodSpec", result.message);
      return;
    }
    if (result.outcome === "created") ctx.createdPods.push(podName);
  }
  ns.attempts = attempt.number + 1;
  ns.podName = podName;
  ns.waiting = undefined;
  const inputUri = node.inputs.length > 0 ? loc.inputsUri : "";
  ctx.setNodePhase(node.id, NodeExecution_Phase.RUNNING, { inputUri });
  ctx.setTaskPhase(node.id, task, attempt.number, TaskExecution_Phase.QUEUED, { podName, inputUri });
  ctx.requeue(ctx.config.runningRecheckMs);
}

/**
 * Follows a started attempt through its pod in the cache: success, failure, a pod missing past
 * the grace period, the timeout, task phase updates and lease renewal while it runs.
 */
async function followAttempt(attempt: TaskAttempt): Promise<void> {
  const { ctx, node, task, policy, ns } = attempt;
  const pod = ctx.pods.get(ns.podName);
  if (!pod) {
    const since = ns.lastUpdatedAt ? timestampDate(ns.lastUpdatedAt).getTime() : 0;
    const missingFor = ctx.now.getTime() - since;
    if (missingFor < ctx.config.podMissingGraceMs) {
      ctx.requeue(Math.min(1_000, ctx.config.podMissingGraceMs - missingFor));
      return;
    }
    await onFailure(attempt, {
      kind: ExecutionError_Kind.SYSTEM,
      code: "PodNotFound",
      message: `pod ${ns.podName} of attempt ${attempt.number} disappeared`,
    });
    return;
  }
  const obs = observePod(pod);
  if (obs.state === "succeeded") {
    await onSuccess(attempt, pod.metadata?.annotations ?? {});
    return;
  }
  if (obs.state === "failed") {
    await onFailure(attempt, obs.failure);
    return;
  }
  if (policy.timeoutMs > 0) {
    const start = podStartTime(pod) ?? (ns.startedAt ? timestampDate(ns.startedAt) : ctx.now);
    const left = start.getTime() + policy.timeoutMs - ctx.now.getTime();
    if (left <= 0) {
      await ctx.ports.pods.delete(ctx.execution.namespace, ns.podName);
      await onFailure(
        attempt,
        {
          kind: ExecutionError_Kind.USER,
          code: "TaskTimeout",
          message: `attempt ${attempt.number} exceeded its timeout of ${policy.timeoutMs / 1000}s`,
        },
        NodeExecution_Phase.TIMED_OUT,
      );
      return;
    }
    ctx.requeue(left);
  }
  if (obs.state === "running") {
    ctx.setTaskPhase(node.id, task, attempt.number, TaskExecution_Phase.RUNNING, { reason: "PodRunning" });
  } else if (obs.reason === "ContainerCreating" || obs.reason === "PodInitializing") {
    ctx.setTaskPhase(node.id, task, attempt.number, TaskExecution_Phase.INITIALIZING, { reason: obs.reason });
  }
  // Tokens are held from before the pod exists: a pod that waits long to be scheduled, pulls a
  // large image or initializes slowly must not lose them.
  if (!(await renewTokens(attempt))) return;
  ctx.requeue(ctx.config.runningRecheckMs);
}

/**
 * Keeps a started attempt's leases alive (see {@link renewLeases}); a lease the resource manager
 * no longer has means the pod may run without its tokens, so the pod is deleted and the attempt
 * fails on the SYSTEM budget. Returns false when it did.
 */
async function renewTokens(attempt: TaskAttempt): Promise<boolean> {
  const [lost] = await renewLeases(attempt);
  if (!lost) return true;
  await attempt.ctx.ports.pods.delete(attempt.ctx.execution.namespace, attempt.ns.podName);
  await onFailure(attempt, {
    kind: ExecutionError_Kind.SYSTEM,
    code: "ResourceLeaseLost",
    message: `the ${lost.resource} lease expired before it was renewed`,
  });
  return false;
}

/**
 * Renews the attempt's leases that passed half their lifetime and asks for the next round before
 * the next one does. Returns the leases the resource manager no longer has (left in `ns.leases`).
 */
async function renewLeases(attempt: TaskAttempt): Promise<ResourceLease[]> {
  const { ctx, node, ns } = attempt;
  const broker = ctx.ports.tokens;
  if (!broker || ns.leases.length === 0) return [];
  const holder = tokenHolder(ctx, node.id, attempt.number);
  const halfTtl = ctx.config.tokenLeaseTtlMs / 2;
  const lost: ResourceLease[] = [];
  for (const lease of ns.leases) {
    const expires = lease.expiresAt ? timestampDate(lease.expiresAt).getTime() : 0;
    if (expires - ctx.now.getTime() > halfTtl) {
      ctx.requeue(expires - halfTtl - ctx.now.getTime());
      continue;
    }
    const renewed = await broker.renew({ leaseId: lease.leaseId, holder });
    if (renewed === "lost") {
      lost.push(lease);
      continue;
    }
    lease.expiresAt = timestampFromDate(renewed.expiresAt);
    ctx.requeue(renewed.expiresAt.getTime() - halfTtl - ctx.now.getTime());
  }
  return lost;
}

async function readOutputs(
  ctx: RoundContext,
  task: TaskTemplate,
  loc: AttemptLocations,
  annotations: Record<string, string>,
): Promise<LiteralMap> {
  const io = ctx.ports.io;
  // A real-cluster uploader (or a task using the SDK) may write the LiteralMap itself.
  const pb = await io.readLiteralMap(loc.outputsUri).catch((err: unknown) => {
    if (err instanceof BlobNotFoundError) return undefined;
    throw err;
  });
  if (pb) return pb;
  const text = await io.readText(io.join(loc.outputsDirUri, "outputs.json"));
  const declared = task.interface?.outputs;
  if (text !== undefined) {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      throw new OutputTypeError(
        "outputs.json",
        "a JSON object",
        `unparsable text (${(err as Error).message})`,
      );
    }
    return outputsJsonToLiteralMap(json, declared);
  }
  if (Object.keys(declared?.variables ?? {}).length === 0) return create(LiteralMapSchema, {});
  if (Object.keys(annotations).some((k) => k.startsWith(SIMULATION_ANNOTATION_PREFIX)))
    return defaultOutputs(declared);
  throw new MissingOutputError(Object.keys(declared?.variables ?? {})[0] ?? "outputs.json");
}

/** Collects the outputs of a succeeded pod, gives back the tokens and ends the node SUCCEEDED. */
async function onSuccess(attempt: TaskAttempt, annotations: Record<string, string>): Promise<void> {
  const { ctx, node, task } = attempt;
  const loc = ctx.attemptLocations(node.id, attempt.number);
  let outputs: LiteralMap;
  try {
    outputs = await readOutputs(ctx, task, loc, annotations);
  } catch (err) {
    if (!(err instanceof MissingOutputError) && !(err instanceof OutputTypeError)) throw err;
    await failUnretryable(attempt, "InvalidOutputs", err.message);
    return;
  }
  await ctx.ports.io.writeLiteralMap(loc.outputsUri, outputs);
  await releaseTokens(attempt);
  const used = parseResourceUsage(annotations[RESOURCE_USAGE_ANNOTATION]);
  ctx.setTaskPhase(node.id, task, attempt.number, TaskExecution_Phase.SUCCEEDED, {
    outputUri: loc.outputsUri,
    reason: "PodSucceeded",
    ...(used ? { used } : {}),
  });
  ctx.setNodePhase(node.id, NodeExecution_Phase.SUCCEEDED, { outputUri: loc.outputsUri });
}

/**
 * Handles a failed attempt, giving back its tokens first. A SYSTEM failure counts against the
 * SYSTEM budget, anything else against the USER budget (attempts not failed by the system).
 * While the budget of the failure's kind lasts, the attempt ends RETRYABLE_FAILED and the next
 * one starts in this round; otherwise the node ends in `exhaustedPhase` (TIMED_OUT for a
 * timeout).
 */
async function onFailure(
  attempt: TaskAttempt,
  failure: TaskFailure,
  exhaustedPhase: NodeExecution_Phase = NodeExecution_Phase.FAILED,
): Promise<void> {
  const { ctx, node, task, policy, ns } = attempt;
  await releaseTokens(attempt);
  if (failure.kind === ExecutionError_Kind.SYSTEM) ns.systemFailures += 1;
  const userFailures = ns.attempts - ns.systemFailures;
  const exhausted =
    failure.kind === ExecutionError_Kind.SYSTEM
      ? ns.systemFailures > policy.systemRetries
      : userFailures > policy.userRetries;
  if (exhausted) {
    fail(attempt, failure, exhaustedPhase);
    return;
  }
  const details = recordFailure(attempt, failure);
  ctx.setTaskPhase(node.id, task, attempt.number, TaskExecution_Phase.RETRYABLE_FAILED, details);
  await startAttempt({ ...attempt, number: ns.attempts });
}

/**
 * Ends the node in `nodePhase` (FAILED or TIMED_OUT) with `failure`, and the attempt FAILED
 * unless the node has not reported any task phase yet (a node that fails before its first wait
 * or pod has no task execution to end).
 */
function fail(
  attempt: TaskAttempt,
  failure: TaskFailure,
  nodePhase: NodeExecution_Phase = NodeExecution_Phase.FAILED,
): void {
  const { ctx, node, task, ns } = attempt;
  const details = recordFailure(attempt, failure);
  ns.waiting = undefined;
  if (ns.taskPhase !== TaskExecution_Phase.UNSPECIFIED) {
    ctx.setTaskPhase(node.id, task, attempt.number, TaskExecution_Phase.FAILED, details);
  }
  ctx.setNodePhase(node.id, nodePhase, details);
}

/** Keeps `failure` as the node's latest error; returns the phase details that report it. */
function recordFailure(attempt: TaskAttempt, failure: TaskFailure): PhaseDetails {
  const err = nodeError(failure.kind, failure.code, failure.message);
  attempt.ns.error = err;
  return { error: err, reason: failure.code, message: failure.message };
}
