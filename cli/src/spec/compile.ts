/**
 * Phase two of spec handling: resolves references between documents (and to entities already
 * registered in the admin), type-checks every binding and launch plan input, rejects cycles and
 * duplicates, and turns the documents into the ordered Create requests of a registration plan.
 * Every problem names the file, line and field path it comes from.
 */
import { create } from "@bufbuild/protobuf";
import { isAssignable } from "@flotilla/common";
import {
  BooleanExpressionSchema,
  BranchNodeSchema,
  ComparisonExpressionSchema,
  ComparisonExpression_Operator,
  ConjunctionExpressionSchema,
  ConjunctionExpression_LogicalOperator,
  ExecutionErrorSchema,
  ExecutionError_Kind,
  IfBlockSchema,
  IfElseBlockSchema,
  OperandSchema,
  PrimitiveSchema,
  BindingDataCollectionSchema,
  BindingDataMapSchema,
  BindingDataSchema,
  BindingSchema,
  CreateLaunchPlanRequestSchema,
  CreateTaskRequestSchema,
  CreateWorkflowRequestSchema,
  IdentifierSchema,
  LiteralMapSchema,
  LiteralTypeSchema,
  NodeMetadataSchema,
  NodeSchema,
  OutputReferenceSchema,
  ParameterMapSchema,
  ParameterSchema,
  ResourceType,
  SimpleType,
  TaskNodeSchema,
  TypedInterfaceSchema,
  VariableMapSchema,
  VariableSchema,
  WorkflowInputReferenceSchema,
  WorkflowNodeSchema,
  WorkflowTemplateSchema,
  type BindingData,
  type BooleanExpression,
  type CreateLaunchPlanRequest,
  type Operand,
  type CreateTaskRequest,
  type CreateWorkflowRequest,
  type Identifier,
  type Literal,
  type LiteralType,
  type Parameter,
} from "@flotilla/proto";
import type { SpecProblem } from "../errors.js";
import { describeType, LiteralValueError, valueToLiteral } from "../literals.js";
import type {
  BindingSource,
  EntityRef,
  LaunchPlanDoc,
  Origin,
  SpecBinding,
  SpecCondition,
  SpecDoc,
  SpecKind,
  SpecNode,
  SpecOperand,
  TaskDoc,
  WorkflowDoc,
} from "./model.js";

/** The interface of something a node can run, as far as binding checks need it. */
export interface TargetInterface {
  /** Input name → type and whether a value must be bound. */
  inputs: Record<string, { type: LiteralType | undefined; required: boolean }>;
  /** Output name → type. */
  outputs: Record<string, LiteralType | undefined>;
}

/** Looks up entities that are not in the files (already registered in the admin); undefined when absent. */
export interface EntityLookup {
  interfaceOf(kind: SpecKind, id: Identifier): Promise<TargetInterface | undefined>;
}

/** Options of {@link compileSpecs}. */
export interface CompileOptions {
  project: string;
  domain: string;
  /** Version every document is registered under (and the default version of references). */
  version: string;
  lookup: EntityLookup;
}

/** One step of a registration plan. */
export type PlanItem =
  | { kind: "Task"; name: string; origin: Origin; request: CreateTaskRequest }
  | { kind: "Workflow"; name: string; origin: Origin; request: CreateWorkflowRequest }
  | { kind: "LaunchPlan"; name: string; origin: Origin; request: CreateLaunchPlanRequest };

/** Result of {@link compileSpecs}: the ordered plan (meaningful only without problems). */
export interface CompileResult {
  plan: PlanItem[];
  problems: SpecProblem[];
}

const RESOURCE_TYPES: Record<SpecKind, ResourceType> = {
  Task: ResourceType.TASK,
  Workflow: ResourceType.WORKFLOW,
  LaunchPlan: ResourceType.LAUNCH_PLAN,
};

