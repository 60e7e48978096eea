/**
 * Test builders that read as sentences: tasks, workflows and executions for propeller unit
 * tests, e2e tests and the benchmark.
 *
 * ```ts
 * const add = aTask("add").withInput("x", SimpleType.INTEGER).withOutput("y", SimpleType.INTEGER).build();
 * const closure = aWorkflow("diamond").withInput("n", SimpleType.INTEGER)
 *   .withNode("a", add, { x: fromInput("n") })
 *   .withNode("b", add, { x: fromNode("a", "y") })
 *   .withOutput("y", SimpleType.INTEGER, fromNode("b", "y"))
 *   .closure();
 * ```
 */
import { create } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  BindingDataSchema,
  BindingSchema,
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
  WorkflowNodeSchema,
  CompiledTaskSchema,
  CompiledWorkflowClosureSchema,
  CompiledWorkflowSchema,
  ConnectionSetSchema,
  ContainerSchema,
  ExternalResourceRequestSchema,
  IdentifierSchema,
  KeyValuePairSchema,
  LiteralTypeSchema,
  NodeIdListSchema,
  NodeMetadataSchema,
  NodeSchema,
  OutputReferenceSchema,
  ResourceQuantitiesSchema,
  ResourceType,
  ResourcesSchema,
  RetryStrategySchema,
  SimpleType,
  TaskMetadataSchema,
  TaskNodeSchema,
  TaskTemplateSchema,
  TypedInterfaceSchema,
  VariableMapSchema,
  VariableSchema,
  WorkflowExecutionIdentifierSchema,
  WorkflowExecutionSpecSchema,
  WorkflowMetadataSchema,
  WorkflowMetadata_FailurePolicy,
  WorkflowTemplateSchema,
  type BindingData,
  type BooleanExpression,
  type CompiledWorkflow,
  type CompiledWorkflowClosure,
  type Operand,
  type Node,
  type TaskTemplate,
  type Variable,
  type WorkflowExecutionSpec,
} from "@flotilla/proto";
import { nodeDependencies } from "../workflow/graph.js";

/** Binding source: an output of an upstream node. */
export function fromNode(nodeId: string, variable: string): BindingData {
  return create(BindingDataSchema, {
    value: { case: "promise", value: create(OutputReferenceSchema, { nodeId, var: variable }) },
  });
}

/** Binding source: an input of the workflow. */
export function fromInput(variable: string): BindingData {
  return create(BindingDataSchema, { value: { case: "workflowInput", value: { var: variable } } });
}

/** Binding source: an integer constant. */
export function constantInt(value: number): BindingData {
  return create(BindingDataSchema, {
    value: {
      case: "scalar",
      value: { value: { case: "primitive", value: { value: { case: "integer", value: BigInt(value) } } } },
    },
  });
}

/** Binding source: a string constant. */
export function constantString(value: string): BindingData {
  return create(BindingDataSchema, {
    value: {
      case: "scalar",
      value: { value: { case: "primitive", value: { value: { case: "stringValue", value } } } },
    },
  });
}

/** Condition operand: an output of an upstream node. */
export function outputOperand(nodeId: string, variable: string): Operand {
  return create(OperandSchema, {
    val: { case: "promise", value: create(OutputReferenceSchema, { nodeId, var: variable }) },
  });
}

/** Condition operand: an input of the workflow. */
export function inputOperand(variable: string): Operand {
  return create(OperandSchema, { val: { case: "workflowInput", value: { var: variable } } });
}

/** Condition operand: a constant (bigint/integer number → integer, other number → float). */
export function constantOperand(value: number | bigint | string | boolean): Operand {
  const v =
    typeof value === "bigint" || (typeof value === "number" && Number.isInteger(value))
      ? { case: "integer" as const, value: BigInt(value) }
      : typeof value === "number"
        ? { case: "floatValue" as const, value }
        : typeof value === "string"
          ? { case: "stringValue" as const, value }
          : { case: "boolean" as const, value };
  return create(OperandSchema, { val: { case: "primitive", value: create(PrimitiveSchema, { value: v }) } });
}

