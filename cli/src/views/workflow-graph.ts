/** Renderings of a registered workflow's DAG: Graphviz dot and an indented text listing. */
import type { Node, Workflow } from "@flotilla/proto";

function targetOf(n: Node): string {
  const t = n.target;
  if (t.case === "taskNode") return `task ${t.value.referenceId?.name ?? "?"}`;
  if (t.case === "workflowNode") {
    const r = t.value.reference;
    return r.case === "launchplanRef" ? `launch plan ${r.value.name}` : `workflow ${r.value?.name ?? "?"}`;
  }
  if (t.case === "branchNode") return "branch";
  if (t.case === "arrayNode") return "array";
  return "?";
}

/** Upstream node ids of each node (from bindings and explicit dependencies). */
export function upstreamOf(w: Workflow): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const connections = w.closure?.primary?.connections?.upstream;
  for (const n of w.closure?.primary?.template?.nodes ?? []) {
    const fromConnections = connections?.[n.id]?.ids.filter((id) => id !== "start-node");
    const deps = new Set(fromConnections ?? []);
    if (!fromConnections) {
      for (const b of n.inputs)
        if (b.binding?.value.case === "promise") deps.add(b.binding.value.value.nodeId);
      for (const u of n.upstreamNodeIds) deps.add(u);
    }
    out.set(n.id, [...deps].sort());
  }
  return out;
}

function quote(s: string): string {
  return JSON.stringify(s);
}

/** Graphviz dot of the workflow DAG (start → nodes → end). */
export function workflowDot(w: Workflow): string {
  const nodes = w.closure?.primary?.template?.nodes ?? [];
  const up = upstreamOf(w);
  const hasDownstream = new Set([...up.values()].flat());
  const lines = [
    `digraph ${quote(w.id?.name ?? "workflow")} {`,
    "  rankdir=LR;",
    '  "start-node" [shape=circle,label="start"];',
    '  "end-node" [shape=doublecircle,label="end"];',
  ];
  for (const n of nodes)
    lines.push(`  ${quote(n.id)} [shape=box,label=${quote(`${n.id}\n${targetOf(n)}`)}];`);
  for (const n of nodes) {
    const deps = up.get(n.id) ?? [];
    if (deps.length === 0) lines.push(`  "start-node" -> ${quote(n.id)};`);
    for (const d of deps) lines.push(`  ${quote(d)} -> ${quote(n.id)};`);
    if (!hasDownstream.has(n.id)) lines.push(`  ${quote(n.id)} -> "end-node";`);
  }
  lines.push("}");
  return lines.join("\n") + "\n";
}

/** One line per node: id, what it runs, and what it waits for. */
export function workflowTree(w: Workflow): string {
  const nodes = w.closure?.primary?.template?.nodes ?? [];
  const up = upstreamOf(w);
  return (
    nodes
      .map(
        (n) =>
          `  ${n.id}  (${targetOf(n)})${up.get(n.id)?.length ? `  after ${up.get(n.id)!.join(", ")}` : ""}`,
      )
      .join("\n") + "\n"
  );
}
