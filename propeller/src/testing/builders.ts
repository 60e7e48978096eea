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
  type CompiledWorkflowClosure,
  type Node,
  type TaskTemplate,
  type Variable,
  type WorkflowExecutionSpec,
} from "@flotilla/proto";

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
  private readonly inputs: Record<string, Variable> = {};
  private readonly outputs: Record<string, Variable> = {};
  private readonly outputBindings: { var: string; data: BindingData }[] = [];
  private failurePolicy = WorkflowMetadata_FailurePolicy.FAIL_IMMEDIATELY;

  constructor(private readonly name: string) {}

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
    this.tasks.set(task.id?.name ?? id, task);
    this.nodes.push(
      create(NodeSchema, {
        id,
        metadata: create(NodeMetadataSchema, { name: id }),
        inputs: Object.entries(bindings).map(([v, data]) => create(BindingSchema, { var: v, binding: data })),
        upstreamNodeIds: after,
        target: { case: "taskNode", value: create(TaskNodeSchema, { referenceId: task.id }) },
      }),
    );
    return this;
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

  /** The compiled closure, with the connection set derived from the bindings. */
  closure(): CompiledWorkflowClosure {
    const upstream: Record<string, string[]> = {};
    for (const n of this.nodes) {
      const deps = new Set(n.upstreamNodeIds);
      for (const b of n.inputs)
        if (b.binding?.value.case === "promise") deps.add(b.binding.value.value.nodeId);
      upstream[n.id] = [...deps];
    }
    const downstream: Record<string, string[]> = {};
    for (const [id, deps] of Object.entries(upstream)) for (const d of deps) (downstream[d] ??= []).push(id);
    const list = (m: Record<string, string[]>) =>
      Object.fromEntries(Object.entries(m).map(([k, ids]) => [k, create(NodeIdListSchema, { ids })]));
    return create(CompiledWorkflowClosureSchema, {
      primary: create(CompiledWorkflowSchema, {
        template: create(WorkflowTemplateSchema, {
          id: create(IdentifierSchema, {
            resourceType: ResourceType.WORKFLOW,
            project: DEFAULT_PROJECT,
            domain: DEFAULT_DOMAIN,
            name: this.name,
            version: "v1",
          }),
          interface: create(TypedInterfaceSchema, {
            inputs: create(VariableMapSchema, { variables: this.inputs }),
            outputs: create(VariableMapSchema, { variables: this.outputs }),
          }),
          nodes: this.nodes,
          outputs: this.outputBindings.map((o) => create(BindingSchema, { var: o.var, binding: o.data })),
          metadata: create(WorkflowMetadataSchema, { failurePolicy: this.failurePolicy }),
        }),
        connections: create(ConnectionSetSchema, { upstream: list(upstream), downstream: list(downstream) }),
      }),
      tasks: [...this.tasks.values()].map((template) => create(CompiledTaskSchema, { template })),
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