const comparisonOperators = {
  "==": ComparisonExpression_Operator.EQ,
  "!=": ComparisonExpression_Operator.NEQ,
  ">": ComparisonExpression_Operator.GT,
  ">=": ComparisonExpression_Operator.GTE,
  "<": ComparisonExpression_Operator.LT,
  "<=": ComparisonExpression_Operator.LTE,
} as const;

/** A branch condition `left op right`, e.g. `compare(outputOperand("a", "y"), ">", constantOperand(5))`. */
export function compare(
  left: Operand,
  op: keyof typeof comparisonOperators,
  right: Operand,
): BooleanExpression {
  return create(BooleanExpressionSchema, {
    expr: {
      case: "comparison",
      value: create(ComparisonExpressionSchema, {
        operator: comparisonOperators[op],
        leftValue: left,
        rightValue: right,
      }),
    },
  });
}

function conjunction(
  operator: ConjunctionExpression_LogicalOperator,
  left: BooleanExpression,
  right: BooleanExpression,
): BooleanExpression {
  return create(BooleanExpressionSchema, {
    expr: {
      case: "conjunction",
      value: create(ConjunctionExpressionSchema, { operator, leftExpression: left, rightExpression: right }),
    },
  });
}

/** Both conditions hold. */
export function and(left: BooleanExpression, right: BooleanExpression): BooleanExpression {
  return conjunction(ConjunctionExpression_LogicalOperator.AND, left, right);
}

/** Either condition holds. */
export function or(left: BooleanExpression, right: BooleanExpression): BooleanExpression {
  return conjunction(ConjunctionExpression_LogicalOperator.OR, left, right);
}

/** A node with the tasks and sub-workflows it needs in the closure (a branch alternative). */
export interface NodeSpec {
  node: Node;
  tasks: TaskTemplate[];
  subWorkflows: WorkflowBuilder[];
}

function bindingsOf(bindings: Record<string, BindingData>) {
  return Object.entries(bindings).map(([v, data]) => create(BindingSchema, { var: v, binding: data }));
}

/** A task node (for a branch alternative, or {@link WorkflowBuilder.with}). */
export function aTaskNode(
  id: string,
  task: TaskTemplate,
  bindings: Record<string, BindingData> = {},
  after: string[] = [],
): NodeSpec {
  return {
    node: create(NodeSchema, {
      id,
      metadata: create(NodeMetadataSchema, { name: id }),
      inputs: bindingsOf(bindings),
      upstreamNodeIds: after,
      target: { case: "taskNode", value: create(TaskNodeSchema, { referenceId: task.id }) },
    }),
    tasks: [task],
    subWorkflows: [],
  };
}

/** A node running `sub` inline as a sub-workflow; `bindings` bind the sub-workflow's inputs. */
export function aSubWorkflowNode(
  id: string,
  sub: WorkflowBuilder,
  bindings: Record<string, BindingData> = {},
  after: string[] = [],
): NodeSpec {
  return {
    node: create(NodeSchema, {
      id,
      metadata: create(NodeMetadataSchema, { name: id }),
      inputs: bindingsOf(bindings),
      upstreamNodeIds: after,
      target: {
        case: "workflowNode",
        value: create(WorkflowNodeSchema, { reference: { case: "subWorkflowRef", value: sub.id() } }),
      },
    }),
    tasks: [],
    subWorkflows: [sub],
  };
}

/**
 * A branch node: the first case whose condition holds runs its node; otherwise `otherwise`
 * runs, or the branch fails with `{ error }` (a USER error with that code).
 */
