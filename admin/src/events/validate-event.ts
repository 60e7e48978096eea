import type { Event } from "@flotilla/proto";
import type { ExecutionKey } from "../manager/placement.js";

/** Kind codes stored in `execution_events.kind`. */
export const EventKindCode = { Workflow: 1, Node: 2, Task: 3 } as const;

/** An event that passed validation, with the keys ingestion needs. */
export interface ValidEvent {
  kind: (typeof EventKindCode)[keyof typeof EventKindCode];
  eventId: string;
  producerCluster: string;
  execution: ExecutionKey;
  /** Node id for node and task events. */
  nodeId: string;
  /** Retry attempt for task events. */
  retryAttempt: number;
  phase: number;
  phaseVersion: number;
}

/** Why an event is invalid: the field path and the problem. */
export interface EventProblem {
  field: string;
  description: string;
}

function checkExecution(
  prefix: string,
  id: { project: string; domain: string; name: string } | undefined,
): EventProblem | undefined {
  if (!id) return { field: prefix, description: "is required" };
  for (const f of ["project", "domain", "name"] as const) {
    if (!id[f]) return { field: `${prefix}.${f}`, description: "is required" };
  }
  return undefined;
}

/**
 * Validates one event of an ingestion batch (shape only; state rules come later). Returns the
 * extracted keys or the first problem found. Pure.
 */
export function validateEvent(event: Event): ValidEvent | EventProblem {
  const e = event.event;
  if (!e.case)
    return {
      field: "event",
      description: "exactly one of workflow_event, node_event, task_event is required",
    };
  const v = e.value;
  const prefix =
    e.case === "workflowEvent" ? "workflow_event" : e.case === "nodeEvent" ? "node_event" : "task_event";
  if (v.eventId.length < 1 || v.eventId.length > 128) {
    return { field: `${prefix}.event_id`, description: "must be 1-128 characters" };
  }
  if (!v.producerCluster) return { field: `${prefix}.producer_cluster`, description: "is required" };
  if (Number(v.phase) === 0)
    return { field: `${prefix}.phase`, description: "must not be PHASE_UNSPECIFIED" };
  if (!v.occurredAt) return { field: `${prefix}.occurred_at`, description: "is required" };
  const base = {
    eventId: v.eventId,
    producerCluster: v.producerCluster,
    phase: v.phase,
    phaseVersion: v.phaseVersion,
  };
  switch (e.case) {
    case "workflowEvent": {
      const bad = checkExecution(`${prefix}.execution_id`, e.value.executionId);
      if (bad) return bad;
      return {
        ...base,
        kind: EventKindCode.Workflow,
        execution: pick(e.value.executionId!),
        nodeId: "",
        retryAttempt: 0,
      };
    }
    case "nodeEvent": {
      const id = e.value.id;
      const bad = checkExecution(`${prefix}.id.execution_id`, id?.executionId);
      if (bad) return bad;
      if (!id!.nodeId) return { field: `${prefix}.id.node_id`, description: "is required" };
      return {
        ...base,
        kind: EventKindCode.Node,
        execution: pick(id!.executionId!),
        nodeId: id!.nodeId,
        retryAttempt: 0,
      };
    }
    case "taskEvent": {
      const id = e.value.id;
      if (!id?.taskId) return { field: `${prefix}.id.task_id`, description: "is required" };
      const bad = checkExecution(
        `${prefix}.id.node_execution_id.execution_id`,
        id.nodeExecutionId?.executionId,
      );
      if (bad) return bad;
      if (!id.nodeExecutionId!.nodeId)
        return { field: `${prefix}.id.node_execution_id.node_id`, description: "is required" };
      return {
        ...base,
        kind: EventKindCode.Task,
        execution: pick(id.nodeExecutionId!.executionId!),
        nodeId: id.nodeExecutionId!.nodeId,
        retryAttempt: id.retryAttempt,
      };
    }
  }
}

function pick(id: ExecutionKey): ExecutionKey {
  return { project: id.project, domain: id.domain, name: id.name };
}

/** Whether a validation result is a problem. */
export function isProblem(v: ValidEvent | EventProblem): v is EventProblem {
  return "description" in v;
}
