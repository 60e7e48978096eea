import type { ServiceImpl } from "@connectrpc/connect";
import type { AdminService } from "@flotilla/proto";
import type { NotificationManager } from "../manager/notification-manager.js";

/** The notification RPCs of AdminService. */
export type NotificationHandlers = Pick<ServiceImpl<typeof AdminService>, "listNotifications">;

/** Creates the notification RPC handlers over the notification manager (thin: no rules here). */
export function createNotificationHandlers(notifications: NotificationManager): NotificationHandlers {
  return {
    async listNotifications(req) {
      const page = await notifications.list(
        req.project,
        req.domain,
        { failedOnly: req.failedOnly, executionName: req.executionName },
        req,
      );
      return { notifications: page.items, nextPageToken: page.nextPageToken };
    },
  };
}
