import { Flags } from "@oclif/core";
import {
  NotificationMessageSchema,
  NotificationMessage_State,
  WorkflowExecution_Phase,
  type NotificationMessage,
} from "@flotilla/proto";
import { FlotctlCommand } from "../../base-command.js";
import { limitFlag } from "../../flags.js";
import { enumName, formatTime, phaseName } from "../../output/format.js";
import { type Column } from "../../output/table.js";
import { readPages } from "../../resources.js";

/** The columns of the notification outbox. */
const NOTIFICATION_COLUMNS: Column<NotificationMessage>[] = [
  { header: "EXECUTION", get: (n) => n.executionId?.name ?? "" },
  { header: "PHASE", get: (n) => phaseName(WorkflowExecution_Phase, n.phase) },
  { header: "CHANNEL", get: (n) => n.channel },
  { header: "TARGET", get: (n) => n.target },
  { header: "STATE", get: (n) => enumName(NotificationMessage_State, n.state, "-") },
  { header: "ATTEMPTS", get: (n) => String(n.attempts) },
  { header: "CREATED", get: (n) => formatTime(n.createdAt) },
  {
    header: "DELIVERED / NEXT",
    get: (n) =>
      n.state === NotificationMessage_State.DELIVERED
        ? formatTime(n.deliveredAt)
        : n.state === NotificationMessage_State.PENDING
          ? formatTime(n.nextAttemptAt)
          : "-",
  },
  { header: "LAST ERROR", get: (n) => n.lastError || "-" },
];

/** `flotctl get notifications [--failed] [--execution NAME] [--limit N]`. */
export default class GetNotifications extends FlotctlCommand<typeof GetNotifications> {
  static override flags = {
    failed: Flags.boolean({ summary: "Only undeliverable notifications (kept with their last error)." }),
    execution: Flags.string({ summary: "Only notifications about this execution." }),
    limit: limitFlag,
  };

  async run(): Promise<void> {
    const client = await this.client();
    const project = await this.project();
    const domain = await this.domain();
    const notifications = await readPages(
      this.flags.limit,
      (page) =>
        client.listNotifications({
          project,
          domain,
          failedOnly: this.flags.failed,
          executionName: this.flags.execution ?? "",
          ...page,
        }),
      (r) => r.notifications,
    );
    await this.printList(NotificationMessageSchema, notifications, NOTIFICATION_COLUMNS);
  }
}
