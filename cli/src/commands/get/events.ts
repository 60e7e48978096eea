import { Args, Flags } from "@oclif/core";
import {
  NodeExecution_Phase,
  StoredEventSchema,
  TaskExecution_Phase,
  WorkflowExecution_Phase,
  type StoredEvent,
} from "@flotilla/proto";
import { FlotctlCommand } from "../../base-command.js";
import { formatTime, phaseName } from "../../output/format.js";
import { colorPhase, renderTable } from "../../output/table.js";
import { executionId, listVersions } from "../../resources.js";

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

/** `flotctl get events EXECUTION [--node N] [--limit N]`. */
export default class GetEvents extends FlotctlCommand<typeof GetEvents> {
  static override summary =
    "Show an execution's event log in the order admin received it, optionally of one node.";
  static override examples = [
    "<%= config.bin %> get events f3k2abc -p flytesnacks -d development",
    "<%= config.bin %> get events f3k2abc --node train --limit 20",
    "<%= config.bin %> get events f3k2abc -o json",
  ];
  static override args = { execution: Args.string({ description: "Execution name.", required: true }) };
  static override flags = {
    node: Flags.string({ summary: "Only events of this node (its node events and task attempts)." }),
    limit: Flags.integer({ summary: "Maximum events to show.", default: 1000, min: 1 }),
  };

  async run(): Promise<void> {
    const client = await this.client();
    const id = executionId(await this.project(), await this.domain(), this.args.execution);
    const nodeId = this.flags.node ?? "";
    const events = await listVersions(this.flags.limit, (pageToken, pageSize) =>
      client
        .listExecutionEvents({ executionId: id, nodeId, pageToken, pageSize })
        .then((r) => ({ items: r.events, next: r.nextPageToken })),
    );
    const data = [];
    for (const e of events) data.push(await this.json(StoredEventSchema, e));
    await this.print({ data, table: () => this.table(events) });
  }

  private table(events: StoredEvent[]): string {
    const rows = events.map((stored) => ({ stored, row: rowOf(stored) }));
    return renderTable(
      [
        { header: "SEQ", get: (r: (typeof rows)[number]) => String(r.stored.sequence) },
        { header: "RECEIVED", get: (r) => formatTime(r.stored.receivedAt) },
        { header: "SOURCE", get: (r) => r.stored.producerCluster },
        { header: "KIND", get: (r) => r.row.kind },
        { header: "NODE", get: (r) => r.row.node },
        { header: "ATTEMPT", get: (r) => r.row.attempt },
        { header: "PHASE", get: (r) => colorPhase(r.row.phase, this.color) },
        { header: "REASON", get: (r) => r.row.reason || "-" },
        { header: "EVENT ID", get: (r) => r.row.eventId },
      ],
      rows,
    );
  }
}