export function aBranchNode(
  id: string,
  cases: Array<[BooleanExpression, NodeSpec]>,
  otherwise: NodeSpec | { error: string; message?: string },
  after: string[] = [],
): NodeSpec {
  const alternatives = [...cases.map(([, n]) => n), ...("node" in otherwise ? [otherwise] : [])];
  return {
    node: create(NodeSchema, {
      id,
      metadata: create(NodeMetadataSchema, { name: id }),
      upstreamNodeIds: after,
      target: {
        case: "branchNode",
        value: create(BranchNodeSchema, {
          ifElse: create(IfElseBlockSchema, {
            cases: cases.map(([condition, n]) => create(IfBlockSchema, { condition, thenNode: n.node })),
            fallback:
              "node" in otherwise
                ? { case: "elseNode", value: otherwise.node }
                : {
                    case: "error",
                    value: create(ExecutionErrorSchema, {
                      kind: ExecutionError_Kind.USER,
                      code: otherwise.error,
                      message: otherwise.message ?? "",
                    }),
                  },
          }),
        }),
      },
    }),
    tasks: alternatives.flatMap((a) => a.tasks),
    subWorkflows: alternatives.flatMap((a) => a.subWorkflows),
  };
}

function variable(type: SimpleType): Variable {
  return create(VariableSchema, {
    type: create(LiteralTypeSchema, { type: { case: "simple", value: type } }),
  });
}

const DEFAULT_PROJECT = "flotilla";
const DEFAULT_DOMAIN = "development";

/** Builder of a container TaskTemplate. */
export class TaskBuilder {
  private readonly inputs: Record<string, Variable> = {};
  private readonly outputs: Record<string, Variable> = {};
  private command: string[] = ["true"];
  private image = "ghcr.io/flotilla/task:latest";
  private readonly env: Record<string, string> = {};
  private userRetries = 0;
  private systemRetries = 0;
  private timeoutMs = 0;
  private isInterruptible = false;
  private readonly resources: { resource: string; tokens: number }[] = [];
  private podAnnotations: Record<string, string> | undefined;
  private cpu = "";
  private memory = "";

  constructor(private readonly name: string) {}

  /** Declares an input variable. */
  withInput(name: string, type: SimpleType): this {
    this.inputs[name] = variable(type);
    return this;
  }
  /** Declares an output variable. */
  withOutput(name: string, type: SimpleType): this {
    this.outputs[name] = variable(type);
    return this;
  }
  /** Sets the container command (run by the sandbox's process runtime). */
  withCommand(...command: string[]): this {
    this.command = command;
    return this;
  }
  /** Sets the container image. */
  withImage(image: string): this {
    this.image = image;
    return this;
  }
  /** Adds an env var. */
  withEnv(name: string, value: string): this {
    this.env[name] = value;
    return this;
  }
  /** Sets the USER and SYSTEM retry budgets. */
  withRetries(user: number, system = 0): this {
    this.userRetries = user;
    this.systemRetries = system;
    return this;
  }
  /** Sets the per-attempt timeout. */
  withTimeout(ms: number): this {
    this.timeoutMs = ms;
    return this;
  }
  /** Marks the task interruptible (spot capacity). */
  interruptible(): this {
    this.isInterruptible = true;
    return this;
  }
  /** Needs `tokens` of an external resource while running. */
  needing(resource: string, tokens = 1): this {
    this.resources.push({ resource, tokens });
    return this;
  }
  /** Pod annotations (e.g. the sandbox's simulation annotations), via plugin_config.podAnnotations. */
  withPodAnnotations(annotations: Record<string, string>): this {
    this.podAnnotations = { ...(this.podAnnotations ?? {}), ...annotations };
    return this;
  }
  /** Runs as a simulated pod of the given duration and outcome (sandbox kubelet annotations). */
  simulated(duration = "100ms", outcome = "succeed"): this {
    return this.withPodAnnotations({
      "sandbox.flotilla.io/mode": "simulated",
      "sandbox.flotilla.io/duration": duration,
      "sandbox.flotilla.io/outcome": outcome,
    });
  }
  /** Sets CPU and memory requests. */
  withRequests(cpu: string, memory: string): this {
    this.cpu = cpu;
    this.memory = memory;
    return this;
  }

