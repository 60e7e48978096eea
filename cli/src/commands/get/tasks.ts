import { Args, Flags } from "@oclif/core";
import { TaskSchema, type Task } from "@flotilla/proto";
import { FlotctlCommand } from "../../base-command.js";
import { describeType } from "../../literals.js";
import { durationToMs, formatDuration, formatTime } from "../../output/format.js";
import { renderFields, renderTable } from "../../output/table.js";
import { listVersions, entityId } from "../../resources.js";

/** `flotctl get tasks [NAME] [--version V]`. */
export default class GetTasks extends FlotctlCommand<typeof GetTasks> {
  static override summary = "List tasks (latest version of each), the versions of one task, or one version.";
  static override examples = [
    "<%= config.bin %> get tasks -p flytesnacks -d development",
    "<%= config.bin %> get tasks hello.say -p flytesnacks -d development",
    "<%= config.bin %> get tasks hello.say --version v1 -o yaml",
  ];
  static override args = { name: Args.string({ description: "Task name." }) };
  static override flags = {
    version: Flags.string({ summary: "Show this version of the named task." }),
    limit: Flags.integer({ summary: "Maximum rows to list.", default: 100, min: 1 }),
  };

  async run(): Promise<void> {
    const client = await this.client();
    const project = await this.project();
    const domain = await this.domain();
    if (this.args.name && this.flags.version) {
      const { task } = await client.getTask({
        id: entityId("Task", project, domain, this.args.name, this.flags.version),
      });
      const t = task!;
      const tpl = t.compiled?.template;
      const vars = (m: Record<string, { type?: Parameters<typeof describeType>[0] }> | undefined) =>
        Object.entries(m ?? {})
          .map(([k, v]) => `${k}: ${describeType(v.type)}`)
          .join(", ") || "-";
      await this.print({
        data: await this.json(TaskSchema, t),
        table: () =>
          renderFields([
            ["Name", t.id?.name ?? ""],
            ["Version", t.id?.version ?? ""],
            ["Type", tpl?.type ?? ""],
            ["Inputs", vars(tpl?.interface?.inputs?.variables)],
            ["Outputs", vars(tpl?.interface?.outputs?.variables)],
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
            ["External", tpl?.externalResources.map((e) => `${e.resource}x${e.tokens}`).join(", ") || "-"],
            ["Digest", t.digest],
            ["Created", formatTime(t.createdAt)],
          ]),
      });
      return;
    }
    const tasks = await listVersions(this.flags.limit, (pageToken, pageSize) =>
      client
        .listTasks({ id: { project, domain, name: this.args.name ?? "" }, pageToken, pageSize })
        .then((r) => ({ items: r.tasks, next: r.nextPageToken })),
    );
    const data = [];
    for (const t of tasks) data.push(await this.json(TaskSchema, t));
    await this.print({
      data,
      table: () =>
        renderTable(
          [
            { header: "NAME", get: (t: Task) => t.id?.name ?? "" },
            { header: "VERSION", get: (t) => t.id?.version ?? "" },
            { header: "TYPE", get: (t) => t.compiled?.template?.type ?? "" },
            { header: "CREATED", get: (t) => formatTime(t.createdAt) },
          ],
          tasks,
          { color: this.color },
        ),
    });
  }
}