/** Compiles parsed documents into a registration plan (tasks, then workflows and launch plans in dependency order). */
export async function compileSpecs(docs: SpecDoc[], options: CompileOptions): Promise<CompileResult> {
  const problems: SpecProblem[] = [];
  const report = (o: Origin, message: string, path = o.path) =>
    problems.push({ file: o.file, line: o.at.line, column: o.at.column, path, message });
  const id = (kind: SpecKind, name: string, version = options.version): Identifier =>
    create(IdentifierSchema, {
      resourceType: RESOURCE_TYPES[kind],
      project: options.project,
      domain: options.domain,
      name,
      version,
    });

  // Documents by kind and name; duplicates are errors.
  const byKey = new Map<string, SpecDoc>();
  for (const d of docs) {
    const key = `${d.kind}/${d.name}`;
    const prior = byKey.get(key);
    if (prior)
      report(
        d.origin,
        `${d.kind} "${d.name}" is defined twice (first at ${prior.origin.file}:${prior.origin.at.line})`,
      );
    else byKey.set(key, d);
  }
  const local = (ref: EntityRef): SpecDoc | undefined =>
    ref.version === undefined || ref.version === options.version
      ? byKey.get(`${ref.kind}/${ref.name}`)
      : undefined;

  // Interfaces, memoised: local documents first, else the admin.
  const cache = new Map<string, Promise<TargetInterface | undefined>>();
  const interfaceOf = (ref: EntityRef): Promise<TargetInterface | undefined> => {
    const key = `${ref.kind}/${ref.name}/${ref.version ?? options.version}`;
    let p = cache.get(key);
    if (!p) {
      const doc = local(ref);
      p = doc
        ? Promise.resolve(localInterface(doc, byKey))
        : options.lookup.interfaceOf(ref.kind, id(ref.kind, ref.name, ref.version));
      cache.set(key, p);
    }
    return p;
  };
  const resolve = async (ref: EntityRef): Promise<TargetInterface | undefined> => {
    const found = await interfaceOf(ref);
    if (!found) {
      const label = ref.kind === "LaunchPlan" ? "launch plan" : ref.kind.toLowerCase();
      report(
        ref.origin,
        `${label} "${ref.name}" version "${ref.version ?? options.version}" is neither defined in these files nor registered in ${options.project}/${options.domain}`,
      );
    }
    return found;
  };

  const items = new Map<string, PlanItem>();
  for (const d of byKey.values()) {
    if (d.kind === "Task") items.set(`Task/${d.name}`, compileTask(d, id));
    else if (d.kind === "Workflow") {
      const req = await compileWorkflow(d, { id, resolve, report });
      if (req)
        items.set(`Workflow/${d.name}`, { kind: "Workflow", name: d.name, origin: d.origin, request: req });
    } else {
      const req = await compileLaunchPlan(d, { id, resolve, report });
      if (req)
        items.set(`LaunchPlan/${d.name}`, {
          kind: "LaunchPlan",
          name: d.name,
          origin: d.origin,
          request: req,
        });
    }
  }
  return { plan: order([...byKey.values()], items, local), problems };
}

/** Tasks first, then workflows and launch plans so that everything a document references locally is registered before it. */
function order(
  docs: SpecDoc[],
  items: Map<string, PlanItem>,
  local: (ref: EntityRef) => SpecDoc | undefined,
): PlanItem[] {
  const rank: Record<SpecKind, number> = { Task: 0, Workflow: 1, LaunchPlan: 2 };
  const sorted = [...docs].sort((a, b) => rank[a.kind] - rank[b.kind]);
  const out: PlanItem[] = [];
  const state = new Map<string, "visiting" | "done">();
  const visit = (d: SpecDoc) => {
    const key = `${d.kind}/${d.name}`;
    if (state.has(key)) return;
    state.set(key, "visiting");
    const refs: EntityRef[] =
      d.kind === "Workflow"
        ? d.nodes.flatMap((n) => nodeTargets(n))
        : d.kind === "LaunchPlan"
          ? [d.workflow]
          : [];
    for (const ref of refs) {
      const dep = local(ref);
      if (dep) visit(dep);
    }
    state.set(key, "done");
    const item = items.get(key);
    if (item) out.push(item);
  };
  sorted.forEach(visit);
  return out;
}

/** The entities a node runs: its target, or every alternative's target for a branch. */
function nodeTargets(n: SpecNode): EntityRef[] {
  if (n.target) return [n.target];
  const alternatives = [
    ...(n.branch?.cases.map((c) => c.then) ?? []),
    ...(n.branch?.otherwise ? [n.branch.otherwise] : []),
  ];
  return alternatives.flatMap((a) => (a.target ? [a.target] : []));
}