  /** The TaskTemplate. */
  build(): TaskTemplate {
    return create(TaskTemplateSchema, {
      id: create(IdentifierSchema, {
        resourceType: ResourceType.TASK,
        project: DEFAULT_PROJECT,
        domain: DEFAULT_DOMAIN,
        name: this.name,
        version: "v1",
      }),
      type: "container",
      interface: create(TypedInterfaceSchema, {
        inputs: create(VariableMapSchema, { variables: this.inputs }),
        outputs: create(VariableMapSchema, { variables: this.outputs }),
      }),
      metadata: create(TaskMetadataSchema, {
        retries: create(RetryStrategySchema, {
          userRetries: this.userRetries,
          systemRetries: this.systemRetries,
        }),
        ...(this.timeoutMs ? { timeout: durationFromMs(this.timeoutMs) } : {}),
        interruptible: this.isInterruptible,
      }),
      container: create(ContainerSchema, {
        image: this.image,
        command: this.command,
        env: Object.entries(this.env).map(([key, value]) => create(KeyValuePairSchema, { key, value })),
        ...(this.cpu || this.memory
          ? {
              resources: create(ResourcesSchema, {
                requests: create(ResourceQuantitiesSchema, { cpu: this.cpu, memory: this.memory }),
              }),
            }
          : {}),
      }),
      externalResources: this.resources.map((r) => create(ExternalResourceRequestSchema, r)),
      ...(this.podAnnotations ? { pluginConfig: { podAnnotations: this.podAnnotations } } : {}),
    });
  }
}

/** Starts a task builder. */
export function aTask(name: string): TaskBuilder {
  return new TaskBuilder(name);
}

/** Builder of a compiled workflow closure. */
export class WorkflowBuilder {
  private readonly nodes: Node[] = [];
  private readonly tasks = new Map<string, TaskTemplate>();
  private readonly subWorkflows = new Map<string, WorkflowBuilder>();
  private readonly inputs: Record<string, Variable> = {};
  private readonly outputs: Record<string, Variable> = {};
  private readonly outputBindings: { var: string; data: BindingData }[] = [];
  private failurePolicy = WorkflowMetadata_FailurePolicy.FAIL_IMMEDIATELY;

  constructor(readonly name: string) {}

  /** Declares a workflow input. */
  withInput(name: string, type: SimpleType): this {
    this.inputs[name] = variable(type);
    return this;
  }

  /** Adds a task node; `bindings` maps task inputs to their sources; `after` adds explicit dependencies. */
  withNode(
    id: string,
    task: TaskTemplate,
    bindings: Record<string, BindingData> = {},
    after: string[] = [],
  ): this {
    return this.with(aTaskNode(id, task, bindings, after));
  }

  /** Adds a node of any kind ({@link aTaskNode}, {@link aSubWorkflowNode}, {@link aBranchNode}). */
  with(spec: NodeSpec): this {
    for (const t of spec.tasks) this.tasks.set(t.id?.name ?? spec.node.id, t);
    for (const sub of spec.subWorkflows) this.subWorkflows.set(sub.name, sub);
    this.nodes.push(spec.node);
    return this;
  }

  /** The workflow's identifier. */
  id() {
    return create(IdentifierSchema, {
      resourceType: ResourceType.WORKFLOW,
      project: DEFAULT_PROJECT,
      domain: DEFAULT_DOMAIN,
      name: this.name,
      version: "v1",
    });
  }

  /** Declares a workflow output bound to `data`. */
  withOutput(name: string, type: SimpleType, data: BindingData): this {
    this.outputs[name] = variable(type);
    this.outputBindings.push({ var: name, data });
    return this;
  }

  /** Lets running nodes finish after a failure (FAIL_AFTER_EXECUTABLE_NODES_COMPLETE). */
  failingAfterExecutableNodes(): this {
    this.failurePolicy = WorkflowMetadata_FailurePolicy.FAIL_AFTER_EXECUTABLE_NODES_COMPLETE;
    return this;
  }

