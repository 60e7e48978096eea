import { Flags } from "@oclif/core";
import { Cluster_Health, Cluster_State, ClusterSchema, type Cluster } from "@flotilla/proto";
import { nameArg } from "../../args.js";
import { FlotctlCommand } from "../../base-command.js";
import { labelFilterFlag, limitFlag, parseKeyValues } from "../../flags.js";
import { enumName, formatLabels, formatTime } from "../../output/format.js";
import { renderFields, type Column } from "../../output/table.js";
import { readPages } from "../../resources.js";

/** The columns of the cluster list. */
const CLUSTER_COLUMNS: Column<Cluster>[] = [
  { header: "NAME", get: (c) => c.name },
  { header: "STATE", get: (c) => enumName(Cluster_State, c.state, "ACTIVE") },
  { header: "HEALTH", get: (c) => enumName(Cluster_Health, c.health, "UNKNOWN") },
  { header: "LAST HEARTBEAT", get: (c) => formatTime(c.lastHeartbeatAt) },
  { header: "LABELS", get: (c) => formatLabels(c.labels) },
  { header: "ENDPOINT", get: (c) => c.apiEndpoint },
];

/** `flotctl get clusters [NAME]`. */
export default class GetClusters extends FlotctlCommand<typeof GetClusters> {
  static override args = { name: nameArg("Cluster") };
  static override flags = {
    state: Flags.string({
      summary: "Only clusters in this state.",
      options: ["ACTIVE", "CORDONED", "DRAINING"],
    }),
    selector: labelFilterFlag("clusters"),
    limit: limitFlag,
  };

  async run(): Promise<void> {
    const client = await this.client();
    if (this.args.name) {
      const r = await client.getCluster({ name: this.args.name });
      const c = r.cluster!;
      await this.print({
        data: { ...((await this.json(ClusterSchema, c)) as object), activeExecutions: r.activeExecutions },
        table: () =>
          renderFields([
            ["Name", c.name],
            ["Endpoint", c.apiEndpoint],
            [
              "State",
              enumName(Cluster_State, c.state, "ACTIVE") + (c.stateReason ? ` (${c.stateReason})` : ""),
            ],
            ["Health", enumName(Cluster_Health, c.health, "UNKNOWN")],
            ["Last heartbeat", formatTime(c.lastHeartbeatAt)],
            ["Propeller", c.propellerVersion || "-"],
            ["Labels", formatLabels(c.labels)],
            ["Priority", String(c.priority)],
            [
              "Prices",
              c.prices && (c.prices.cpuHour || c.prices.memoryGibHour || c.prices.gpuHour)
                ? `$${c.prices.cpuHour} / core-hour, $${c.prices.memoryGibHour} / GiB-hour, $${c.prices.gpuHour} / GPU-hour`
                : "none (costs 0)",
            ],
            ["Active executions", String(r.activeExecutions)],
          ]),
      });
      return;
    }
    const labelSelector = parseKeyValues(this.flags.selector, "selector");
    const state = this.flags.state
      ? Cluster_State[this.flags.state as keyof typeof Cluster_State]
      : Cluster_State.UNSPECIFIED;
    const clusters = await readPages(
      this.flags.limit,
      (page) => client.listClusters({ labelSelector, state, ...page }),
      (r) => r.clusters,
    );
    await this.printList(ClusterSchema, clusters, CLUSTER_COLUMNS);
  }
}
