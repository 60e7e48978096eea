/**
 * One level of nodes — the execution's workflow, a sub-workflow inside a node, or the
 * alternative a branch took — advanced by one round step: the wave walk shared by the executor
 * (top level) and the sub-workflow and branch handlers (nested levels).
 */
import { create } from "@bufbuild/protobuf";
import {
  ExecutionErrorSchema,
  ExecutionError_Kind,
  NodeExecution_Phase,
  WaitingReasonSchema,
  WorkflowMetadata_FailurePolicy,
  type ExecutionError,
  type Node,
  type NodeStatus,
} from "@flotilla/proto";
import { forgetLevelIndex, levelIndexOf } from "./level-index.js";
import { isSuccessfulNodePhase, isTerminalNodePhase } from "./phases.js";
import type { RoundContext } from "./round-context.js";
import { handlerFor, type NodeHandler, type NodeHandlers } from "../nodes/node-handler.js";
import { WaitingReasons } from "../nodes/task/task-handler.js";

/** The first node of a level that failed (or timed out), with its error. */
export interface LevelFailure {
  /** Local id of the node in its level. */
  nodeId: string;
  error: ExecutionError | undefined;
}

/**
 * Where a level stands after a step: nodes still to run or running; every node terminal and
 * none failed; or failed — with fail-immediately as soon as a node failed (the caller aborts
 * the rest with {@link abortLevel}), with fail-after-executable-nodes once nothing is left.
 */
export type LevelOutcome =
  | { state: "running" }
  | { state: "succeeded" }
  | { state: "failed"; failure: LevelFailure; failFast: boolean };

/** A node counts against max parallelism while running or waiting for tokens/quota. */
function isActive(ns: NodeStatus | undefined): boolean {
  if (!ns) return false;
  if (ns.phase === NodeExecution_Phase.RUNNING) return true;
  return ns.phase === NodeExecution_Phase.QUEUED && ns.waiting?.reason !== WaitingReasons.parallelism;
}

