import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  NotificationMessageSchema,
  NotificationMessage_State,
  type NotificationMessage,
} from "@flotilla/proto";
import type { NotificationRepository, OutboxMessage } from "../repository/notification-repository.js";
import type { Page, PageRequest } from "../repository/sql.js";
import { requireDnsLabel } from "./validation.js";

const stateOf = {
  PENDING: NotificationMessage_State.PENDING,
  DELIVERED: NotificationMessage_State.DELIVERED,
  FAILED: NotificationMessage_State.FAILED,
} as const;

/** Converts a stored outbox message to the API message. Pure. */
export function toNotificationMessage(m: OutboxMessage): NotificationMessage {
  const t = m.target;
  return create(NotificationMessageSchema, {
    idempotencyKey: m.idempotencyKey,
    executionId: m.execution,
    phase: m.phase,
    notificationIndex: m.notificationIndex,
    channel: t.channel,
    target: t.channel === "webhook" ? t.url : t.channel === "slack" ? t.slackChannel : t.recipients.join(","),
    state: stateOf[m.state],
    attempts: m.attempts,
    lastError: m.lastError,
    createdAt: timestampFromDate(m.createdAt),
    ...(m.state === "PENDING" ? { nextAttemptAt: timestampFromDate(m.nextAttemptAt) } : {}),
    ...(m.deliveredAt ? { deliveredAt: timestampFromDate(m.deliveredAt) } : {}),
  });
}

/** Reads the notification outbox for ListNotifications. */
export class NotificationManager {
  constructor(private readonly outbox: NotificationRepository) {}

  /**
   * Lists the messages of a project/domain, newest first, optionally only the undeliverable
   * ones or those of one execution. Throws InvalidArgumentError naming a bad field.
   */
  async list(
    project: string,
    domain: string,
    filter: { failedOnly: boolean; executionName: string },
    page: PageRequest,
  ): Promise<Page<NotificationMessage>> {
    requireDnsLabel("project", project);
    requireDnsLabel("domain", domain);
    if (filter.executionName) requireDnsLabel("execution_name", filter.executionName);
    const res = await this.outbox.list(
      { project, domain, failedOnly: filter.failedOnly, executionName: filter.executionName || undefined },
      page,
    );
    return { items: res.items.map(toNotificationMessage), nextPageToken: res.nextPageToken };
  }
}
