/**
 * The DAG executor: given an execution, its current status and the cached pods, advances the
 * workflow by one round. It creates/deletes pods and acquires tokens only through the ports,
 * and reports everything else (status changes, events, when to look again) in the
 * {@link RoundContext}, so it runs unchanged against fakes in unit tests.
 */
import { create } from "@bufbuild/protobuf";
import {
  ExecutionErrorSchema,
  ExecutionError_Kind,
  NodeExecution_Phase,
  WorkflowExecution_Phase,
  WaitingReasonSchema,
  WorkflowMetadata_FailurePolicy,
  type ExecutionError,
  type Node,
  type NodeStatus,
} from "@flotilla/proto";
import { BindingResolutionError, resolveBindings } from "./bindings.js";
import { isSuccessfulNodePhase, isTerminalNodePhase, isTerminalWorkflowPhase } from "./phases.js";
import type { RoundContext } from "./round-context.js";
import type { NodeHandler } from "../nodes/node-handler.js";
import { WaitingReasons, createTaskHandler } from "../nodes/task/task-handler.js";
import { createUnsupportedHandler } from "../nodes/unsupported/unsupported-handler.js";

/** Node handlers by node kind (`Node.target.case`). */
export interface NodeHandlers {
  taskNode: NodeHandler;
  workflowNode: NodeHandler;
  branchNode: NodeHandler;
  arrayNode: NodeHandler;
}

/** The default handler set. */
export function defaultNodeHandlers(): NodeHandlers {
  return {
    taskNode: createTaskHandler(),
    workflowNode: createUnsupportedHandler("sub-workflow and launch-plan nodes"),
    branchNode: createUnsupportedHandler("branch nodes"),
    arrayNode: createUnsupportedHandler("array (map) nodes"),
  };
}

function handlerFor(handlers: NodeHandlers, node: Node): NodeHandler | undefined {
  const kind = node.target.case;
  return kind ? handlers[kind] : undefined;
}

/** A node counts against max parallelism while running or waiting for tokens/quota. */
function isActive(ns: NodeStatus | undefined): boolean {
  if (!ns) return false;
  if (ns.phase === NodeExecution_Phase.RUNNING) return true;
  return ns.phase === NodeExecution_Phase.QUEUED && ns.waiting?.reason !== WaitingReasons.parallelism;
}

/** Node handlers run concurrently within one wave of a round (bounds API calls in flight). */
const WAVE_CONCURRENCY = 16;

/** Runs `fn` over `items` with at most `limit` in flight; rejects with the first failure. */
async function runConcurrently<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]);
  });
  await Promise.all(lanes);
}

function systemError(code: string, message: string): ExecutionError {
  return create(ExecutionErrorSchema, { kind: ExecutionError_Kind.SYSTEM, code, message });
}

/**
 * Advances the workflow of `ctx` by one round.
 *
 * ```
 *                    first round
 *   UNSPECIFIED/QUEUED ─────────▶ RUNNING ──(every node SUCCEEDED/SKIPPED)──▶ SUCCEEDING ──(outputs written)──▶ SUCCEEDED
 *                                   │
 *                                   ├─(a node FAILED/TIMED_OUT, fail-immediately)──▶ FAILING ──(running nodes aborted)──▶ FAILED
 *                                   ├─(a node FAILED, fail-after-executable: downstream SKIPPED, rest run)──(nothing left)──▶ FAILED
 *   any non-terminal ──(CR deleted or abort requested)──▶ ABORTING ──(pods deleted, tokens released)──▶ ABORTED
 * ```
 *
 * Each round walks the nodes in topological order so a node finishing early in the walk can
 * start its dependents in the same round. Terminal workflows are left untouched.
 */