/** The alternatives of a branch node: every case's node, then the else node. */
function alternativesOf(n: SpecNode): SpecNode[] {
  return [
    ...(n.branch?.cases.map((c) => c.then) ?? []),
    ...(n.branch?.otherwise ? [n.branch.otherwise] : []),
  ];
}

function localInterface(doc: SpecDoc, byKey: Map<string, SpecDoc>): TargetInterface | undefined {
  if (doc.kind === "Task" || doc.kind === "Workflow") {
    return {
      inputs: Object.fromEntries(
        doc.inputs.map((v) => [v.name, { type: v.type, required: !isNone(v.type) }]),
      ),
      outputs: Object.fromEntries(doc.outputs.map((v) => [v.name, v.type])),
    };
  }
  if (doc.workflow.version !== undefined) return undefined;
  const wf = byKey.get(`Workflow/${doc.workflow.name}`) as WorkflowDoc | undefined;
  if (!wf) return undefined;
  const fixed = new Set(doc.fixed.map((f) => f.name));
  const defaults = new Set(doc.defaults.map((f) => f.name));
  return {
    inputs: Object.fromEntries(
      wf.inputs
        .filter((v) => !fixed.has(v.name))
        .map((v) => [v.name, { type: v.type, required: !defaults.has(v.name) && !isNone(v.type) }]),
    ),
    outputs: Object.fromEntries(wf.outputs.map((v) => [v.name, v.type])),
  };
}

function isNone(t: LiteralType | undefined): boolean {
  return t?.type.case === "simple" && t.type.value === SimpleType.NONE;
}

function compileTask(d: TaskDoc, id: (k: SpecKind, n: string) => Identifier): PlanItem {
  const template = { ...d.template, id: id("Task", d.name) };
  return {
    kind: "Task",
    name: d.name,
    origin: d.origin,
    request: create(CreateTaskRequestSchema, { template }),
  };
}

interface Ctx {
  id: (kind: SpecKind, name: string, version?: string) => Identifier;
  resolve: (ref: EntityRef) => Promise<TargetInterface | undefined>;
  report: (o: Origin, message: string, path?: string) => void;
}

/** Converts a literal into the equivalent constant binding. */
function literalToBinding(lit: Literal): BindingData {
  const v = lit.value;
  if (v.case === "collection") {
    return create(BindingDataSchema, {
      value: {
        case: "collection",
        value: create(BindingDataCollectionSchema, { bindings: v.value.literals.map(literalToBinding) }),
      },
    });
  }
  if (v.case === "map") {
    return create(BindingDataSchema, {
      value: {
        case: "map",
        value: create(BindingDataMapSchema, {
          bindings: Object.fromEntries(
            Object.entries(v.value.literals).map(([k, l]) => [k, literalToBinding(l)]),
          ),
        }),
      },
    });
  }
  return create(BindingDataSchema, { value: { case: "scalar", value: v.value! } });
}

function bindingData(
  b: SpecBinding,
  expected: LiteralType | undefined,
  wf: WorkflowDoc,
  nodeOutputs: Map<string, TargetInterface | undefined>,
  ctx: Ctx,
  consumer: string,
): BindingData | undefined {
  const s: BindingSource = b.source;
  const mismatch = (got: LiteralType | undefined, what: string) => {
    if (expected && got && !isAssignable(expected, got)) {
      ctx.report(
        b.origin,
        `${consumer} "${b.variable}" is ${describeType(expected)} but ${what} is ${describeType(got)}`,
      );
    }
  };
  if (s.kind === "input") {
    const input = wf.inputs.find((v) => v.name === s.input);
    if (!input) {
      ctx.report(
        b.origin,
        `workflow "${wf.name}" has no input "${s.input}" (inputs: ${wf.inputs.map((v) => v.name).join(", ") || "none"})`,
      );
      return undefined;
    }
    mismatch(input.type, `workflow input "${s.input}"`);
    return create(BindingDataSchema, {
      value: { case: "workflowInput", value: create(WorkflowInputReferenceSchema, { var: s.input }) },
    });
  }
  if (s.kind === "promise") {
    if (!nodeOutputs.has(s.node)) {
      ctx.report(b.origin, `no node "${s.node}" in workflow "${wf.name}"`);
      return undefined;
    }
    const outputs = nodeOutputs.get(s.node);
    if (outputs) {
      if (!(s.output in outputs.outputs)) {
        ctx.report(
          b.origin,
          `node "${s.node}" has no output "${s.output}" (outputs: ${Object.keys(outputs.outputs).join(", ") || "none"})`,
        );
        return undefined;
      }
      mismatch(outputs.outputs[s.output], `output "${s.node}.${s.output}"`);
    }
    return create(BindingDataSchema, {
      value: { case: "promise", value: create(OutputReferenceSchema, { nodeId: s.node, var: s.output }) },
    });
  }
  const type = s.type ?? expected;
  if (!type) return undefined;
  if (s.type) mismatch(s.type, "the given value type");
  try {
    return literalToBinding(valueToLiteral(b.variable, s.value, type));
  } catch (err) {
    if (err instanceof LiteralValueError) {
      ctx.report(b.origin, `${consumer} "${b.variable}": ${err.message}`);
      return undefined;
    }
    throw err;
  }
}

