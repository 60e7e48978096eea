import { TaskSchema } from "@flotilla/proto";
import { nameArg } from "../../args.js";
import { entityVersionFlag, limitFlag } from "../../flags.js";
import { durationToMs, formatDuration, formatTime } from "../../output/format.js";
import { renderFields } from "../../output/table.js";
import { describeVariables, RegistryListingCommand } from "../../registry-listing.js";

/** `flotctl get tasks [NAME] [--version V]`. */
export default class GetTasks extends RegistryListingCommand<typeof GetTasks> {
  static override args = { name: nameArg("Task") };
  static override flags = {
    version: entityVersionFlag("task"),
    limit: limitFlag,
  };

  async run(): Promise<void> {
    await this.showOrList(
      {
        kind: "Task",
        schema: TaskSchema,
        get: async (client, id) => (await client.getTask({ id })).task!,
        list: (client, request) =>
          client.listTasks(request).then((r) => ({ items: r.tasks, nextPageToken: r.nextPageToken })),
        show: (t) => {
          const tpl = t.compiled?.template;
          return {
            table: () =>
              renderFields([
                ["Name", t.id?.name ?? ""],
                ["Version", t.id?.version ?? ""],
                ["Type", tpl?.type ?? ""],
                ["Inputs", describeVariables(tpl?.interface?.inputs?.variables)],
                ["Outputs", describeVariables(tpl?.interface?.outputs?.variables)],
                ["Image", tpl?.container?.image ?? "-"],
                [
                  "Command",
                  [...(tpl?.container?.command ?? []), ...(tpl?.container?.args ?? [])].join(" ") || "-",
                ],
                [
                  "Retries",
                  `user ${tpl?.metadata?.retries?.userRetries ?? 0}, system ${tpl?.metadata?.retries?.systemRetries ?? 0}`,
                ],
                ["Timeout", formatDuration(durationToMs(tpl?.metadata?.timeout))],
                [
                  "External",
                  tpl?.externalResources.map((e) => `${e.resource}x${e.tokens}`).join(", ") || "-",
                ],
                ["Digest", t.digest],
                ["Created", formatTime(t.createdAt)],
              ]),
          };
        },
        columns: [
          { header: "NAME", get: (t) => t.id?.name ?? "" },
          { header: "VERSION", get: (t) => t.id?.version ?? "" },
          { header: "TYPE", get: (t) => t.compiled?.template?.type ?? "" },
          { header: "CREATED", get: (t) => formatTime(t.createdAt) },
        ],
      },
      { name: this.args.name, version: this.flags.version, limit: this.flags.limit },
    );
  }
}