/** Runs `fn` over `items` with at most `limit` in flight; rejects with the first failure. */
export async function runConcurrently<T>(
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

/** Whether the level's workflow fails as soon as one node fails (the default policy). */
export function failsFast(ctx: RoundContext): boolean {
  return (
    (ctx.graph.workflow.template?.metadata?.failurePolicy ?? WorkflowMetadata_FailurePolicy.UNSPECIFIED) !==
    WorkflowMetadata_FailurePolicy.FAIL_AFTER_EXECUTABLE_NODES_COMPLETE
  );
}

/**
 * Advances the nodes of `ctx`'s level by one step: walks them in topological order in waves
 * (every ready node of a wave is handled concurrently; a wave that finished nodes may make
 * their dependents ready), skips dependents of failed nodes, and holds nodes beyond the
 * execution's max parallelism (counted per level) in QUEUED. Returns the level's outcome.
 *
 * Only the level's frontier is visited — nodes not terminal whose upstream nodes all are, kept
 * in a {@link LevelIndex} with the status between rounds — so a step costs what can move, not
 * the level's size. A walk over every node in topological order visits the same nodes in the
 * same order (terminal nodes and nodes with unfinished upstream nodes are passed over there).
 */
export async function advanceLevel(ctx: RoundContext, handlers: NodeHandlers): Promise<LevelOutcome> {
  const graph = ctx.graph;
  const nodes = ctx.nodes;
  const index = levelIndexOf(graph, nodes);
  const failFast = failsFast(ctx);
  const maxParallelism = ctx.execution.spec.maxParallelism;

  const failedId = index.firstFailed();
  let failure: LevelFailure | undefined =
    failedId !== undefined ? { nodeId: failedId, error: nodes[failedId]?.error } : undefined;
  if (!(failure && failFast)) {
    let active = 0;
    // Active nodes (running or waiting for tokens/quota) are never terminal and were ready when
    // they started, so they are all on the frontier.
    for (const id of index.frontier()) if (isActive(nodes[id])) active++;
    const handled = new Set<string>();
    // Waves: select every ready node (reserving parallelism slots), run their handlers
    // concurrently (independent nodes: their pod creates overlap), and repeat while a wave
    // finished nodes whose dependents may now be ready.
    for (let progressed = true; progressed && !(failure && failFast);) {
      progressed = false;
      const wave: { id: string; node: Node; handler: NodeHandler; wasActive: boolean }[] = [];
      const queue = index.frontier().filter((id) => !handled.has(id));
      /** Nodes a skip or failure in this pass made ready join the pass at their position. */
      const settle = (id: string) => {
        for (const joined of index.refresh(id)) {
          const p = index.position(joined);
          let lo = 0;
          let hi = queue.length;
          while (lo < hi) {
            const mid = (lo + hi) >>> 1;
            if (index.position(queue[mid]) < p) lo = mid + 1;
            else hi = mid;
          }
          queue.splice(lo, 0, joined);
        }
      };
      for (let i = 0; i < queue.length; i++) {
        const id = queue[i];
        const node = graph.nodes.get(id) as Node;
        const ns = nodes[id];
        if (ns && isTerminalNodePhase(ns.phase)) continue;
        let blocked = false;
        for (const u of graph.upstream.get(id) ?? []) {
          const p = nodes[u]?.phase ?? NodeExecution_Phase.UNSPECIFIED;
          if (!isSuccessfulNodePhase(p)) blocked = true;
        }
        if (blocked) {
          ctx.setNodePhase(id, NodeExecution_Phase.SKIPPED, {
            reason: "UpstreamFailed",
            message: "an upstream node did not succeed",
          });
          settle(id);
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
            error: systemError("InvalidNode", `node ${ctx.uniqueId(id)} has no target`),
          });
          settle(id);
          failure ??= { nodeId: id, error: ctx.node(id).error };
          continue;
        }
        const cur = ctx.node(id);
        if (cur.waiting?.reason === WaitingReasons.parallelism) cur.waiting = undefined;
        if (!wasActive) active++;
        wave.push({ id, node, handler, wasActive });
      }
      // Node handlers of a wave run concurrently, up to podConcurrency (bounds API calls in flight).
      await runConcurrently(wave, ctx.config.podConcurrency, (w) => w.handler.handle(ctx, w.node));
      for (const w of wave) {
        index.refresh(w.id);
        const after = nodes[w.id];
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

  const pending = index.hasPending();
  if (failure) {
    if (failFast || !pending) return { state: "failed", failure, failFast };
    return { state: "running" };
  }
  return pending ? { state: "running" } : { state: "succeeded" };
}

/**
 * Aborts every started, unfinished node of `ctx`'s level through its handler (pods deleted,
 * tokens released, nested levels aborted) and marks any the handler left unfinished ABORTED
 * with `reason`.
 */
export async function abortLevel(
  ctx: RoundContext,
  handlers: NodeHandlers,
  cause: string,
  reason: string,
): Promise<void> {
  for (const id of ctx.graph.order) {
    const ns = ctx.nodes[id];
    if (!ns || isTerminalNodePhase(ns.phase) || ns.phase === NodeExecution_Phase.UNSPECIFIED) continue;
    const node = ctx.graph.nodes.get(id) as Node;
    ctx.node(id); // the handler changes it: the round records it as changed
    await handlerFor(handlers, node)?.abort(ctx, node, cause);
    if (!isTerminalNodePhase(ctx.node(id).phase))
      ctx.setNodePhase(id, NodeExecution_Phase.ABORTED, { reason, message: cause });
  }
  forgetLevelIndex(ctx.nodes);
}

/**
 * The error a parent reports for a failed level: the failing node's kind and code, its
 * message prefixed with the node's execution-wide id so users find it in the tree.
 */
export function levelError(ctx: RoundContext, failure: LevelFailure): ExecutionError {
  const err =
    failure.error ??
    systemError("NodeFailed", `node ${ctx.uniqueId(failure.nodeId)} failed without an error`);
  return create(ExecutionErrorSchema, {
    kind: err.kind,
    code: err.code,
    message: `node ${ctx.uniqueId(failure.nodeId)}: ${err.message}`.slice(0, 4096),
    errorUri: err.errorUri,
  });
}