async function compileWorkflow(d: WorkflowDoc, ctx: Ctx): Promise<CreateWorkflowRequest | undefined> {
  const before = { count: 0 };
  const report = ctx.report;
  const counting: Ctx = { ...ctx, report: (o, m, p) => (before.count++, report(o, m, p)) };
  // Node ids (branch alternatives included): unique.
  const seen = new Map<string, Origin>();
  for (const n of d.nodes.flatMap((x) => [x, ...alternativesOf(x)])) {
    const prior = seen.get(n.id);
    if (prior) counting.report(n.origin, `node id "${n.id}" is used twice (first at line ${prior.at.line})`);
    else seen.set(n.id, n.origin);
  }
  // Interfaces of what each node runs; a branch produces the outputs every alternative has.
  const targets = new Map<string, TargetInterface | undefined>();
  const alternatives = new Map<string, TargetInterface | undefined>();
  for (const n of d.nodes) {
    if (n.target) {
      targets.set(n.id, await counting.resolve(n.target));
      continue;
    }
    const ifaces = [];
    for (const a of alternativesOf(n)) {
      const iface = a.target ? await counting.resolve(a.target) : undefined;
      alternatives.set(a.id, iface);
      ifaces.push(iface);
    }
    targets.set(n.id, branchInterface(ifaces));
  }

  /** A node that runs a target (top-level or a branch alternative): its proto and dependencies. */
  const compileTargetNode = (n: SpecNode, target: TargetInterface | undefined, deps: Set<string>) => {
    const inputs = [];
    const bound = new Set<string>();
    const targetRef = n.target!;
    for (const b of n.inputs) {
      if (bound.has(b.variable)) counting.report(b.origin, `input "${b.variable}" is bound twice`);
      bound.add(b.variable);
      if (target && !(b.variable in target.inputs)) {
        counting.report(
          b.origin,
          `node "${n.id}": ${targetRef.kind === "LaunchPlan" ? "launch plan" : targetRef.kind.toLowerCase()} "${targetRef.name}" has no input "${b.variable}" (inputs: ${Object.keys(target.inputs).join(", ") || "none"})`,
        );
        continue;
      }
      if (b.source.kind === "promise") {
        if (b.source.node === n.id) {
          counting.report(b.origin, `node "${n.id}" cannot consume its own output`);
          continue;
        }
        deps.add(b.source.node);
      }
      const data = bindingData(
        b,
        target?.inputs[b.variable]?.type,
        d,
        targets,
        counting,
        `node "${n.id}" input`,
      );
      if (data) inputs.push(create(BindingSchema, { var: b.variable, binding: data }));
    }
    if (target) {
      for (const [name, v] of Object.entries(target.inputs)) {
        if (v.required && !bound.has(name))
          counting.report(
            n.origin,
            `node "${n.id}": required input "${name}" (${describeType(v.type)}) of ${targetRef.name} is not bound`,
          );
      }
    }
    const ref = ctx.id(targetRef.kind, targetRef.name, targetRef.version);
    return create(NodeSchema, {
      id: n.id,
      metadata: nodeMetadata(n),
      inputs,
      upstreamNodeIds: n.dependsOn.map((x) => x.id),
      target:
        targetRef.kind === "Task"
          ? { case: "taskNode", value: create(TaskNodeSchema, { referenceId: ref }) }
          : {
              case: "workflowNode",
              value: create(WorkflowNodeSchema, {
                reference:
                  targetRef.kind === "Workflow"
                    ? { case: "subWorkflowRef", value: ref }
                    : { case: "launchplanRef", value: ref },
              }),
            },
    });
  };

  const nodes = [];
  const edges = new Map<string, Set<string>>();
  for (const n of d.nodes) {
    const deps = new Set<string>();
    for (const dep of n.dependsOn) {
      if (!targets.has(dep.id)) counting.report(dep.origin, `no node "${dep.id}" in workflow "${d.name}"`);
      else if (dep.id === n.id) counting.report(dep.origin, `node "${n.id}" cannot depend on itself`);
      else deps.add(dep.id);
    }
    if (n.branch) {
      for (const a of alternativesOf(n)) {
        for (const dep of a.dependsOn)
          counting.report(dep.origin, `node "${a.id}" runs in branch "${n.id}": put dependsOn on the branch`);
      }
      const cases = n.branch.cases.map((c) =>
        create(IfBlockSchema, {
          condition: compileCondition(c.when, c.whenOrigin, n.id, d, targets, deps, counting),
          thenNode: compileTargetNode(c.then, alternatives.get(c.then.id), deps),
        }),
      );
      const otherwise = n.branch.otherwise;
      nodes.push(
        create(NodeSchema, {
          id: n.id,
          metadata: nodeMetadata(n),
          upstreamNodeIds: n.dependsOn.map((x) => x.id),
          target: {
            case: "branchNode",
            value: create(BranchNodeSchema, {
              ifElse: create(IfElseBlockSchema, {
                cases,
                fallback: otherwise
                  ? {
                      case: "elseNode",
                      value: compileTargetNode(otherwise, alternatives.get(otherwise.id), deps),
                    }
                  : {
                      case: "error",
                      value: create(ExecutionErrorSchema, {
                        kind: ExecutionError_Kind.USER,
                        code: "NoBranchTaken",
                        message: n.branch.error ?? "",
                      }),
                    },
              }),
            }),
          },
        }),
      );
    } else {
      nodes.push(compileTargetNode(n, targets.get(n.id), deps));
    }
    deps.delete(n.id);
    edges.set(n.id, deps);
  }
  // Cycles (over promises and dependsOn).
  const color = new Map<string, number>();
  const stack: string[] = [];
  const reportedCycle = { done: false };
  const dfs = (id: string) => {
    color.set(id, 1);
    stack.push(id);
    for (const dep of edges.get(id) ?? []) {
      if (!edges.has(dep)) continue;
      if (color.get(dep) === 1 && !reportedCycle.done) {
        const cycle = [...stack.slice(stack.indexOf(dep)), dep];
        const origin = d.nodes.find((x) => x.id === dep)!.origin;
        counting.report(origin, `workflow "${d.name}" has a cycle: ${cycle.reverse().join(" → ")}`);
        reportedCycle.done = true;
      } else if (!color.has(dep)) dfs(dep);
    }
    stack.pop();
    color.set(id, 2);
  };
  for (const id of edges.keys()) if (!color.has(id)) dfs(id);

  const outputs = [];
  for (const o of d.outputs) {
    if (!o.from) continue;
    const data = bindingData(o.from, o.type, d, targets, counting, "workflow output");
    if (data) outputs.push(create(BindingSchema, { var: o.name, binding: data }));
  }
  if (before.count > 0) return undefined;
  const vars = (list: WorkflowDoc["inputs"]) =>
    create(VariableMapSchema, {
      variables: Object.fromEntries(
        list.map((v) => [v.name, create(VariableSchema, { type: v.type, description: v.description })]),
      ),
    });
  return create(CreateWorkflowRequestSchema, {
    template: create(WorkflowTemplateSchema, {
      id: ctx.id("Workflow", d.name),
      interface: create(TypedInterfaceSchema, { inputs: vars(d.inputs), outputs: vars(d.outputs) }),
      nodes,
      outputs,
      metadata: d.metadata,
    }),
  });
}

