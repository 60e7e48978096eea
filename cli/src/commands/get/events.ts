import { Flags } from "@oclif/core";
import {
  NodeExecution_Phase,
  StoredEventSchema,
  TaskExecution_Phase,
  WorkflowExecution_Phase,
  type StoredEvent,
} from "@flotilla/proto";
import { nameArg } from "../../args.js";
import { FlotctlCommand } from "../../base-command.js";
import { formatTime, phaseName } from "../../output/format.js";
import { type Column } from "../../output/table.js";
import { executionId, readPages } from "../../resources.js";

/** The columns of one logged event, whatever its kind. */
interface EventRow {
  kind: string;
  node: string;
  attempt: string;
  phase: string;
  reason: string;
  eventId: string;
}

function rowOf(stored: StoredEvent): EventRow {
  const e = stored.event?.event;
  switch (e?.case) {
    case "workflowEvent":
      return {
        kind: "workflow",
        node: "-",
        attempt: "-",
        phase: phaseName(WorkflowExecution_Phase, e.value.phase),
        reason: e.value.reason,
        eventId: e.value.eventId,
      };
    case "nodeEvent":
      return {
        kind: "node",
        node: e.value.id?.nodeId ?? "",
        attempt: "-",
        phase: phaseName(NodeExecution_Phase, e.value.phase),
        reason: e.value.reason,
        eventId: e.value.eventId,
      };
    case "taskEvent":
      return {
        kind: "task",
        node: e.value.id?.nodeExecutionId?.nodeId ?? "",
        attempt: `#${e.value.id?.retryAttempt ?? 0}`,
        phase: phaseName(TaskExecution_Phase, e.value.phase),
        reason: e.value.reason,
        eventId: e.value.eventId,
      };
    default:
      return { kind: "-", node: "-", attempt: "-", phase: "-", reason: "", eventId: "" };
  }
}

/** The columns of the event log. */
const EVENT_COLUMNS: Column<StoredEvent>[] = [
  { header: "SEQ", get: (e) => String(e.sequence) },
  { header: "RECEIVED", get: (e) => formatTime(e.receivedAt) },
  { header: "SOURCE", get: (e) => e.producerCluster },
  { header: "KIND", get: (e) => rowOf(e).kind },
  { header: "NODE", get: (e) => rowOf(e).node },
  { header: "ATTEMPT", get: (e) => rowOf(e).attempt },
  { header: "PHASE", get: (e) => rowOf(e).phase },
  { header: "REASON", get: (e) => rowOf(e).reason || "-" },
  { header: "EVENT ID", get: (e) => rowOf(e).eventId },
];

/** `flotctl get events EXECUTION [--node N] [--limit N]`. */
export default class GetEvents extends FlotctlCommand<typeof GetEvents> {
  static override args = { execution: nameArg("Execution", { required: true }) };
  static override flags = {
    node: Flags.string({ summary: "Only events of this node (its node events and task attempts)." }),
    limit: Flags.integer({ summary: "Maximum events to show.", default: 1000, min: 1 }),
  };

  async run(): Promise<void> {
    const client = await this.client();
    const executionIdentifier = executionId(await this.project(), await this.domain(), this.args.execution);
    const nodeId = this.flags.node ?? "";
    const events = await readPages(
      this.flags.limit,
      (page) => client.listExecutionEvents({ executionId: executionIdentifier, nodeId, ...page }),
      (r) => r.events,
    );
    await this.printList(StoredEventSchema, events, EVENT_COLUMNS);
  }
}
