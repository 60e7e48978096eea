import { create } from "@bufbuild/protobuf";
import { identifierKey, isAssignable } from "@flotilla/common";
import {
  ComparisonExpression_Operator,
  CompiledTaskSchema,
  CompiledWorkflowClosureSchema,
  CompiledWorkflowSchema,
  ConnectionSetSchema,
  LiteralTypeSchema,
  NodeIdListSchema,
  ResourceType,
  type BindingData,
  type BooleanExpression,
  type CompiledWorkflow,
  type CompiledWorkflowClosure,
  type Identifier,
  type LiteralType,
  type Node,
  type Operand,
  type ParameterMap,
  type TaskTemplate,
  type TypedInterface,
  type WorkflowTemplate,
} from "@flotilla/proto";
import { CompilationError, type CompileProblem } from "../errors.js";
import { checkScalar, describeType, validateType } from "./literal-types.js";

/** Id of the implicit node that provides the workflow inputs. */
export const START_NODE = "start-node";
/** Id of the implicit node that consumes the workflow outputs. */
export const END_NODE = "end-node";

const NODE_ID = /^[a-z0-9_-]{1,63}$/;
/** Default limit on the nodes of one workflow template (the admin's `registry.maxWorkflowNodes`). */
export const DEFAULT_MAX_WORKFLOW_NODES = 1000;

/** Limits of {@link compileWorkflow}. */
export interface CompileOptions {
  /** Most nodes one workflow template (the primary or a sub-workflow) may have; default 1000. */
  maxNodes?: number;
}

/** Everything a workflow may reference, already fetched by the caller. */
export interface CompilerLookups {
  /** Registered task templates, by {@link identifierKey}. */
  tasks: ReadonlyMap<string, TaskTemplate>;
  /** Sub-workflow templates (registered or part of the request), by {@link identifierKey}. */
  workflows: ReadonlyMap<string, WorkflowTemplate>;
  /** Launch plans referenced by workflow nodes: their workflow interface and expected inputs. */
  launchPlans: ReadonlyMap<string, { workflowInterface: TypedInterface; expectedInputs: ParameterMap }>;
}

/** Identifiers referenced by a set of workflow templates, by kind. */
export interface WorkflowReferences {
  tasks: Identifier[];
  workflows: Identifier[];
  launchPlans: Identifier[];
}

/** Canonical string key of an identifier (`project/domain/name@version`), re-exported for admin's managers. */
export { identifierKey };

/**
 * Lists the tasks, sub-workflows and launch plans that `template`'s nodes (including nodes nested
 * in branches and array nodes) reference, each once. Pure; used by the caller to fetch lookups.
 */
export function collectReferences(template: WorkflowTemplate): WorkflowReferences {
  const out: WorkflowReferences = { tasks: [], workflows: [], launchPlans: [] };
  const seen = new Set<string>();
  const add = (list: Identifier[], kind: string, id: Identifier | undefined) => {
    if (!id) return;
    const key = `${kind}:${identifierKey(id)}`;
    if (seen.has(key)) return;
    seen.add(key);
    list.push(id);
  };
  const visit = (node: Node | undefined) => {
    const target = node?.target;
    switch (target?.case) {
      case "taskNode":
        add(out.tasks, "task", target.value.referenceId);
        break;
      case "workflowNode": {
        const ref = target.value.reference;
        if (ref.case === "subWorkflowRef") add(out.workflows, "workflow", ref.value);
        if (ref.case === "launchplanRef") add(out.launchPlans, "lp", ref.value);
        break;
      }
      case "branchNode": {
        const ifElse = target.value.ifElse;
        for (const c of ifElse?.cases ?? []) visit(c.thenNode);
        if (ifElse?.fallback.case === "elseNode") visit(ifElse.fallback.value);
        break;
      }
      case "arrayNode":
        visit(target.value.node);
        break;
      default:
        break;
    }
  };
  for (const node of template.nodes) visit(node);
  return out;
}

interface VarSpec {
  type: LiteralType | undefined;
  required: boolean;
}

interface NodeInterface {
  inputs: Map<string, VarSpec>;
  outputs: Map<string, LiteralType | undefined>;
}

