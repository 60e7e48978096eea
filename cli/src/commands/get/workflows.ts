import { WorkflowSchema } from "@flotilla/proto";
import { nameArg } from "../../args.js";
import { UsageError } from "../../errors.js";
import { entityVersionFlag, limitFlag, outputFlag } from "../../flags.js";
import { formatTime } from "../../output/format.js";
import { renderFields } from "../../output/table.js";
import { describeVariables, RegistryListingCommand } from "../../registry-listing.js";
import { workflowDot, workflowTree } from "../../views/workflow-graph.js";

/** `flotctl get workflows [NAME] [--version V] [-o dot]`. */
export default class GetWorkflows extends RegistryListingCommand<typeof GetWorkflows> {
  static override args = { name: nameArg("Workflow") };
  static override flags = {
    output: outputFlag(["dot"]),
    version: entityVersionFlag("workflow"),
    limit: limitFlag,
  };

  async run(): Promise<void> {
    await this.showOrList(
      {
        kind: "Workflow",
        schema: WorkflowSchema,
        get: async (client, id) => (await client.getWorkflow({ id })).workflow!,
        list: (client, request) =>
          client.listWorkflows(request).then((r) => ({ items: r.workflows, nextPageToken: r.nextPageToken })),
        show: (w) => {
          const tpl = w.closure?.primary?.template;
          return {
            formats: { dot: () => workflowDot(w) },
            table: () =>
              renderFields([
                ["Name", w.id?.name ?? ""],
                ["Version", w.id?.version ?? ""],
                ["Inputs", describeVariables(tpl?.interface?.inputs?.variables)],
                ["Outputs", describeVariables(tpl?.interface?.outputs?.variables)],
                ["Digest", w.digest],
                ["Created", formatTime(w.createdAt)],
              ]) + `Nodes:\n${workflowTree(w)}`,
          };
        },
        beforeList: () => {
          if (this.flags.output === "dot") throw new UsageError("-o dot needs a workflow name and --version");
        },
        columns: [
          { header: "NAME", get: (w) => w.id?.name ?? "" },
          { header: "VERSION", get: (w) => w.id?.version ?? "" },
          { header: "NODES", get: (w) => String(w.closure?.primary?.template?.nodes.length ?? 0) },
          { header: "CREATED", get: (w) => formatTime(w.createdAt) },
        ],
      },
      { name: this.args.name, version: this.flags.version, limit: this.flags.limit },
    );
  }
}
