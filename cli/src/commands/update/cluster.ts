import { Flags } from "@oclif/core";
import { Cluster_State, ClusterSchema } from "@flotilla/proto";
import { nameArg } from "../../args.js";
import { FlotctlCommand } from "../../base-command.js";
import { UsageError } from "../../errors.js";
import { enumName } from "../../output/format.js";

/** `flotctl update cluster NAME --cordon|--uncordon|--drain`. */
export default class UpdateCluster extends FlotctlCommand<typeof UpdateCluster> {
  static override args = { name: nameArg("Cluster", { required: true }) };
  static override flags = {
    cordon: Flags.boolean({ summary: "Stop new placements.", exclusive: ["uncordon", "drain"] }),
    uncordon: Flags.boolean({ summary: "Accept placements again.", exclusive: ["cordon", "drain"] }),
    drain: Flags.boolean({
      summary: "Stop placements and let running executions finish.",
      exclusive: ["cordon", "uncordon"],
    }),
    reason: Flags.string({ summary: "Why (required for --cordon and --drain)." }),
  };

  async run(): Promise<void> {
    const { name } = this.args;
    const f = this.flags;
    if (!f.cordon && !f.uncordon && !f.drain)
      throw new UsageError("one of --cordon, --uncordon, --drain is required");
    if ((f.cordon || f.drain) && !f.reason)
      throw new UsageError(`--reason is required with --${f.cordon ? "cordon" : "drain"}`);
    const client = await this.client();
    let cluster;
    let remaining: number | undefined;
    if (f.cordon) cluster = (await client.cordonCluster({ name, reason: f.reason! })).cluster;
    else if (f.drain) {
      const r = await client.drainCluster({ name, reason: f.reason! });
      cluster = r.cluster;
      remaining = r.remainingExecutions;
    } else cluster = (await client.uncordonCluster({ name })).cluster;
    const state = enumName(Cluster_State, cluster?.state ?? 0, "ACTIVE");
    await this.print({
      data: {
        cluster: cluster ? await this.json(ClusterSchema, cluster) : null,
        ...(remaining !== undefined ? { remainingExecutions: remaining } : {}),
      },
      table: () =>
        `cluster ${name} is ${state}${remaining !== undefined ? ` (${remaining} execution${remaining === 1 ? "" : "s"} still running)` : ""}`,
    });
  }
}
