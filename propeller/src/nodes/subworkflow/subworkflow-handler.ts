/**
 * The handler of workflow nodes. A sub-workflow (`sub_workflow_ref`, compiled into the
 * execution's closure) runs inline in the same execution and CR: its nodes' statuses live in
 * the parent node's `sub_nodes`, they are named execution-wide `{parent}.{node}` (events carry
 * the parent's id as `parent_node_id`; pods are named from that path), its inputs are the
 * parent node's bound inputs and its outputs are bound from its own output bindings.
 *
 * ```
 *  UNSPECIFIED ─(inputs bound and written)─▶ RUNNING ─(nested nodes advance every round)─┐
 *  RUNNING ─(every nested node done, outputs bound and written)─▶ SUCCEEDED            ◀─┘
 *  RUNNING ─(a nested node failed; fail-immediately: the rest aborted)─▶ FAILED (names that node)
 *  RUNNING ─(an output binding cannot be resolved)─▶ FAILED (USER OutputBindingFailed)
 *  any non-terminal ─(abort)─▶ nested nodes aborted (pods deleted, tokens released) ─▶ ABORTED
 * ```
 *
 * Launch-plan references (child executions) are not executed by this version: they fail with
 * SYSTEM `UnsupportedNodeKind`.
 */
import { create } from "@bufbuild/protobuf";
import { identifierKey } from "@flotilla/common";
import {
  ExecutionError_Kind,
  LiteralMapSchema,
  NodeExecution_Phase,
  type LiteralMap,
  type Node,
} from "@flotilla/proto";
import { BindingResolutionError, resolveBindings, type BindingSources } from "../../workflow/bindings.js";
import type { WorkflowGraph } from "../../workflow/graph.js";
import { abortLevel, advanceLevel, levelError } from "../../workflow/level.js";
import { isTerminalNodePhase } from "../../workflow/phases.js";
import type { RoundContext } from "../../workflow/round-context.js";
import { failNode } from "../node-failures.js";
import type { NodeHandler, NodeHandlers } from "../node-handler.js";
import { createUnsupportedHandler } from "../unsupported/unsupported-handler.js";

/** The sub-workflow graph `node` runs, or undefined when it is not a sub-workflow node. */
function subWorkflowOf(
  ctx: RoundContext,
  node: Node,
): { key: string; graph: WorkflowGraph | undefined } | undefined {
  if (node.target.case !== "workflowNode") return undefined;
  const ref = node.target.value.reference;
  if (ref.case !== "subWorkflowRef") return undefined;
  const key = identifierKey(ref.value);
  return { key, graph: ctx.graph.subWorkflows.get(key) };
}

/** The context of the nodes inside sub-workflow node `node`; their workflow inputs are the node's inputs. */
function nestedContext(ctx: RoundContext, node: Node, graph: WorkflowGraph): RoundContext {
  const inputsUri = ctx.attemptLocations(node.id, 0).inputsUri;
  return ctx.nested({
    parentNodeId: node.id,
    graph,
    inputs: (): Promise<LiteralMap> =>
      node.inputs.length > 0
        ? ctx.ports.io.readLiteralMap(inputsUri)
        : Promise.resolve(create(LiteralMapSchema, {})),
  });
}

/**
 * Resolves `bindings` against `sources`; when one cannot be resolved, fails `node` as a USER
 * error `code` (message: `context` then the binding's problem) and returns undefined.
 */
async function bindOrFail(
  ctx: RoundContext,
  node: Node,
  code: string,
  context: string,
  bindings: Parameters<typeof resolveBindings>[0],
  sources: BindingSources,
): Promise<LiteralMap | undefined> {
  try {
    return await resolveBindings(bindings, sources);
  } catch (err) {
    if (!(err instanceof BindingResolutionError)) throw err;
    failNode(ctx, node, ExecutionError_Kind.USER, code, `${context}${err.message}`);
    return undefined;
  }
}

/** Binds and writes the node's inputs and moves it to RUNNING; returns false when it failed instead. */
async function start(ctx: RoundContext, node: Node, key: string): Promise<boolean> {
  const loc = ctx.attemptLocations(node.id, 0);
  const inputs = await bindOrFail(
    ctx,
    node,
    "BindingResolutionFailed",
    "",
    node.inputs,
    ctx.bindingSources(),
  );
  if (!inputs) return false;
  if (node.inputs.length > 0) await ctx.ports.io.writeLiteralMap(loc.inputsUri, inputs);
  // One "attempt": inputs and outputs are located like a task attempt's (nodes/{id}/0/).
  ctx.node(node.id).attempts = 1;
  ctx.setNodePhase(node.id, NodeExecution_Phase.RUNNING, {
    reason: "SubWorkflowStarted",
    message: `running sub-workflow ${key}`,
    inputUri: node.inputs.length > 0 ? loc.inputsUri : "",
  });
  return true;
}

/** Creates the workflow node handler; `handlers` runs the sub-workflow's nodes. */
export function createSubWorkflowHandler(handlers: () => NodeHandlers): NodeHandler {
  const launchPlans = createUnsupportedHandler("launch-plan nodes (child executions)");
  return {
    async handle(ctx, node) {
      const sub = subWorkflowOf(ctx, node);
      if (!sub) {
        await launchPlans.handle(ctx, node);
        return;
      }
      const ns = ctx.node(node.id);
      if (isTerminalNodePhase(ns.phase)) return;
      if (!sub.graph) {
        failNode(
          ctx,
          node,
          ExecutionError_Kind.SYSTEM,
          "SubWorkflowNotFound",
          `sub-workflow ${sub.key} of node ${ctx.uniqueId(node.id)} is not in the compiled closure`,
        );
        return;
      }
      if (ns.phase !== NodeExecution_Phase.RUNNING && !(await start(ctx, node, sub.key))) return;
      const inner = nestedContext(ctx, node, sub.graph);
      const outcome = await advanceLevel(inner, handlers());
      if (outcome.state === "running") return;
      if (outcome.state === "failed") {
        const err = levelError(inner, outcome.failure);
        if (outcome.failFast) {
          await abortLevel(
            inner,
            handlers(),
            `sub-workflow failing: node ${inner.uniqueId(outcome.failure.nodeId)} failed`,
            "WorkflowFailing",
          );
        }
        ctx.setNodePhase(node.id, NodeExecution_Phase.FAILED, {
          reason: "SubWorkflowFailed",
          message: err.message,
          error: err,
        });
        return;
      }
      const outputUri = ctx.attemptLocations(node.id, 0).outputsUri;
      const outputs = await bindOrFail(
        ctx,
        node,
        "OutputBindingFailed",
        `sub-workflow ${sub.key} of node ${ctx.uniqueId(node.id)}: `,
        sub.graph.workflow.template?.outputs ?? [],
        inner.bindingSources(),
      );
      if (!outputs) return;
      await ctx.ports.io.writeLiteralMap(outputUri, outputs);
      ctx.setNodePhase(node.id, NodeExecution_Phase.SUCCEEDED, { reason: "SubWorkflowSucceeded", outputUri });
    },

    async abort(ctx, node, cause) {
      const ns = ctx.nodes[node.id];
      if (!ns || isTerminalNodePhase(ns.phase)) return;
      const sub = subWorkflowOf(ctx, node);
      if (sub?.graph) await abortLevel(nestedContext(ctx, node, sub.graph), handlers(), cause, "Aborted");
      ctx.setNodePhase(node.id, NodeExecution_Phase.ABORTED, { reason: "Aborted", message: cause });
    },
  };
}