function nodeMetadata(n: SpecNode) {
  const metadata = create(NodeMetadataSchema, { name: n.displayName });
  if (n.retries) metadata.retries = n.retries;
  if (n.timeout) metadata.timeout = n.timeout;
  if (n.interruptible !== undefined) metadata.interruptible = n.interruptible;
  return metadata;
}

/** A branch's interface: no inputs; the outputs every (known) alternative has, with compatible types. */
function branchInterface(alternatives: Array<TargetInterface | undefined>): TargetInterface | undefined {
  if (alternatives.some((a) => a === undefined)) return undefined;
  const known = alternatives as TargetInterface[];
  const outputs: TargetInterface["outputs"] = {};
  if (known.length > 0) {
    for (const [name, type] of Object.entries(known[0].outputs)) {
      if (known.every((a) => name in a.outputs && isAssignable(type, a.outputs[name]))) outputs[name] = type;
    }
  }
  return { inputs: {}, outputs };
}

const COMPARISON_OPERATORS = {
  "==": ComparisonExpression_Operator.EQ,
  "!=": ComparisonExpression_Operator.NEQ,
  ">": ComparisonExpression_Operator.GT,
  ">=": ComparisonExpression_Operator.GTE,
  "<": ComparisonExpression_Operator.LT,
  "<=": ComparisonExpression_Operator.LTE,
} as const;

