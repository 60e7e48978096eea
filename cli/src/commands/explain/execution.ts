import { ExplainExecutionResponseSchema, type RoutingDecision } from "@flotilla/proto";
import { ExecutionCommand } from "../../execution-command.js";
import { formatTime } from "../../output/format.js";
import { renderFields, renderTable } from "../../output/table.js";

/** `flotctl explain execution NAME`: the routing decision(s) and why. */
export default class ExplainExecution extends ExecutionCommand<typeof ExplainExecution> {
  async run(): Promise<void> {
    const id = await this.executionId();
    const r = await (await this.client()).explainExecution({ id });
    await this.print({
      data: await this.json(ExplainExecutionResponseSchema, r),
      table: () =>
        r.decisions.length === 0
          ? `execution ${id.name} has no routing decision yet\n`
          : r.decisions.map((d, i) => renderDecision(d, i, r.decisions.length)).join("\n"),
    });
  }
}

function renderDecision(d: RoutingDecision, index: number, total: number): string {
  const rule = d.matchedRule?.id
    ? `${d.matchedRule.id} (scope ${[d.matchedRule.scope?.project, d.matchedRule.scope?.domain, d.matchedRule.scope?.workflow, d.matchedRule.scope?.launchPlan].filter(Boolean).join("/") || "default"})`
    : "none (default routing)";
  const head = renderFields([
    [
      "Decision",
      `${index + 1} of ${total}${index === total - 1 ? " (latest)" : ""}, ${formatTime(d.decidedAt)}`,
    ],
    ["Chosen cluster", d.chosenCluster || `none${d.queueReason ? ` — waiting: ${d.queueReason}` : ""}`],
    ["Cluster label", d.clusterLabel ? `${d.clusterLabel} (from ${d.clusterLabelSource || "?"})` : "-"],
    ["Isolation", d.isolationLabel || "- (shared clusters)"],
    ["Matched rule", rule],
    ["Sticky", d.sticky ? "yes (reused the earlier placement of this execution name)" : "no"],
    ...(d.rolloutId ? ([["Rollout", d.rolloutId]] as Array<[string, string]>) : []),
  ]);
  const candidates = renderTable(
    [
      {
        header: "CLUSTER",
        get: (c: RoutingDecision["candidates"][number]) =>
          c.cluster + (c.cluster === d.chosenCluster ? " *" : ""),
      },
      { header: "ELIGIBLE", get: (c) => (c.eligible ? "yes" : "no") },
      { header: "REASON", get: (c) => c.reason },
      { header: "WEIGHT", get: (c) => String(c.weight) },
      { header: "DETAIL", get: (c) => c.message },
    ],
    d.candidates,
  );
  return `${head}Candidates:\n${candidates}`;
}
