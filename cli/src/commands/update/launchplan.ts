import { Flags } from "@oclif/core";
import { LaunchPlan_State, LaunchPlanSchema } from "@flotilla/proto";
import { nameArg } from "../../args.js";
import { FlotctlCommand } from "../../base-command.js";
import { UsageError } from "../../errors.js";
import { enumName } from "../../output/format.js";
import { entityId } from "../../resources.js";

/** `flotctl update launchplan NAME [--version V] --activate|--deactivate`. */
export default class UpdateLaunchPlan extends FlotctlCommand<typeof UpdateLaunchPlan> {
  static override args = { name: nameArg("Launch plan", { required: true }) };
  static override flags = {
    version: Flags.string({
      summary: "The version to change (default: the latest for --activate, the active one for --deactivate).",
    }),
    activate: Flags.boolean({
      summary: "Make this version the active one (its schedule fires; the previously active version stops).",
      exclusive: ["deactivate"],
    }),
    deactivate: Flags.boolean({ summary: "Deactivate this version (its schedule stops)." }),
  };

  async run(): Promise<void> {
    const { name } = this.args;
    const f = this.flags;
    if (!f.activate && !f.deactivate) throw new UsageError("one of --activate, --deactivate is required");
    const project = await this.project();
    const domain = await this.domain();
    const client = await this.client();
    let version = f.version;
    if (!version) {
      const { launchPlans } = await client.listLaunchPlans({
        id: { project, domain, name },
        pageSize: 1,
        ...(f.deactivate ? { state: LaunchPlan_State.ACTIVE } : {}),
      });
      version = launchPlans[0]?.id?.version;
      if (!version) {
        throw new UsageError(
          f.deactivate
            ? `launch plan ${name} has no active version in ${project}/${domain}`
            : `launch plan ${name} has no versions in ${project}/${domain}`,
        );
      }
    }
    const id = entityId("LaunchPlan", project, domain, name, version);
    const state = f.activate ? LaunchPlan_State.ACTIVE : LaunchPlan_State.INACTIVE;
    const { launchPlan } = await client.updateLaunchPlan({ id, state });
    await this.print({
      data: { launchPlan: launchPlan ? await this.json(LaunchPlanSchema, launchPlan) : null },
      table: () =>
        `launch plan ${name} version ${version} is ${enumName(LaunchPlan_State, launchPlan?.state ?? 0, "INACTIVE")}`,
    });
  }
}
