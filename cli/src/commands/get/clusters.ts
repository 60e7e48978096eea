import { Args, Flags } from "@oclif/core";
import { Cluster_Health, Cluster_State, ClusterSchema, type Cluster } from "@flotilla/proto";
import { FlotctlCommand } from "../../base-command.js";
import { UsageError } from "../../errors.js";
import { parseKeyValues } from "../../flags.js";
import { enumName, formatLabels, formatTime } from "../../output/format.js";
import { renderFields, renderTable } from "../../output/table.js";
import { listVersions } from "../../resources.js";

/** `flotctl get clusters [NAME]`. */
export default class GetClusters extends FlotctlCommand<typeof GetClusters> {
  static override summary = "List registered data-plane clusters with state and health, or show one.";
  static override examples = [
    "<%= config.bin %> get clusters",
    "<%= config.bin %> get clusters --state CORDONED",
    "<%= config.bin %> get clusters --selector region=eu-west-1",
    "<%= config.bin %> get clusters cluster-a -o yaml",
  ];
  static override args = { name: Args.string({ description: "Cluster name." }) };
  static override flags = {
    state: Flags.string({
      summary: "Only clusters in this state.",
      options: ["ACTIVE", "CORDONED", "DRAINING"],
    }),
    selector: Flags.string({
      summary: "Only clusters with this label (key=value, repeatable).",
      multiple: true,
    }),
    limit: Flags.integer({ summary: "Maximum rows to list.", default: 100, min: 1 }),
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
            ["Active executions", String(r.activeExecutions)],
          ]),
      });
      return;
    }
    let labelSelector: Record<string, string>;
    try {
      labelSelector = parseKeyValues(this.flags.selector, "selector");
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    const state = this.flags.state
      ? Cluster_State[this.flags.state as keyof typeof Cluster_State]
      : Cluster_State.UNSPECIFIED;
    const clusters = await listVersions(this.flags.limit, (pageToken, pageSize) =>
      client
        .listClusters({ labelSelector, state, pageToken, pageSize })
        .then((r) => ({ items: r.clusters, next: r.nextPageToken })),
    );
    const data = [];
    for (const c of clusters) data.push(await this.json(ClusterSchema, c));
    await this.print({
      data,
      table: () =>
        renderTable(
          [
            { header: "NAME", get: (c: Cluster) => c.name },
            { header: "STATE", get: (c) => enumName(Cluster_State, c.state, "ACTIVE") },
            { header: "HEALTH", get: (c) => enumName(Cluster_Health, c.health, "UNKNOWN") },
            { header: "LAST HEARTBEAT", get: (c) => formatTime(c.lastHeartbeatAt) },
            { header: "LABELS", get: (c) => formatLabels(c.labels) },
            { header: "ENDPOINT", get: (c) => c.apiEndpoint },
          ],
          clusters,
          { color: this.color },
        ),
    });
  }
}