function fromTyped(iface: TypedInterface | undefined): NodeInterface {
  return {
    inputs: new Map(
      Object.entries(iface?.inputs?.variables ?? {}).map(([k, v]) => [k, { type: v.type, required: true }]),
    ),
    outputs: new Map(Object.entries(iface?.outputs?.variables ?? {}).map(([k, v]) => [k, v.type])),
  };
}

class Compilation {
  readonly problems: CompileProblem[] = [];
  readonly tasks = new Map<string, TaskTemplate>();
  readonly subWorkflows = new Map<string, CompiledWorkflow>();
  private readonly inProgress: string[] = [];

  constructor(
    private readonly lookups: CompilerLookups,
    private readonly maxNodes: number,
  ) {}

  problem(workflow: string, code: string, nodeId: string, variable: string, text: string): void {
    const where = [
      `workflow ${workflow}`,
      nodeId ? `node "${nodeId}"` : "",
      variable ? `variable "${variable}"` : "",
    ]
      .filter(Boolean)
      .join(" ");
    this.problems.push({ code, nodeId, variable, message: `${where}: ${text}` });
  }

  compile(template: WorkflowTemplate): CompiledWorkflow {
    const wf = template.id ? identifierKey(template.id) : "<no id>";
    this.inProgress.push(wf);
    try {
      return this.compileTemplate(template, wf);
    } finally {
      this.inProgress.pop();
    }
  }

  private compileTemplate(template: WorkflowTemplate, wf: string): CompiledWorkflow {
    if (template.id?.resourceType !== ResourceType.WORKFLOW) {
      this.problem(
        wf,
        "InvalidIdentifier",
        "",
        "",
        "template id must have resource_type RESOURCE_TYPE_WORKFLOW",
      );
    }
    const workflowInputs = fromTyped(template.interface).inputs;
    const workflowOutputs = fromTyped(template.interface).outputs;
    for (const [name, spec] of workflowInputs) {
      const bad = validateType(spec.type);
      if (bad) this.problem(wf, "InvalidType", "", name, `workflow input: ${bad}`);
    }
    for (const [name, type] of workflowOutputs) {
      const bad = validateType(type);
      if (bad) this.problem(wf, "InvalidType", "", name, `workflow output: ${bad}`);
    }
    if (template.nodes.length === 0)
      this.problem(wf, "NoNodes", "", "", "a workflow needs at least one node");
    if (template.nodes.length > this.maxNodes) {
      this.problem(
        wf,
        "TooManyNodes",
        "",
        "",
        `${template.nodes.length} nodes exceed the limit of ${this.maxNodes}`,
      );
    }

    // Pass 1: ids and interfaces of the top-level nodes.
    const nodes = new Map<string, Node>();
    const interfaces = new Map<string, NodeInterface>();
    const allIds = new Set<string>();
    const registerId = (node: Node) => {
      if (!NODE_ID.test(node.id) || node.id === START_NODE || node.id === END_NODE) {
        this.problem(
          wf,
          "InvalidNodeId",
          node.id,
          "",
          `node id must be 1-63 chars of [a-z0-9-_] and not reserved`,
        );
      }
      if (allIds.has(node.id))
        this.problem(wf, "DuplicateNodeId", node.id, "", "node id is used more than once");
      allIds.add(node.id);
    };
    for (const node of template.nodes) {
      registerId(node);
      nodes.set(node.id, node);
      interfaces.set(node.id, this.interfaceOf(node, wf, registerId));
    }

    // Pass 2: bindings, type checks and edges.
    const upstream = new Map<string, Set<string>>();
    const ctx: BindingContext = { wf, nodes, interfaces, workflowInputs };
    for (const node of template.nodes) {
      const deps = new Set<string>();
      this.checkNode(node, interfaces.get(node.id)!, ctx, deps);
      for (const up of node.upstreamNodeIds) {
        if (!nodes.has(up)) {
          this.problem(wf, "UnknownNode", node.id, "", `upstream_node_ids names unknown node "${up}"`);
        } else {
          deps.add(up);
        }
      }
      upstream.set(node.id, deps);
    }

    // Workflow outputs.
    const endDeps = new Set<string>();
    const boundOutputs = new Set<string>();
    for (const binding of template.outputs) {
      if (!workflowOutputs.has(binding.var)) {
        this.problem(
          wf,
          "UnknownWorkflowOutput",
          END_NODE,
          binding.var,
          "output binding names no output of the interface",
        );
        continue;
      }
      if (boundOutputs.has(binding.var)) {
        this.problem(
          wf,
          "DuplicateBinding",
          END_NODE,
          binding.var,
          "workflow output is bound more than once",
        );
      }
      boundOutputs.add(binding.var);
      this.checkBinding(
        binding.binding,
        workflowOutputs.get(binding.var),
        ctx,
        END_NODE,
        binding.var,
        endDeps,
      );
    }
    for (const name of workflowOutputs.keys()) {
      if (!boundOutputs.has(name)) {
        this.problem(wf, "MissingOutputBinding", END_NODE, name, "workflow output is not bound");
      }
    }

    this.checkGraph(
      wf,
      template.nodes.map((n) => n.id),
      upstream,
    );
    return create(CompiledWorkflowSchema, {
      template,
      connections: connections(template, upstream, endDeps),
    });
  }

