/** Plain-text rendering of an {@link ExecutionView} (`get executions NAME --details`). */
import { formatDollars, formatDuration } from "../output/format.js";
import { colorPhase, renderFields, renderTable } from "../output/table.js";
import { flattenNodes, type ExecutionView, type NodeView } from "./snapshot.js";

/** Header fields plus the node tree as an aligned table (sub-nodes indented). */
export function renderExecutionDetails(view: ExecutionView, color = false): string {
  const rows = flattenNodes(view.nodes);
  const nodeCost = (n: NodeView) => n.attempts.reduce((sum, a) => sum + BigInt(a.costMicros), 0n);
  const totalCost = rows.reduce((sum, r) => sum + nodeCost(r.node), 0n);
  const head = renderFields([
    ["Execution", `${view.id.project}/${view.id.domain}/${view.id.name}`],
    ["Phase", colorPhase(view.phase, color)],
    [
      "Target",
      view.launchPlan
        ? `launch plan ${view.launchPlan} (workflow ${view.workflow})`
        : `workflow ${view.workflow}`,
    ],
    ["Cluster", view.cluster || `- ${view.message ? `(${view.message})` : "(not placed yet)"}`],
    ["Cluster label", view.clusterLabel || "-"],
    ["Created", view.createdAt],
    ["Started", view.startedAt],
    ["Duration", formatDuration(view.durationMs)],
    ["Cost", `$${formatDollars(totalCost)} (finished attempts)`],
    ...(view.error ? ([["Error", view.error]] as Array<[string, string]>) : []),
    ...(view.inputs ? ([["Inputs", JSON.stringify(view.inputs)]] as Array<[string, string]>) : []),
    ...(view.outputs ? ([["Outputs", JSON.stringify(view.outputs)]] as Array<[string, string]>) : []),
  ]);
  const table = renderTable(
    [
      {
        header: "NODE",
        get: (r: { node: NodeView; depth: number }) => `${"  ".repeat(r.depth)}${r.node.id}`,
      },
      { header: "PHASE", get: (r) => colorPhase(r.node.phase, color) },
      { header: "TASK", get: (r) => r.node.task || "-" },
      { header: "STARTED", get: (r) => r.node.startedAt },
      { header: "DURATION", get: (r) => formatDuration(r.node.durationMs) },
      {
        header: "ATTEMPTS",
        get: (r) =>
          r.node.attempts.length ? r.node.attempts.map((a) => `#${a.attempt} ${a.phase}`).join(", ") : "-",
      },
      { header: "COST ($)", get: (r) => formatDollars(nodeCost(r.node)) },
      { header: "ERROR", get: (r) => r.node.error || r.node.message || "" },
    ],
    rows,
    { color },
  );
  return `${head}\nNodes:\n${rows.length ? table : "  (no node has started yet)\n"}`;
}