const PRIMITIVE_TYPES = new Set([
  SimpleType.INTEGER,
  SimpleType.FLOAT,
  SimpleType.STRING,
  SimpleType.BOOLEAN,
  SimpleType.DATETIME,
  SimpleType.DURATION,
]);
const NUMBERS = new Set([SimpleType.INTEGER, SimpleType.FLOAT]);

/**
 * Compiles a branch condition of node `nodeId`: every operand names an existing workflow input
 * or upstream output of a primitive type (added to `deps`), both sides of a comparison have
 * comparable types, and ordering operators apply only to numbers, datetimes and durations.
 */
function compileCondition(
  c: SpecCondition,
  at: Origin,
  nodeId: string,
  wf: WorkflowDoc,
  targets: Map<string, TargetInterface | undefined>,
  deps: Set<string>,
  ctx: Ctx,
): BooleanExpression {
  if (c.kind !== "compare") {
    return create(BooleanExpressionSchema, {
      expr: {
        case: "conjunction",
        value: create(ConjunctionExpressionSchema, {
          operator:
            c.kind === "and"
              ? ConjunctionExpression_LogicalOperator.AND
              : ConjunctionExpression_LogicalOperator.OR,
          leftExpression: compileCondition(c.left, at, nodeId, wf, targets, deps, ctx),
          rightExpression: compileCondition(c.right, at, nodeId, wf, targets, deps, ctx),
        }),
      },
    });
  }
  const where = `branch "${nodeId}" condition`;
  /** The operand's proto and simple type (undefined when unknown or reported). */
  const operand = (o: SpecOperand): { proto: Operand; type: SimpleType | undefined } => {
    if (o.kind === "value") {
      const v = o.value;
      const [value, type] =
        typeof v === "number"
          ? Number.isInteger(v)
            ? [{ case: "integer" as const, value: BigInt(v) }, SimpleType.INTEGER]
            : [{ case: "floatValue" as const, value: v }, SimpleType.FLOAT]
          : typeof v === "string"
            ? [{ case: "stringValue" as const, value: v }, SimpleType.STRING]
            : [{ case: "boolean" as const, value: v }, SimpleType.BOOLEAN];
      return {
        proto: create(OperandSchema, {
          val: { case: "primitive", value: create(PrimitiveSchema, { value }) },
        }),
        type,
      };
    }
    let declared: LiteralType | undefined;
    let proto: Operand;
    let name: string;
    if (o.kind === "input") {
      name = `$${o.input}`;
      const input = wf.inputs.find((v) => v.name === o.input);
      if (!input) ctx.report(at, `${where}: workflow "${wf.name}" has no input "${o.input}"`);
      declared = input?.type;
      proto = create(OperandSchema, {
        val: { case: "workflowInput", value: create(WorkflowInputReferenceSchema, { var: o.input }) },
      });
    } else {
      name = `${o.node}.${o.output}`;
      if (!targets.has(o.node) || o.node === nodeId) ctx.report(at, `${where}: no upstream node "${o.node}"`);
      else {
        deps.add(o.node);
        const outputs = targets.get(o.node)?.outputs;
        if (outputs && !(o.output in outputs))
          ctx.report(at, `${where}: node "${o.node}" has no output "${o.output}"`);
        declared = outputs?.[o.output];
      }
      proto = create(OperandSchema, {
        val: { case: "promise", value: create(OutputReferenceSchema, { nodeId: o.node, var: o.output }) },
      });
    }
    const simple = declared?.type.case === "simple" ? declared.type.value : undefined;
    if (declared && (simple === undefined || !PRIMITIVE_TYPES.has(simple))) {
      ctx.report(at, `${where}: ${name} is ${describeType(declared)}; conditions compare primitives only`);
      return { proto, type: undefined };
    }
    return { proto, type: simple };
  };
  const left = operand(c.left);
  const right = operand(c.right);
  if (left.type !== undefined && right.type !== undefined) {
    const l = left.type;
    const r = right.type;
    const comparable = l === r || (NUMBERS.has(l) && NUMBERS.has(r));
    const name = (t: SimpleType) =>
      describeType(create(LiteralTypeSchema, { type: { case: "simple", value: t } }));
    if (!comparable) ctx.report(at, `${where}: cannot compare ${name(l)} with ${name(r)}`);
    else if (c.op !== "==" && c.op !== "!=" && (l === SimpleType.STRING || l === SimpleType.BOOLEAN))
      ctx.report(at, `${where}: ${c.op} does not apply to ${name(l)} values (only == and !=)`);
  }
  return create(BooleanExpressionSchema, {
    expr: {
      case: "comparison",
      value: create(ComparisonExpressionSchema, {
        operator: COMPARISON_OPERATORS[c.op],
        leftValue: left.proto,
        rightValue: right.proto,
      }),
    },
  });
}