export async function evaluateWorkflow(
  ctx: RoundContext,
  handlers: NodeHandlers = defaultNodeHandlers(),
): Promise<void> {
  const st = ctx.status;
  if (isTerminalWorkflowPhase(st.phase)) return;
  if (ctx.execution.abortCause !== undefined) {
    await abortWorkflow(ctx, handlers, ctx.execution.abortCause);
    return;
  }
  if (st.phase === WorkflowExecution_Phase.UNSPECIFIED || st.phase === WorkflowExecution_Phase.QUEUED) {
    ctx.setWorkflowPhase(WorkflowExecution_Phase.RUNNING, { reason: "Started" });
  }
  const graph = ctx.execution.graph;
  const failFast =
    (graph.workflow.template?.metadata?.failurePolicy ?? WorkflowMetadata_FailurePolicy.UNSPECIFIED) !==
    WorkflowMetadata_FailurePolicy.FAIL_AFTER_EXECUTABLE_NODES_COMPLETE;
  const maxParallelism = ctx.execution.spec.maxParallelism;

  let failure = firstFailure(ctx);
  if (!(failure && failFast) && st.phase === WorkflowExecution_Phase.RUNNING) {
    let active = 0;
    for (const id of graph.order) if (isActive(st.nodes[id])) active++;
    const handled = new Set<string>();
    // Waves: select every ready node (reserving parallelism slots), run their handlers
    // concurrently (independent nodes: their pod creates overlap), and repeat while a wave
    // finished nodes whose dependents may now be ready.
    for (let progressed = true; progressed && !(failure && failFast);) {
      progressed = false;
      const wave: { id: string; node: Node; handler: NodeHandler; wasActive: boolean }[] = [];
      for (const id of graph.order) {
        if (handled.has(id)) continue;
        const node = graph.nodes.get(id) as Node;
        const ns = st.nodes[id];
        if (ns && isTerminalNodePhase(ns.phase)) continue;
        let ready = true;
        let blocked = false;
        for (const u of graph.upstream.get(id) ?? []) {
          const p = st.nodes[u]?.phase ?? NodeExecution_Phase.UNSPECIFIED;
          if (!isTerminalNodePhase(p)) ready = false;
          else if (!isSuccessfulNodePhase(p)) blocked = true;
        }
        if (!ready) continue;
        if (blocked) {
          ctx.setNodePhase(id, NodeExecution_Phase.SKIPPED, {
            reason: "UpstreamFailed",
            message: "an upstream node did not succeed",
          });
          progressed = true;
          continue;
        }
        const wasActive = isActive(ns);
        if (!wasActive && maxParallelism > 0 && active >= maxParallelism) {
          const cur = ctx.node(id);
          if (cur.waiting?.reason !== WaitingReasons.parallelism) {
            cur.waiting = create(WaitingReasonSchema, {
              reason: WaitingReasons.parallelism,
              message: `max parallelism ${maxParallelism} reached`,
            });
          }
          ctx.setNodePhase(id, NodeExecution_Phase.QUEUED, {
            reason: WaitingReasons.parallelism,
            message: `max parallelism ${maxParallelism} reached`,
          });
          continue;
        }
        const handler = handlerFor(handlers, node);
        if (!handler) {
          ctx.setNodePhase(id, NodeExecution_Phase.FAILED, {
            reason: "InvalidNode",
            error: systemError("InvalidNode", `node ${id} has no target`),
          });
          failure ??= { nodeId: id, error: ctx.node(id).error };
          continue;
        }
        if (ns?.waiting?.reason === WaitingReasons.parallelism) ns.waiting = undefined;
        if (!wasActive) active++;
        wave.push({ id, node, handler, wasActive });
      }
      await runConcurrently(wave, WAVE_CONCURRENCY, (w) => w.handler.handle(ctx, w.node));
      for (const w of wave) {
        const after = st.nodes[w.id];
        // A node still waiting for tokens or quota may get them once a node of this wave
        // finished (and released its own); everything else is handled once per round.
        const waiting = after?.phase === NodeExecution_Phase.QUEUED && after.waiting !== undefined;
        if (!waiting) handled.add(w.id);
        if (!isActive(after)) active--;
        if (after && isTerminalNodePhase(after.phase)) progressed = true;
        if (
          after &&
          (after.phase === NodeExecution_Phase.FAILED || after.phase === NodeExecution_Phase.TIMED_OUT)
        ) {
          failure ??= { nodeId: w.id, error: after.error };
        }
      }
    }
  }

  if (failure) {
    const err = failure.error ?? systemError("NodeFailed", `node ${failure.nodeId} failed without an error`);
    const wrapped = create(ExecutionErrorSchema, {
      kind: err.kind,
      code: err.code,
      message: `node ${failure.nodeId}: ${err.message}`.slice(0, 4096),
      errorUri: err.errorUri,
    });
    if (failFast) {
      ctx.setWorkflowPhase(WorkflowExecution_Phase.FAILING, {
        reason: "NodeFailed",
        error: wrapped,
        message: wrapped.message,
      });
      for (const id of graph.order) {
        const ns = st.nodes[id];
        if (!ns || isTerminalNodePhase(ns.phase) || ns.phase === NodeExecution_Phase.UNSPECIFIED) continue;
        const node = graph.nodes.get(id) as Node;
        await handlerFor(handlers, node)?.abort(ctx, node, `workflow failing: node ${failure.nodeId} failed`);
        if (!isTerminalNodePhase(ctx.node(id).phase))
          ctx.setNodePhase(id, NodeExecution_Phase.ABORTED, { reason: "WorkflowFailing" });
      }
      ctx.setWorkflowPhase(WorkflowExecution_Phase.FAILED, {
        reason: "NodeFailed",
        error: wrapped,
        message: wrapped.message,
      });
      return;
    }
    const pending = graph.order.some((id) => {
      const ns = st.nodes[id];
      return !ns || !isTerminalNodePhase(ns.phase);
    });
    if (!pending) {
      ctx.setWorkflowPhase(WorkflowExecution_Phase.FAILED, {
        reason: "NodeFailed",
        error: wrapped,
        message: wrapped.message,
      });
    }
    return;
  }

  const done = graph.order.every((id) => {
    const ns = st.nodes[id];
    return ns !== undefined && isTerminalNodePhase(ns.phase);
  });
  if (!done) return;
  ctx.setWorkflowPhase(WorkflowExecution_Phase.SUCCEEDING, { reason: "NodesCompleted" });
  const template = graph.workflow.template;
  const io = ctx.ports.io;
  const outputsUri = io.join(ctx.execution.spec.outputPrefix, "outputs.pb");
  try {
    const outputs = await resolveBindings(template?.outputs ?? [], {
      workflowInputs: () => ctx.workflowInputs(),
      nodeOutputs: (id) => ctx.nodeOutputs(id),
    });
    await io.writeLiteralMap(outputsUri, outputs);
  } catch (err) {
    if (!(err instanceof BindingResolutionError)) throw err;
    const e = create(ExecutionErrorSchema, {
      kind: ExecutionError_Kind.USER,
      code: "OutputBindingFailed",
      message: err.message,
    });
    ctx.setWorkflowPhase(WorkflowExecution_Phase.FAILED, {
      reason: "OutputBindingFailed",
      error: e,
      message: e.message,
    });
    return;
  }
  ctx.setWorkflowPhase(WorkflowExecution_Phase.SUCCEEDED, { reason: "Succeeded", outputUri: outputsUri });
}