  private interfaceOf(node: Node, wf: string, registerId: (n: Node) => void): NodeInterface {
    const target = node.target;
    switch (target.case) {
      case "taskNode": {
        const id = target.value.referenceId;
        if (!id || id.resourceType !== ResourceType.TASK) {
          this.problem(
            wf,
            "InvalidReference",
            node.id,
            "",
            "task_node.reference_id must name a task (RESOURCE_TYPE_TASK)",
          );
          return fromTyped(undefined);
        }
        const task = this.lookups.tasks.get(identifierKey(id));
        if (!task) {
          this.problem(wf, "UnknownTask", node.id, "", `task ${identifierKey(id)} is not registered`);
          return fromTyped(undefined);
        }
        this.tasks.set(identifierKey(id), task);
        return fromTyped(task.interface);
      }
      case "workflowNode": {
        const ref = target.value.reference;
        if (ref.case === "subWorkflowRef") {
          const key = identifierKey(ref.value);
          const sub = this.lookups.workflows.get(key);
          if (!sub || ref.value.resourceType !== ResourceType.WORKFLOW) {
            this.problem(
              wf,
              "UnknownWorkflow",
              node.id,
              "",
              `sub-workflow ${key} is neither registered nor in the request`,
            );
            return fromTyped(undefined);
          }
          if (this.inProgress.includes(key)) {
            this.problem(
              wf,
              "RecursiveWorkflow",
              node.id,
              "",
              `sub-workflow ${key} includes itself (${[...this.inProgress, key].join(" → ")})`,
            );
            return fromTyped(sub.interface);
          }
          if (!this.subWorkflows.has(key)) this.subWorkflows.set(key, this.compile(sub));
          return fromTyped(sub.interface);
        }
        if (ref.case === "launchplanRef") {
          const key = identifierKey(ref.value);
          const lp = this.lookups.launchPlans.get(key);
          if (!lp || ref.value.resourceType !== ResourceType.LAUNCH_PLAN) {
            this.problem(wf, "UnknownLaunchPlan", node.id, "", `launch plan ${key} is not registered`);
            return fromTyped(undefined);
          }
          const iface = fromTyped(lp.workflowInterface);
          const params = lp.expectedInputs.parameters;
          iface.inputs = new Map(
            Object.entries(params).map(([k, p]) => [
              k,
              { type: p.var?.type, required: p.behavior.case !== "default" },
            ]),
          );
          return iface;
        }
        this.problem(wf, "MissingTarget", node.id, "", "workflow_node has no reference");
        return fromTyped(undefined);
      }
      case "branchNode": {
        const ifElse = target.value.ifElse;
        const branches: Node[] = [];
        if (!ifElse || ifElse.cases.length === 0) {
          this.problem(wf, "InvalidBranch", node.id, "", "branch needs at least one case");
        }
        for (const [i, c] of (ifElse?.cases ?? []).entries()) {
          if (!c.condition) this.problem(wf, "InvalidBranch", node.id, "", `case ${i} has no condition`);
          if (!c.thenNode) this.problem(wf, "InvalidBranch", node.id, "", `case ${i} has no then_node`);
          else branches.push(c.thenNode);
        }
        if (ifElse?.fallback.case === "elseNode") branches.push(ifElse.fallback.value);
        else if (ifElse && ifElse.fallback.case !== "error") {
          this.problem(wf, "InvalidBranch", node.id, "", "branch needs an else_node or an error fallback");
        }
        const inner = branches.map((b) => {
          registerId(b);
          return { node: b, iface: this.interfaceOf(b, wf, registerId) };
        });
        // A branch produces what every alternative produces, with one type.
        const outputs = new Map<string, LiteralType | undefined>();
        if (inner.length > 0) {
          for (const [name, type] of inner[0].iface.outputs) {
            if (
              inner.every((b) => b.iface.outputs.has(name) && isAssignable(type, b.iface.outputs.get(name)))
            ) {
              outputs.set(name, type);
            }
          }
        }
        branchInner.set(node, inner);
        return { inputs: new Map(), outputs };
      }
      case "arrayNode": {
        const sub = target.value.node;
        if (!sub) {
          this.problem(wf, "InvalidArrayNode", node.id, "", "array_node.node is not set");
          return fromTyped(undefined);
        }
        registerId(sub);
        const iface = this.interfaceOf(sub, wf, registerId);
        const list = (t: LiteralType | undefined): LiteralType =>
          create(LiteralTypeSchema, {
            type: { case: "collectionType", value: t ?? create(LiteralTypeSchema) },
          });
        return {
          inputs: new Map(
            [...iface.inputs].map(([k, v]) => [k, { type: list(v.type), required: v.required }]),
          ),
          outputs: new Map([...iface.outputs].map(([k, v]) => [k, list(v)])),
        };
      }
      default:
        this.problem(
          wf,
          "MissingTarget",
          node.id,
          "",
          "node has no target (task_node, workflow_node, branch_node or array_node)",
        );
        return fromTyped(undefined);
    }
  }

