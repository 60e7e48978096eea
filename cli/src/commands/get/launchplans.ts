import { LaunchPlan_State, LaunchPlanSchema } from "@flotilla/proto";
import { nameArg } from "../../args.js";
import { entityVersionFlag, limitFlag } from "../../flags.js";
import { describeType, literalMapToValues, literalToValue } from "../../literals.js";
import { enumName, formatCatchUp, formatLabels, formatSchedule, formatTime } from "../../output/format.js";
import { renderFields } from "../../output/table.js";
import { RegistryListingCommand } from "../../registry-listing.js";

/** `flotctl get launchplans [NAME] [--version V]`. */
export default class GetLaunchPlans extends RegistryListingCommand<typeof GetLaunchPlans> {
  static override args = { name: nameArg("Launch plan") };
  static override flags = {
    version: entityVersionFlag("launch plan"),
    limit: limitFlag,
  };

  async run(): Promise<void> {
    await this.showOrList(
      {
        kind: "LaunchPlan",
        schema: LaunchPlanSchema,
        get: async (client, id) => (await client.getLaunchPlan({ id })).launchPlan!,
        list: (client, request) =>
          client
            .listLaunchPlans(request)
            .then((r) => ({ items: r.launchPlans, nextPageToken: r.nextPageToken })),
        show: (lp) => {
          const inputs = Object.entries(lp.expectedInputs?.parameters ?? {})
            .map(
              ([k, p]) =>
                `${k}: ${describeType(p.var?.type)}${p.behavior.case === "default" ? ` = ${JSON.stringify(literalToValue(p.behavior.value))}` : " (required)"}`,
            )
            .join(", ");
          return {
            table: () =>
              renderFields([
                ["Name", lp.id?.name ?? ""],
                ["Version", lp.id?.version ?? ""],
                ["Workflow", `${lp.spec?.workflowId?.name ?? ""}:${lp.spec?.workflowId?.version ?? ""}`],
                ["State", enumName(LaunchPlan_State, lp.state, "INACTIVE")],
                ["Inputs", inputs || "-"],
                ["Fixed inputs", JSON.stringify(literalMapToValues(lp.spec?.fixedInputs))],
                [
                  "Schedule",
                  lp.spec?.schedule
                    ? `${formatSchedule(lp.spec.schedule)}, catch-up ${formatCatchUp(lp.spec.schedule)}`
                    : "-",
                ],
                ["Cluster label", lp.spec?.clusterLabel || "-"],
                ["Labels", formatLabels(lp.spec?.labels)],
                ["Created", formatTime(lp.createdAt)],
              ]),
          };
        },
        columns: [
          { header: "NAME", get: (p) => p.id?.name ?? "" },
          { header: "VERSION", get: (p) => p.id?.version ?? "" },
          {
            header: "WORKFLOW",
            get: (p) => `${p.spec?.workflowId?.name ?? ""}:${p.spec?.workflowId?.version ?? ""}`,
          },
          { header: "STATE", get: (p) => enumName(LaunchPlan_State, p.state, "INACTIVE") },
          { header: "CREATED", get: (p) => formatTime(p.createdAt) },
        ],
      },
      { name: this.args.name, version: this.flags.version, limit: this.flags.limit },
    );
  }
}
