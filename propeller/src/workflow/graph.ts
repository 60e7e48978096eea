/**
 * The executable view of a compiled workflow: nodes by id, upstream/downstream edges (the
 * compiler's ConnectionSet merged with the edges implied by bindings and explicit
 * dependencies), a topological order and the task templates by identifier. Built once per
 * execution and cached; rounds only read it.
 */
import { identifierKey } from "@flotilla/common";
import type {
  BindingData,
  BooleanExpression,
  BranchNode,
  CompiledWorkflow,
  CompiledWorkflowClosure,
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
  /** Graphs of every sub-workflow of the closure by {@link identifierKey} (shared by all levels). */
  readonly subWorkflows: ReadonlyMap<string, WorkflowGraph>;
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

/** Node ids a branch condition reads outputs from. */
function conditionPromises(expr: BooleanExpression | undefined, out: Set<string>): void {
  const e = expr?.expr;
  if (e?.case === "conjunction") {
    conditionPromises(e.value.leftExpression, out);
    conditionPromises(e.value.rightExpression, out);
  } else if (e?.case === "comparison") {
    for (const op of [e.value.leftValue, e.value.rightValue])
      if (op?.val.case === "promise") out.add(op.val.value.nodeId);
  }
}

/**
 * Node ids `node` reads outputs from: its bindings and, for a branch, its conditions and the
 * bindings of every alternative (they run in the branch's place, so their inputs are its
 * dependencies).
 */
export function nodeDependencies(node: Node, out: Set<string> = new Set()): Set<string> {
  for (const b of node.inputs) promisesOf(b.binding, out);
  if (node.target.case === "branchNode") {
    const ifElse = node.target.value.ifElse;
    for (const c of ifElse?.cases ?? []) {
      conditionPromises(c.condition, out);
      if (c.thenNode) nodeDependencies(c.thenNode, out);
    }
    if (ifElse?.fallback.case === "elseNode") nodeDependencies(ifElse.fallback.value, out);
  }
  return out;
}

/**
 * Indexes `workflow` (default: the closure's primary) for execution, and every sub-workflow of
 * the closure with it. Throws {@link InvalidWorkflowError} naming the workflow and node for
 * unknown references or cycles.
 */
export function buildGraph(closure: CompiledWorkflowClosure, workflow?: CompiledWorkflow): WorkflowGraph {
  const tasks = new Map<string, TaskTemplate>();
  for (const t of closure.tasks) if (t.template) tasks.set(identifierKey(t.template.id), t.template);
  const subWorkflows = new Map<string, WorkflowGraph>();
  for (const sub of closure.subWorkflows) {
    subWorkflows.set(identifierKey(sub.template?.id), indexWorkflow(closure, sub, tasks, subWorkflows));
  }
  return indexWorkflow(closure, workflow ?? closure.primary, tasks, subWorkflows);
}

/**
 * The graph of the one node a branch runs in its place (`node`: a case's then_node or the
 * else_node). Its bindings keep naming the enclosing workflow's nodes and inputs; the branch
 * handler resolves them there. Cached per node object.
 */
export function alternativeGraph(enclosing: WorkflowGraph, node: Node): WorkflowGraph {
  let g = alternatives.get(node);
  if (!g) {
    g = {
      closure: enclosing.closure,
      workflow: enclosing.workflow,
      nodes: new Map([[node.id, node]]),
      upstream: new Map([[node.id, []]]),
      downstream: new Map([[node.id, []]]),
      order: [node.id],
      tasks: enclosing.tasks,
      subWorkflows: enclosing.subWorkflows,
    };
    alternatives.set(node, g);
  }
  return g;
}

const alternatives = new WeakMap<Node, WorkflowGraph>();

/** The alternative of `branch` with id `id` (a case's then_node or the else_node). */
export function branchAlternative(branch: BranchNode, id: string): Node | undefined {
  const ifElse = branch.ifElse;
  for (const c of ifElse?.cases ?? []) if (c.thenNode?.id === id) return c.thenNode;
  if (ifElse?.fallback.case === "elseNode" && ifElse.fallback.value.id === id) return ifElse.fallback.value;
  return undefined;
}

/**
 * The graph of the nodes running inside `node` given its status: the sub-workflow of a
 * sub-workflow node, the taken alternative of a branch; undefined for other kinds, a branch that
 * took nothing yet, or a sub-workflow missing from the closure.
 */
export function innerGraphOf(
  graph: WorkflowGraph,
  node: Node,
  branchTakenNodeId: string,
): WorkflowGraph | undefined {
  const t = node.target;
  if (t.case === "workflowNode" && t.value.reference.case === "subWorkflowRef") {
    return graph.subWorkflows.get(identifierKey(t.value.reference.value));
  }
  if (t.case === "branchNode" && branchTakenNodeId) {
    const taken = branchAlternative(t.value, branchTakenNodeId);
    return taken ? alternativeGraph(graph, taken) : undefined;
  }
  return undefined;
}

function indexWorkflow(
  closure: CompiledWorkflowClosure,
  wf: CompiledWorkflow | undefined,
  tasks: ReadonlyMap<string, TaskTemplate>,
  subWorkflows: ReadonlyMap<string, WorkflowGraph>,
): WorkflowGraph {
  const template = wf?.template;
  if (!wf || !template) throw new InvalidWorkflowError("(unknown)", "the closure has no primary workflow");
  const wfName = identifierKey(template.id);

  const nodes = new Map<string, Node>();
  for (const n of template.nodes) {
    if (nodes.has(n.id)) throw new InvalidWorkflowError(wfName, `node id ${n.id} is used twice`);
    nodes.set(n.id, n);
  }
  const up = new Map<string, Set<string>>();
  for (const n of template.nodes) {
    const deps = nodeDependencies(n, new Set<string>(n.upstreamNodeIds));
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
  return { closure, workflow: wf, nodes, upstream, downstream: down, order, tasks, subWorkflows };
}
