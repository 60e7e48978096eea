/** Phase predicates shared by the executor, the controller and the status codec. */
import { NodeExecution_Phase, TaskExecution_Phase, WorkflowExecution_Phase } from "@flotilla/proto";

const TERMINAL_WORKFLOW = new Set([
  WorkflowExecution_Phase.SUCCEEDED,
  WorkflowExecution_Phase.FAILED,
  WorkflowExecution_Phase.ABORTED,
  WorkflowExecution_Phase.TIMED_OUT,
]);

const TERMINAL_NODE = new Set([
  NodeExecution_Phase.SUCCEEDED,
  NodeExecution_Phase.FAILED,
  NodeExecution_Phase.ABORTED,
  NodeExecution_Phase.TIMED_OUT,
  NodeExecution_Phase.SKIPPED,
  NodeExecution_Phase.RECOVERED,
]);

/** True for SUCCEEDED, FAILED, ABORTED and TIMED_OUT. */
export function isTerminalWorkflowPhase(phase: WorkflowExecution_Phase): boolean {
  return TERMINAL_WORKFLOW.has(phase);
}

/** True for SUCCEEDED, FAILED, ABORTED, TIMED_OUT, SKIPPED and RECOVERED. */
export function isTerminalNodePhase(phase: NodeExecution_Phase): boolean {
  return TERMINAL_NODE.has(phase);
}

/** True when a node's outputs are available downstream (SUCCEEDED or RECOVERED). */
export function isSuccessfulNodePhase(phase: NodeExecution_Phase): boolean {
  return phase === NodeExecution_Phase.SUCCEEDED || phase === NodeExecution_Phase.RECOVERED;
}

/** True for task phases that end an attempt. */
export function isTerminalTaskPhase(phase: TaskExecution_Phase): boolean {
  return (
    phase === TaskExecution_Phase.SUCCEEDED ||
    phase === TaskExecution_Phase.FAILED ||
    phase === TaskExecution_Phase.ABORTED ||
    phase === TaskExecution_Phase.RETRYABLE_FAILED
  );
}

/** The lowercase name of a workflow phase ("running"), for metric labels and logs. */
export function workflowPhaseName(phase: WorkflowExecution_Phase): string {
  return (WorkflowExecution_Phase[phase] ?? "UNSPECIFIED").toLowerCase();
}