function firstFailure(ctx: RoundContext): { nodeId: string; error: ExecutionError | undefined } | undefined {
  for (const id of ctx.execution.graph.order) {
    const ns = ctx.status.nodes[id];
    if (ns && (ns.phase === NodeExecution_Phase.FAILED || ns.phase === NodeExecution_Phase.TIMED_OUT)) {
      return { nodeId: id, error: ns.error };
    }
  }
  return undefined;
}

/** Aborts every started node (pods deleted, tokens released) and ends the workflow ABORTED. */
export async function abortWorkflow(ctx: RoundContext, handlers: NodeHandlers, cause: string): Promise<void> {
  const message = cause || "aborted";
  ctx.setWorkflowPhase(WorkflowExecution_Phase.ABORTING, { reason: "AbortRequested", message });
  const graph = ctx.execution.graph;
  for (const id of graph.order) {
    const ns = ctx.status.nodes[id];
    if (!ns || isTerminalNodePhase(ns.phase) || ns.phase === NodeExecution_Phase.UNSPECIFIED) continue;
    const node = graph.nodes.get(id) as Node;
    await handlerFor(handlers, node)?.abort(ctx, node, message);
    if (!isTerminalNodePhase(ctx.node(id).phase))
      ctx.setNodePhase(id, NodeExecution_Phase.ABORTED, { reason: "Aborted", message });
  }
  ctx.setWorkflowPhase(WorkflowExecution_Phase.ABORTED, { reason: "Aborted", message });
}
