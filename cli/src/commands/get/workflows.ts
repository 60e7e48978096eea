import { Args, Flags } from "@oclif/core";
import { WorkflowSchema, type Workflow } from "@flotilla/proto";
import { FlotctlCommand } from "../../base-command.js";
import { outputFlag } from "../../flags.js";
import { describeType } from "../../literals.js";
import { formatTime } from "../../output/format.js";
import { renderFields, renderTable } from "../../output/table.js";
import { entityId, listVersions } from "../../resources.js";
import { workflowDot, workflowTree } from "../../views/workflow-graph.js";

/** `flotctl get workflows [NAME] [--version V] [-o dot]`. */
export default class GetWorkflows extends FlotctlCommand<typeof GetWorkflows> {
  static override summary = "List workflows, the versions of one workflow, or one version (with its DAG).";
  static override description =
    "With a name and --version, -o dot prints the DAG in Graphviz format (pipe it to `dot -Tsvg`).";
  static override examples = [
    "<%= config.bin %> get workflows -p flytesnacks -d development",
    "<%= config.bin %> get workflows diamond --version v1",
    "<%= config.bin %> get workflows diamond --version v1 -o dot | dot -Tsvg > diamond.svg",
  ];
  static override args = { name: Args.string({ description: "Workflow name." }) };
  static override flags = {
    output: outputFlag(["dot"]),
    version: Flags.string({ summary: "Show this version of the named workflow." }),
    limit: Flags.integer({ summary: "Maximum rows to list.", default: 100, min: 1 }),
  };

  async run(): Promise<void> {
    const client = await this.client();
    const project = await this.project();
    const domain = await this.domain();
    if (this.args.name && this.flags.version) {
      const { workflow } = await client.getWorkflow({
        id: entityId("Workflow", project, domain, this.args.name, this.flags.version),
      });
      const w = workflow!;
      const tpl = w.closure?.primary?.template;
      const vars = (m: Record<string, { type?: Parameters<typeof describeType>[0] }> | undefined) =>
        Object.entries(m ?? {})
          .map(([k, v]) => `${k}: ${describeType(v.type)}`)
          .join(", ") || "-";
      await this.print({
        data: await this.json(WorkflowSchema, w),
        formats: { dot: () => workflowDot(w) },
        table: () =>
          renderFields([
            ["Name", w.id?.name ?? ""],
            ["Version", w.id?.version ?? ""],
            ["Inputs", vars(tpl?.interface?.inputs?.variables)],
            ["Outputs", vars(tpl?.interface?.outputs?.variables)],
            ["Digest", w.digest],
            ["Created", formatTime(w.createdAt)],
          ]) + `Nodes:\n${workflowTree(w)}`,
      });
      return;
    }
    if (this.flags.output === "dot") {
      const { UsageError } = await import("../../errors.js");
      throw new UsageError("-o dot needs a workflow name and --version");
    }
    const workflows = await listVersions(this.flags.limit, (pageToken, pageSize) =>
      client
        .listWorkflows({ id: { project, domain, name: this.args.name ?? "" }, pageToken, pageSize })
        .then((r) => ({ items: r.workflows, next: r.nextPageToken })),
    );
    const data = [];
    for (const w of workflows) data.push(await this.json(WorkflowSchema, w));
    await this.print({
      data,
      table: () =>
        renderTable(
          [
            { header: "NAME", get: (w: Workflow) => w.id?.name ?? "" },
            { header: "VERSION", get: (w) => w.id?.version ?? "" },
            { header: "NODES", get: (w) => String(w.closure?.primary?.template?.nodes.length ?? 0) },
            { header: "CREATED", get: (w) => formatTime(w.createdAt) },
          ],
          workflows,
          { color: this.color },
        ),
    });
  }
}