  private checkNode(node: Node, iface: NodeInterface, ctx: BindingContext, deps: Set<string>): void {
    const bound = new Set<string>();
    for (const binding of node.inputs) {
      const spec = iface.inputs.get(binding.var);
      if (!spec) {
        this.problem(
          ctx.wf,
          "UnknownInput",
          node.id,
          binding.var,
          "binding names no input of the node's target",
        );
        continue;
      }
      if (bound.has(binding.var))
        this.problem(ctx.wf, "DuplicateBinding", node.id, binding.var, "input is bound more than once");
      bound.add(binding.var);
      this.checkBinding(binding.binding, spec.type, ctx, node.id, binding.var, deps);
    }
    for (const [name, spec] of iface.inputs) {
      if (spec.required && !bound.has(name)) {
        this.problem(
          ctx.wf,
          "MissingInput",
          node.id,
          name,
          `required input of type ${describeType(spec.type)} is not bound`,
        );
      }
    }
    if (node.target.case === "branchNode") {
      const ifElse = node.target.value.ifElse;
      for (const c of ifElse?.cases ?? []) this.checkCondition(c.condition, ctx, node.id, deps, 0);
      for (const b of branchInner.get(node) ?? []) this.checkNode(b.node, b.iface, ctx, deps);
    }
    deps.delete(node.id);
  }

  private checkCondition(
    expr: BooleanExpression | undefined,
    ctx: BindingContext,
    nodeId: string,
    deps: Set<string>,
    depth: number,
  ): void {
    if (!expr) return;
    if (depth > 16) {
      this.problem(ctx.wf, "InvalidBranch", nodeId, "", "condition nesting is deeper than 16");
      return;
    }
    const e = expr.expr;
    if (e.case === "conjunction") {
      this.checkCondition(e.value.leftExpression, ctx, nodeId, deps, depth + 1);
      this.checkCondition(e.value.rightExpression, ctx, nodeId, deps, depth + 1);
    } else if (e.case === "comparison") {
      if (e.value.operator === ComparisonExpression_Operator.UNSPECIFIED)
        this.problem(ctx.wf, "InvalidBranch", nodeId, "", "comparison operator is unspecified");
      this.checkOperand(e.value.leftValue, ctx, nodeId, deps);
      this.checkOperand(e.value.rightValue, ctx, nodeId, deps);
    } else {
      this.problem(ctx.wf, "InvalidBranch", nodeId, "", "condition expression is empty");
    }
  }

