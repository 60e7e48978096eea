/**
 * The executable view of a compiled workflow: nodes by id, upstream/downstream edges (the
 * compiler's ConnectionSet merged with the edges implied by bindings and explicit
 * dependencies), a topological order and the task templates by identifier. Built once per
 * execution and cached; rounds only read it.
 */
import type {
  BindingData,
  CompiledWorkflow,
  CompiledWorkflowClosure,
  Identifier,
  Node,
  TaskTemplate,
} from "@flotilla/proto";

/** Id of the implicit node that provides the workflow inputs. */
export const START_NODE = "start-node";
/** Id of the implicit node that consumes the workflow outputs. */
export const END_NODE = "end-node";

/** The compiled workflow cannot be executed as given (a cycle, an unknown reference). */
export class InvalidWorkflowError extends Error {
  override readonly name = "InvalidWorkflowError";
  constructor(
    readonly workflow: string,
    readonly reason: string,
  ) {
    super(`workflow ${workflow} cannot be executed: ${reason}`);
  }
}

/** A compiled workflow indexed for execution. */
export interface WorkflowGraph {
  /** The closure it was built from (for sub-workflow and task lookups). */
  readonly closure: CompiledWorkflowClosure;
  /** The workflow this graph executes (the primary or a sub-workflow). */
  readonly workflow: CompiledWorkflow;
  /** Nodes by id. */
  readonly nodes: ReadonlyMap<string, Node>;
  /** Node id → ids of real nodes it waits for (never START_NODE). */
  readonly upstream: ReadonlyMap<string, readonly string[]>;
  /** Node id → ids of real nodes waiting for it. */
  readonly downstream: ReadonlyMap<string, readonly string[]>;
  /** Every node id in a dependency-respecting order. */
  readonly order: readonly string[];
  /** Task templates by {@link identifierKey}. */
  readonly tasks: ReadonlyMap<string, TaskTemplate>;
}

/** `project/domain/name/version` of an identifier: the key of tasks and sub-workflows. */
export function identifierKey(id: Identifier | undefined): string {
  return id ? `${id.project}/${id.domain}/${id.name}/${id.version}` : "";
}

/** Node ids a binding reads outputs from. */
export function promisesOf(binding: BindingData | undefined, out: Set<string> = new Set()): Set<string> {
  const v = binding?.value;
  if (!v) return out;
  switch (v.case) {
    case "promise":
      out.add(v.value.nodeId);
      break;
    case "collection":
      for (const b of v.value.bindings) promisesOf(b, out);
      break;
    case "map":
      for (const b of Object.values(v.value.bindings)) promisesOf(b, out);
      break;
    default:
      break;
  }
  return out;
}

/**
 * Indexes `workflow` (default: the closure's primary) for execution. Throws
 * {@link InvalidWorkflowError} naming the node for unknown references or cycles.
 */
export function buildGraph(closure: CompiledWorkflowClosure, workflow?: CompiledWorkflow): WorkflowGraph {
  const wf = workflow ?? closure.primary;
  const template = wf?.template;
  if (!wf || !template) throw new InvalidWorkflowError("(unknown)", "the closure has no primary workflow");
  const wfName = identifierKey(template.id);
  const tasks = new Map<string, TaskTemplate>();
  for (const t of closure.tasks) if (t.template) tasks.set(identifierKey(t.template.id), t.template);

  const nodes = new Map<string, Node>();
  for (const n of template.nodes) {
    if (nodes.has(n.id)) throw new InvalidWorkflowError(wfName, `node id ${n.id} is used twice`);
    nodes.set(n.id, n);
  }
  const up = new Map<string, Set<string>>();
  for (const n of template.nodes) {
    const deps = new Set<string>(n.upstreamNodeIds);
    for (const b of n.inputs) promisesOf(b.binding, deps);
    for (const id of wf.connections?.upstream[n.id]?.ids ?? []) deps.add(id);
    deps.delete(START_NODE);
    for (const d of deps) {
      if (!nodes.has(d)) throw new InvalidWorkflowError(wfName, `node ${n.id} depends on unknown node ${d}`);
    }
    up.set(n.id, deps);
  }
  const down = new Map<string, string[]>();
  for (const id of nodes.keys()) down.set(id, []);
  for (const [id, deps] of up) for (const d of deps) down.get(d)?.push(id);

  // Kahn's algorithm, keeping declaration order among ready nodes for stable rounds.
  const indegree = new Map<string, number>();
  for (const [id, deps] of up) indegree.set(id, deps.size);
  const order: string[] = [];
  const ready = template.nodes.filter((n) => indegree.get(n.id) === 0).map((n) => n.id);
  for (let i = 0; i < ready.length; i++) {
    const id = ready[i];
    order.push(id);
    for (const d of down.get(id) ?? []) {
      const left = (indegree.get(d) ?? 0) - 1;
      indegree.set(d, left);
      if (left === 0) ready.push(d);
    }
  }
  if (order.length !== nodes.size) {
    const stuck = [...nodes.keys()].filter((id) => !order.includes(id));
    throw new InvalidWorkflowError(wfName, `cycle among nodes ${stuck.slice(0, 5).join(", ")}`);
  }
  const upstream = new Map<string, readonly string[]>();
  for (const [id, deps] of up) upstream.set(id, [...deps]);
  return { closure, workflow: wf, nodes, upstream, downstream: down, order, tasks };
}
