/**
 * The handler of branch nodes: evaluates the IfElseBlock's cases in order against the
 * enclosing workflow's inputs and upstream outputs, records the node it takes
 * (`branch_taken_node_id`, and the RUNNING event's reason `BranchTaken` and message), runs that
 * node — of any kind — as the branch's only sub-node, and ends with its outcome and outputs.
 *
 * ```
 *  UNSPECIFIED ─(case i holds, or none holds and there is an else_node)─▶ RUNNING [BranchTaken]
 *  UNSPECIFIED ─(no case holds, error fallback)─▶ FAILED (USER, the fallback's code and message)
 *  UNSPECIFIED ─(an operand is missing or ill-typed)─▶ FAILED (USER BranchEvaluationFailed)
 *  RUNNING ─(taken node SUCCEEDED: its outputs copied to the branch's)─▶ SUCCEEDED
 *  RUNNING ─(taken node FAILED / TIMED_OUT)─▶ FAILED (error names the taken node)
 *  any non-terminal ─(abort)─▶ taken node aborted (its pods deleted) ─▶ ABORTED
 * ```
 *
 * The choice is made once and kept in the CR, so a restarted propeller continues the same
 * alternative; the taken node's pods are named from `{branch}.{taken}`.
 */
import { ExecutionError_Kind, NodeExecution_Phase, type BranchNode, type Node } from "@flotilla/proto";
import { alternativeGraph, branchAlternative } from "../../workflow/graph.js";
import { abortLevel, advanceLevel, levelError } from "../../workflow/level.js";
import { isTerminalNodePhase } from "../../workflow/phases.js";
import type { RoundContext } from "../../workflow/round-context.js";
import { failNode } from "../node-failures.js";
import type { NodeHandler, NodeHandlers } from "../node-handler.js";
import { ConditionError, evaluateCondition } from "./condition.js";

/**
 * Chooses the alternative of a branch that has not chosen yet: records it and moves the branch
 * to RUNNING, or fails the branch. Returns the taken node, or undefined when the branch failed.
 */
async function choose(ctx: RoundContext, node: Node, branch: BranchNode): Promise<Node | undefined> {
  const uniqueId = ctx.uniqueId(node.id);
  const cases = branch.ifElse?.cases ?? [];
  let taken: Node | undefined;
  let why = "";
  try {
    for (const [i, c] of cases.entries()) {
      if (await evaluateCondition(c.condition, ctx.bindingSources())) {
        taken = c.thenNode;
        why = `case ${i + 1} of ${cases.length} held`;
        break;
      }
    }
  } catch (err) {
    if (!(err instanceof ConditionError)) throw err;
    failNode(
      ctx,
      node,
      ExecutionError_Kind.USER,
      "BranchEvaluationFailed",
      `branch node ${uniqueId}: ${err.message}`,
    );
    return undefined;
  }
  const fallback = branch.ifElse?.fallback;
  if (!taken && fallback?.case === "elseNode") {
    taken = fallback.value;
    why = `none of ${cases.length} case(s) held`;
  }
  if (!taken) {
    const given = fallback?.case === "error" ? fallback.value : undefined;
    failNode(
      ctx,
      node,
      ExecutionError_Kind.USER,
      given?.code || "NoBranchTaken",
      given?.message ||
        `branch node ${uniqueId}: none of ${cases.length} case(s) held and there is no else node`,
    );
    return undefined;
  }
  const ns = ctx.node(node.id);
  ns.branchTakenNodeId = taken.id;
  // One "attempt": the branch's outputs are located like a task attempt's (nodes/{id}/0/).
  ns.attempts = 1;
  ctx.setNodePhase(node.id, NodeExecution_Phase.RUNNING, {
    reason: "BranchTaken",
    message: `${why}: running node ${taken.id}`,
  });
  return taken;
}

/** Creates the branch node handler; `handlers` runs the taken node (any kind). */
export function createBranchHandler(handlers: () => NodeHandlers): NodeHandler {
  return {
    async handle(ctx, node) {
      if (node.target.case !== "branchNode") return;
      const branch = node.target.value;
      const ns = ctx.node(node.id);
      if (isTerminalNodePhase(ns.phase)) return;
      const taken = ns.branchTakenNodeId
        ? branchAlternative(branch, ns.branchTakenNodeId)
        : await choose(ctx, node, branch);
      if (!taken) {
        if (!isTerminalNodePhase(ctx.node(node.id).phase)) {
          failNode(
            ctx,
            node,
            ExecutionError_Kind.SYSTEM,
            "InvalidBranch",
            `branch node ${ctx.uniqueId(node.id)} took node ${ns.branchTakenNodeId}, which it does not have`,
          );
        }
        return;
      }
      const inner = ctx.nested({
        parentNodeId: node.id,
        graph: alternativeGraph(ctx.graph, taken),
        sources: ctx.bindingSources(),
      });
      const outcome = await advanceLevel(inner, handlers());
      if (outcome.state === "running") return;
      if (outcome.state === "failed") {
        const err = levelError(inner, outcome.failure);
        ctx.setNodePhase(node.id, NodeExecution_Phase.FAILED, {
          reason: "BranchNodeFailed",
          message: err.message,
          error: err,
        });
        return;
      }
      const outputs = await inner.nodeOutputs(taken.id);
      const outputUri = ctx.attemptLocations(node.id, 0).outputsUri;
      await ctx.ports.io.writeLiteralMap(outputUri, outputs);
      ctx.setNodePhase(node.id, NodeExecution_Phase.SUCCEEDED, { reason: "BranchSucceeded", outputUri });
    },

    async abort(ctx, node, cause) {
      const ns = ctx.nodes[node.id];
      if (!ns || isTerminalNodePhase(ns.phase) || node.target.case !== "branchNode") return;
      const taken = ns.branchTakenNodeId
        ? branchAlternative(node.target.value, ns.branchTakenNodeId)
        : undefined;
      if (taken) {
        const inner = ctx.nested({
          parentNodeId: node.id,
          graph: alternativeGraph(ctx.graph, taken),
          sources: ctx.bindingSources(),
        });
        await abortLevel(inner, handlers(), cause, "Aborted");
      }
      ctx.setNodePhase(node.id, NodeExecution_Phase.ABORTED, { reason: "Aborted", message: cause });
    },
  };
}