  private checkOperand(
    op: Operand | undefined,
    ctx: BindingContext,
    nodeId: string,
    deps: Set<string>,
  ): void {
    const v = op?.val;
    if (!v?.case) {
      this.problem(ctx.wf, "InvalidBranch", nodeId, "", "comparison operand is empty");
    } else if (v.case === "promise") {
      this.resolvePromise(v.value.nodeId, v.value.var, ctx, nodeId, v.value.var, deps);
    } else if (v.case === "workflowInput" && !ctx.workflowInputs.has(v.value.var)) {
      this.problem(
        ctx.wf,
        "UnknownWorkflowInput",
        nodeId,
        v.value.var,
        "condition names no input of the workflow",
      );
    }
  }

  private resolvePromise(
    upstreamId: string,
    outputVar: string,
    ctx: BindingContext,
    nodeId: string,
    variable: string,
    deps: Set<string>,
  ): LiteralType | undefined | null {
    const upstreamIface = ctx.interfaces.get(upstreamId);
    if (!upstreamIface) {
      this.problem(
        ctx.wf,
        "UnknownNode",
        nodeId,
        variable,
        `binding references unknown node "${upstreamId}"`,
      );
      return null;
    }
    if (upstreamId === nodeId) {
      this.problem(ctx.wf, "Cycle", nodeId, variable, "node consumes its own output");
      return null;
    }
    deps.add(upstreamId);
    if (!upstreamIface.outputs.has(outputVar)) {
      this.problem(
        ctx.wf,
        "UnknownOutput",
        nodeId,
        variable,
        `node "${upstreamId}" has no output "${outputVar}"`,
      );
      return null;
    }
    return upstreamIface.outputs.get(outputVar);
  }

  private checkBinding(
    data: BindingData | undefined,
    expected: LiteralType | undefined,
    ctx: BindingContext,
    nodeId: string,
    variable: string,
    deps: Set<string>,
  ): void {
    const v = data?.value;
    const mismatch = (got: string) =>
      this.problem(
        ctx.wf,
        "TypeMismatch",
        nodeId,
        variable,
        `expected ${describeType(expected)}, got ${got}`,
      );
    switch (v?.case) {
      case "scalar": {
        const problem = checkScalar(expected, v.value);
        if (problem) this.problem(ctx.wf, "TypeMismatch", nodeId, variable, problem);
        return;
      }
      case "collection": {
        if (expected?.type.case !== "collectionType") return mismatch("list");
        for (const item of v.value.bindings)
          this.checkBinding(item, expected.type.value, ctx, nodeId, variable, deps);
        return;
      }
      case "map": {
        if (expected?.type.case !== "mapValueType") return mismatch("map");
        for (const item of Object.values(v.value.bindings)) {
          this.checkBinding(item, expected.type.value, ctx, nodeId, variable, deps);
        }
        return;
      }
      case "promise": {
        const type = this.resolvePromise(v.value.nodeId, v.value.var, ctx, nodeId, variable, deps);
        if (type !== null && !isAssignable(expected, type)) {
          mismatch(`${describeType(type)} (output "${v.value.var}" of node "${v.value.nodeId}")`);
        }
        return;
      }
      case "workflowInput": {
        const input = ctx.workflowInputs.get(v.value.var);
        if (!input) {
          this.problem(
            ctx.wf,
            "UnknownWorkflowInput",
            nodeId,
            variable,
            `binding references unknown workflow input "${v.value.var}"`,
          );
        } else if (!isAssignable(expected, input.type)) {
          mismatch(`${describeType(input.type)} (workflow input "${v.value.var}")`);
        }
        return;
      }
      default:
        this.problem(ctx.wf, "InvalidBinding", nodeId, variable, "binding has no value");
    }
  }