  /** The compiled workflow, with the connection set derived from the bindings and conditions. */
  compiled(): CompiledWorkflow {
    const upstream: Record<string, string[]> = {};
    for (const n of this.nodes) upstream[n.id] = [...nodeDependencies(n, new Set(n.upstreamNodeIds))];
    const downstream: Record<string, string[]> = {};
    for (const [id, deps] of Object.entries(upstream)) for (const d of deps) (downstream[d] ??= []).push(id);
    const list = (m: Record<string, string[]>) =>
      Object.fromEntries(Object.entries(m).map(([k, ids]) => [k, create(NodeIdListSchema, { ids })]));
    return create(CompiledWorkflowSchema, {
      template: create(WorkflowTemplateSchema, {
        id: this.id(),
        interface: create(TypedInterfaceSchema, {
          inputs: create(VariableMapSchema, { variables: this.inputs }),
          outputs: create(VariableMapSchema, { variables: this.outputs }),
        }),
        nodes: this.nodes,
        outputs: this.outputBindings.map((o) => create(BindingSchema, { var: o.var, binding: o.data })),
        metadata: create(WorkflowMetadataSchema, { failurePolicy: this.failurePolicy }),
      }),
      connections: create(ConnectionSetSchema, { upstream: list(upstream), downstream: list(downstream) }),
    });
  }

  /** Collects this workflow's tasks and, transitively, its sub-workflows (each once). */
  private collect(tasks: Map<string, TaskTemplate>, subs: Map<string, WorkflowBuilder>): void {
    for (const [k, t] of this.tasks) tasks.set(k, t);
    for (const [name, sub] of this.subWorkflows) {
      if (subs.has(name)) continue;
      subs.set(name, sub);
      sub.collect(tasks, subs);
    }
  }

  /** The compiled closure: this workflow, every sub-workflow it reaches and their tasks. */
  closure(): CompiledWorkflowClosure {
    const tasks = new Map<string, TaskTemplate>();
    const subs = new Map<string, WorkflowBuilder>();
    this.collect(tasks, subs);
    return create(CompiledWorkflowClosureSchema, {
      primary: this.compiled(),
      subWorkflows: [...subs.values()].map((sub) => sub.compiled()),
      tasks: [...tasks.values()].map((template) => create(CompiledTaskSchema, { template })),
    });
  }
}

/** Starts a workflow builder. */
export function aWorkflow(name: string): WorkflowBuilder {
  return new WorkflowBuilder(name);
}

/** Options of {@link anExecutionSpec}. */
export interface ExecutionSpecOptions {
  name: string;
  closure: CompiledWorkflowClosure;
  /** Blob root URI; inputs at `{root}/{project}/{domain}/{name}/inputs.pb`. */
  blobRoot: string;
  project?: string;
  domain?: string;
  maxParallelism?: number;
  hasInputs?: boolean;
}

/** A WorkflowExecutionSpec laid out as admin lays it out in the blob store. */
export function anExecutionSpec(o: ExecutionSpecOptions): WorkflowExecutionSpec {
  const project = o.project ?? DEFAULT_PROJECT;
  const domain = o.domain ?? DEFAULT_DOMAIN;
  const root = o.blobRoot.endsWith("/") ? o.blobRoot.slice(0, -1) : o.blobRoot;
  const prefix = `${root}/${project}/${domain}/${o.name}/`;
  return create(WorkflowExecutionSpecSchema, {
    executionId: create(WorkflowExecutionIdentifierSchema, { project, domain, name: o.name }),
    workflow: { case: "closure", value: o.closure },
    inputsUri: `${prefix}inputs.pb`,
    outputPrefix: prefix,
    rawOutputDataPrefix: `${prefix}raw/`,
    maxParallelism: o.maxParallelism ?? 0,
    createdAt: timestampFromDate(new Date()),
  });
}
