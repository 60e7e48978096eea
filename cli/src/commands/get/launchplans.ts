import { Args, Flags } from "@oclif/core";
import { LaunchPlan_State, LaunchPlanSchema, type LaunchPlan } from "@flotilla/proto";
import { FlotctlCommand } from "../../base-command.js";
import { describeType, literalMapToValues, literalToValue } from "../../literals.js";
import { enumName, formatLabels, formatTime } from "../../output/format.js";
import { renderFields, renderTable } from "../../output/table.js";
import { entityId, listVersions } from "../../resources.js";

/** `flotctl get launchplans [NAME] [--version V]`. */
export default class GetLaunchPlans extends FlotctlCommand<typeof GetLaunchPlans> {
  static override summary = "List launch plans, the versions of one, or one version with its inputs.";
  static override examples = [
    "<%= config.bin %> get launchplans -p flytesnacks -d development",
    "<%= config.bin %> get launchplans hello-lp --version v1 -o yaml",
  ];
  static override args = { name: Args.string({ description: "Launch plan name." }) };
  static override flags = {
    version: Flags.string({ summary: "Show this version of the named launch plan." }),
    limit: Flags.integer({ summary: "Maximum rows to list.", default: 100, min: 1 }),
  };

  async run(): Promise<void> {
    const client = await this.client();
    const project = await this.project();
    const domain = await this.domain();
    if (this.args.name && this.flags.version) {
      const { launchPlan } = await client.getLaunchPlan({
        id: entityId("LaunchPlan", project, domain, this.args.name, this.flags.version),
      });
      const lp = launchPlan!;
      const inputs = Object.entries(lp.expectedInputs?.parameters ?? {})
        .map(
          ([k, p]) =>
            `${k}: ${describeType(p.var?.type)}${p.behavior.case === "default" ? ` = ${JSON.stringify(literalToValue(p.behavior.value))}` : " (required)"}`,
        )
        .join(", ");
      const sched = lp.spec?.schedule?.scheduleExpression;
      await this.print({
        data: await this.json(LaunchPlanSchema, lp),
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
              sched?.case === "cronExpression"
                ? sched.value
                : sched?.case === "fixedRate"
                  ? `every ${sched.value.seconds}s`
                  : "-",
            ],
            ["Cluster label", lp.spec?.clusterLabel || "-"],
            ["Labels", formatLabels(lp.spec?.labels)],
            ["Created", formatTime(lp.createdAt)],
          ]),
      });
      return;
    }
    const plans = await listVersions(this.flags.limit, (pageToken, pageSize) =>
      client
        .listLaunchPlans({ id: { project, domain, name: this.args.name ?? "" }, pageToken, pageSize })
        .then((r) => ({ items: r.launchPlans, next: r.nextPageToken })),
    );
    const data = [];
    for (const p of plans) data.push(await this.json(LaunchPlanSchema, p));
    await this.print({
      data,
      table: () =>
        renderTable(
          [
            { header: "NAME", get: (p: LaunchPlan) => p.id?.name ?? "" },
            { header: "VERSION", get: (p) => p.id?.version ?? "" },
            {
              header: "WORKFLOW",
              get: (p) => `${p.spec?.workflowId?.name ?? ""}:${p.spec?.workflowId?.version ?? ""}`,
            },
            { header: "STATE", get: (p) => enumName(LaunchPlan_State, p.state, "INACTIVE") },
            { header: "CREATED", get: (p) => formatTime(p.createdAt) },
          ],
          plans,
          { color: this.color },
        ),
    });
  }
}