  /** Reports cycles (naming their nodes) and nodes that depend on a cycle (unreachable). */
  private checkGraph(wf: string, ids: string[], upstream: Map<string, Set<string>>): void {
    const indegree = new Map(ids.map((id) => [id, upstream.get(id)?.size ?? 0]));
    const downstream = new Map<string, string[]>(ids.map((id) => [id, []]));
    for (const [id, deps] of upstream) for (const d of deps) downstream.get(d)?.push(id);
    const ready = ids.filter((id) => indegree.get(id) === 0);
    const done = new Set<string>();
    while (ready.length > 0) {
      const id = ready.pop()!;
      done.add(id);
      for (const next of downstream.get(id) ?? []) {
        const left = indegree.get(next)! - 1;
        indegree.set(next, left);
        if (left === 0) ready.push(next);
      }
    }
    const stuck = ids.filter((id) => !done.has(id));
    if (stuck.length === 0) return;
    const cycles = stronglyConnected(stuck, upstream).filter(
      (scc) => scc.length > 1 || upstream.get(scc[0])?.has(scc[0]),
    );
    const onCycle = new Set(cycles.flat());
    for (const scc of cycles) {
      const members = [...scc].sort();
      this.problem(
        wf,
        "Cycle",
        members[0],
        "",
        `nodes form a cycle: ${members.map((m) => `"${m}"`).join(", ")}`,
      );
    }
    for (const id of stuck) {
      if (!onCycle.has(id)) {
        this.problem(
          wf,
          "UnreachableNode",
          id,
          "",
          "node is unreachable from start-node (it depends on a cycle)",
        );
      }
    }
  }
}

// Inner alternatives of branch nodes, computed in pass 1 and checked in pass 2.
const branchInner = new WeakMap<Node, { node: Node; iface: NodeInterface }[]>();

interface BindingContext {
  wf: string;
  nodes: Map<string, Node>;
  interfaces: Map<string, NodeInterface>;
  workflowInputs: Map<string, VarSpec>;
}

function stronglyConnected(ids: string[], upstream: Map<string, Set<string>>): string[][] {
  const inSet = new Set(ids);
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const result: string[][] = [];
  let counter = 0;
  const visit = (v: string) => {
    index.set(v, counter);
    low.set(v, counter);
    counter++;
    stack.push(v);
    onStack.add(v);
    for (const w of upstream.get(v) ?? []) {
      if (!inSet.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      result.push(scc);
    }
  };
  for (const id of ids) if (!index.has(id)) visit(id);
  return result;
}

function connections(template: WorkflowTemplate, upstream: Map<string, Set<string>>, endDeps: Set<string>) {
  const up = new Map<string, Set<string>>();
  const down = new Map<string, Set<string>>();
  const link = (from: string, to: string) => {
    if (!down.has(from)) down.set(from, new Set());
    if (!up.has(to)) up.set(to, new Set());
    down.get(from)!.add(to);
    up.get(to)!.add(from);
  };
  for (const node of template.nodes) {
    const deps = upstream.get(node.id) ?? new Set();
    if (deps.size === 0) link(START_NODE, node.id);
    for (const d of deps) link(d, node.id);
  }
  for (const node of template.nodes) {
    if (!down.has(node.id) || endDeps.has(node.id)) link(node.id, END_NODE);
  }
  const toMsg = (m: Map<string, Set<string>>) =>
    Object.fromEntries(
      [...m.entries()]
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([k, v]) => [k, create(NodeIdListSchema, { ids: [...v].sort() })]),
    );
  return create(ConnectionSetSchema, { upstream: toMsg(up), downstream: toMsg(down) });
}

/**
 * Compiles `template` into a closure: checks every node's target exists, every binding names an
 * input of the target and type-checks (constants, upstream outputs, workflow inputs), every
 * required input and workflow output is bound, the graph is acyclic and every node reachable;
 * derives the edges (with the implicit start-node and end-node) and gathers the sub-workflows
 * and tasks it runs. Pure.
 *
 * Returns the {@link CompiledWorkflowClosure}. Throws {@link CompilationError} listing every
 * problem found, each naming the workflow, node and variable.
 */
export function compileWorkflow(
  template: WorkflowTemplate,
  lookups: CompilerLookups,
  options: CompileOptions = {},
): CompiledWorkflowClosure {
  const compilation = new Compilation(lookups, options.maxNodes ?? DEFAULT_MAX_WORKFLOW_NODES);
  const primary = compilation.compile(template);
  const subject = template.id ? `workflow ${identifierKey(template.id)}` : "workflow";
  if (compilation.problems.length > 0) throw new CompilationError(subject, compilation.problems);
  // Tasks of sub-workflows are collected while compiling them, so one pass covers everything.
  return create(CompiledWorkflowClosureSchema, {
    primary,
    subWorkflows: [...compilation.subWorkflows.values()],
    tasks: [...compilation.tasks.values()].map((t) => create(CompiledTaskSchema, { template: t })),
  });
}