async function compileLaunchPlan(d: LaunchPlanDoc, ctx: Ctx): Promise<CreateLaunchPlanRequest | undefined> {
  const wf = await ctx.resolve(d.workflow);
  if (!wf) return undefined;
  let failed = false;
  const report = (o: Origin, m: string) => {
    failed = true;
    ctx.report(o, m);
  };
  const typeOf = (name: string, o: Origin): LiteralType | undefined => {
    const v = wf.inputs[name];
    if (!v)
      report(
        o,
        `workflow "${d.workflow.name}" has no input "${name}" (inputs: ${Object.keys(wf.inputs).join(", ") || "none"})`,
      );
    return v?.type;
  };
  const literal = (name: string, value: unknown, o: Origin): Literal | undefined => {
    const type = typeOf(name, o);
    if (!type) return undefined;
    try {
      return valueToLiteral(name, value, type);
    } catch (err) {
      if (!(err instanceof LiteralValueError)) throw err;
      report(o, `input "${name}": ${err.message}`);
      return undefined;
    }
  };
  const parameters: Record<string, Parameter> = {};
  for (const v of d.defaults) {
    const lit = literal(v.name, v.value, v.origin);
    if (lit)
      parameters[v.name] = create(ParameterSchema, {
        var: create(VariableSchema, { type: wf.inputs[v.name].type }),
        behavior: { case: "default", value: lit },
      });
  }
  for (const r of d.required) {
    const type = typeOf(r.name, r.origin);
    if (type)
      parameters[r.name] = create(ParameterSchema, {
        var: create(VariableSchema, { type }),
        behavior: { case: "required", value: true },
      });
  }
  const fixed: Record<string, Literal> = {};
  for (const v of d.fixed) {
    const lit = literal(v.name, v.value, v.origin);
    if (lit) fixed[v.name] = lit;
  }
  const kickoff = d.spec.schedule?.kickoffTimeInputArg;
  if (kickoff) {
    const t = wf.inputs[kickoff]?.type;
    if (!t || t.type.case !== "simple" || t.type.value !== SimpleType.DATETIME) {
      report(
        d.origin,
        `schedule.kickoffInput "${kickoff}" must name a datetime input of workflow "${d.workflow.name}"`,
      );
    }
  }
  if (failed) return undefined;
  const spec = { ...d.spec };
  spec.workflowId = ctx.id("Workflow", d.workflow.name, d.workflow.version);
  spec.defaultInputs = create(ParameterMapSchema, { parameters });
  spec.fixedInputs = create(LiteralMapSchema, { literals: fixed });
  return create(CreateLaunchPlanRequestSchema, { id: ctx.id("LaunchPlan", d.name), spec });
}
