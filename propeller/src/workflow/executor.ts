/**
 * The DAG executor: given an execution, its current status and the cached pods, advances the
 * workflow by one round. It creates/deletes pods and acquires tokens only through the ports,
 * and reports everything else (status changes, events, when to look again) in the
 * {@link RoundContext}, so it runs unchanged against fakes in unit tests.
 */
import { create } from "@bufbuild/protobuf";
import { ExecutionErrorSchema, ExecutionError_Kind, WorkflowExecution_Phase } from "@flotilla/proto";
import { BindingResolutionError, resolveBindings } from "./bindings.js";
import { abortLevel, advanceLevel, levelError } from "./level.js";
import { isTerminalWorkflowPhase } from "./phases.js";
import type { RoundContext } from "./round-context.js";
import type { NodeHandlers } from "../nodes/node-handler.js";
import { createBranchHandler } from "../nodes/branch/branch-handler.js";
import { createSubWorkflowHandler } from "../nodes/subworkflow/subworkflow-handler.js";
import { createTaskHandler } from "../nodes/task/task-handler.js";
import { createUnsupportedHandler } from "../nodes/unsupported/unsupported-handler.js";

export type { NodeHandlers } from "../nodes/node-handler.js";

/**
 * The default handler set. Branch and sub-workflow handlers run their nested nodes through the
 * same table, so a branch may take a sub-workflow and a sub-workflow may hold branches.
 */
export function defaultNodeHandlers(): NodeHandlers {
  const handlers: NodeHandlers = {
    taskNode: createTaskHandler(),
    workflowNode: createSubWorkflowHandler(() => handlers),
    branchNode: createBranchHandler(() => handlers),
    arrayNode: createUnsupportedHandler("array (map) nodes"),
  };
  return handlers;
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
 * Each round walks the nodes in topological order ({@link advanceLevel}) so a node finishing
 * early in the walk can start its dependents in the same round; sub-workflow and branch nodes
 * walk their nested nodes the same way inside their handlers. Terminal workflows are left
 * untouched.
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
  const outcome =
    st.phase === WorkflowExecution_Phase.RUNNING ? await advanceLevel(ctx, handlers) : undefined;
  if (outcome?.state === "failed") {
    const wrapped = levelError(ctx, outcome.failure);
    const details = { reason: "NodeFailed", error: wrapped, message: wrapped.message };
    if (outcome.failFast) {
      ctx.setWorkflowPhase(WorkflowExecution_Phase.FAILING, details);
      await abortLevel(
        ctx,
        handlers,
        `workflow failing: node ${outcome.failure.nodeId} failed`,
        "WorkflowFailing",
      );
    }
    ctx.setWorkflowPhase(WorkflowExecution_Phase.FAILED, details);
    return;
  }
  if (outcome?.state !== "succeeded") return;
  ctx.setWorkflowPhase(WorkflowExecution_Phase.SUCCEEDING, { reason: "NodesCompleted" });
  const template = ctx.graph.workflow.template;
  const io = ctx.ports.io;
  const outputsUri = io.join(ctx.execution.spec.outputPrefix, "outputs.pb");
  try {
    const outputs = await resolveBindings(template?.outputs ?? [], ctx.bindingSources());
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

/** Aborts every started node (pods deleted, tokens released) and ends the workflow ABORTED. */
export async function abortWorkflow(ctx: RoundContext, handlers: NodeHandlers, cause: string): Promise<void> {
  const message = cause || "aborted";
  ctx.setWorkflowPhase(WorkflowExecution_Phase.ABORTING, { reason: "AbortRequested", message });
  await abortLevel(ctx, handlers, message, "Aborted");
  ctx.setWorkflowPhase(WorkflowExecution_Phase.ABORTED, { reason: "Aborted", message });
}
