// Test builders that read as sentences: aWorkflow("wf").withInput("x", INTEGER).withNode(...).
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  BindingDataSchema,
  BindingSchema,
  EventSchema,
  IdentifierSchema,
  LiteralSchema,
  LiteralTypeSchema,
  NodeExecutionEventSchema,
  NodeSchema,
  ResourceType,
  SimpleType,
  TaskExecutionEventSchema,
  TaskTemplateSchema,
  WorkflowExecutionEventSchema,
  WorkflowTemplateSchema,
  type Binding,
  type BindingData,
  type Event,
  type Identifier,
  type Literal,
  type LiteralType,
  type Node,
  type TaskTemplate,
  type WorkflowTemplate,
} from "@flotilla/proto";

export const PROJECT = "flotilla";
export const DOMAIN = "development";

/** A simple literal type. */
export function simple(t: SimpleType): LiteralType {
  return create(LiteralTypeSchema, { type: { case: "simple", value: t } });
}
export const INTEGER = simple(SimpleType.INTEGER);
export const STRING = simple(SimpleType.STRING);
export const FLOAT = simple(SimpleType.FLOAT);

/** An integer literal. */
export function int(v: number): Literal {
  return create(LiteralSchema, {
    value: {
      case: "scalar",
      value: { value: { case: "primitive", value: { value: { case: "integer", value: BigInt(v) } } } },
    },
  });
}

/** A string literal. */
export function str(v: string): Literal {
  return create(LiteralSchema, {
    value: {
      case: "scalar",
      value: { value: { case: "primitive", value: { value: { case: "stringValue", value: v } } } },
    },
  });
}

/** An identifier in the test project/domain. */
export function idOf(type: ResourceType, name: string, version = "v1"): Identifier {
  return create(IdentifierSchema, { resourceType: type, project: PROJECT, domain: DOMAIN, name, version });
}

/** Builds a container task template. */
export class TaskBuilder {
  private inputs: Record<string, LiteralType> = {};
  private outputs: Record<string, LiteralType> = {};
  constructor(
    private readonly name: string,
    private version = "v1",
  ) {}
  withInput(name: string, type: LiteralType): this {
    this.inputs[name] = type;
    return this;
  }
  withOutput(name: string, type: LiteralType): this {
    this.outputs[name] = type;
    return this;
  }
  atVersion(v: string): this {
    this.version = v;
    return this;
  }
  build(): TaskTemplate {
    return create(TaskTemplateSchema, {
      id: idOf(ResourceType.TASK, this.name, this.version),
      type: "container",
      interface: {
        inputs: {
          variables: Object.fromEntries(Object.entries(this.inputs).map(([k, t]) => [k, { type: t }])),
        },
        outputs: {
          variables: Object.fromEntries(Object.entries(this.outputs).map(([k, t]) => [k, { type: t }])),
        },
      },
      container: { image: "busybox:1.36", command: ["sh", "-c", "true"] },
    });
  }
}

/** Starts a task builder. */
export function aTask(name: string): TaskBuilder {
  return new TaskBuilder(name);
}

/** A binding source: an upstream output. */
export function fromNode(nodeId: string, output: string): BindingData {
  return create(BindingDataSchema, { value: { case: "promise", value: { nodeId, var: output } } });
}

/** A binding source: a workflow input. */
export function fromInput(name: string): BindingData {
  return create(BindingDataSchema, { value: { case: "workflowInput", value: { var: name } } });
}

/** A binding source: a constant integer. */
export function constInt(v: number): BindingData {
  return create(BindingDataSchema, {
    value: {
      case: "scalar",
      value: { value: { case: "primitive", value: { value: { case: "integer", value: BigInt(v) } } } },
    },
  });
}

/** Builds a workflow template node by node. */
export class WorkflowBuilder {
  private inputs: Record<string, LiteralType> = {};
  private outputs: Record<string, LiteralType> = {};
  private outputBindings: Binding[] = [];
  private nodes: Node[] = [];
  private current: Node | undefined;
  constructor(
    private readonly name: string,
    private readonly version = "v1",
  ) {}
  withInput(name: string, type: LiteralType): this {
    this.inputs[name] = type;
    return this;
  }
  withOutput(name: string, type: LiteralType, from: BindingData): this {
    this.outputs[name] = type;
    this.outputBindings.push(create(BindingSchema, { var: name, binding: from }));
    return this;
  }
  /** Adds a node running `task` (name, version v1). */
  withNode(id: string, task: string, taskVersion = "v1"): this {
    this.current = create(NodeSchema, {
      id,
      target: { case: "taskNode", value: { referenceId: idOf(ResourceType.TASK, task, taskVersion) } },
    });
    this.nodes.push(this.current);
    return this;
  }
  /** Binds an input of the last node. */
  binding(input: string, from: BindingData): this {
    this.current!.inputs.push(create(BindingSchema, { var: input, binding: from }));
    return this;
  }
  /** Adds explicit upstream dependencies to the last node. */
  dependingOn(...ids: string[]): this {
    this.current!.upstreamNodeIds.push(...ids);
    return this;
  }
  build(): WorkflowTemplate {
    return create(WorkflowTemplateSchema, {
      id: idOf(ResourceType.WORKFLOW, this.name, this.version),
      interface: {
        inputs: {
          variables: Object.fromEntries(Object.entries(this.inputs).map(([k, t]) => [k, { type: t }])),
        },
        outputs: {
          variables: Object.fromEntries(Object.entries(this.outputs).map(([k, t]) => [k, { type: t }])),
        },
      },
      nodes: this.nodes,
      outputs: this.outputBindings,
    });
  }
}

/** Starts a workflow builder. */
export function aWorkflow(name: string, version = "v1"): WorkflowBuilder {
  return new WorkflowBuilder(name, version);
}

const execId = (name: string) => ({ project: PROJECT, domain: DOMAIN, name });

/** A workflow event for execution `name`. */
export function workflowEvent(
  name: string,
  cluster: string,
  eventId: string,
  phase: number,
  phaseVersion: number,
  atMs: number,
): Event {
  return create(EventSchema, {
    event: {
      case: "workflowEvent",
      value: create(WorkflowExecutionEventSchema, {
        eventId,
        producerCluster: cluster,
        executionId: execId(name),
        phase,
        phaseVersion,
        occurredAt: timestampFromMs(atMs),
      }),
    },
  });
}

/** A node event for execution `name`. */
export function nodeEvent(
  name: string,
  cluster: string,
  eventId: string,
  nodeId: string,
  phase: number,
  phaseVersion: number,
  atMs: number,
): Event {
  return create(EventSchema, {
    event: {
      case: "nodeEvent",
      value: create(NodeExecutionEventSchema, {
        eventId,
        producerCluster: cluster,
        id: { executionId: execId(name), nodeId },
        phase,
        phaseVersion,
        occurredAt: timestampFromMs(atMs),
      }),
    },
  });
}

/** A task event for execution `name`. */
export function taskEvent(
  name: string,
  cluster: string,
  eventId: string,
  nodeId: string,
  attempt: number,
  phase: number,
  phaseVersion: number,
  atMs: number,
): Event {
  return create(EventSchema, {
    event: {
      case: "taskEvent",
      value: create(TaskExecutionEventSchema, {
        eventId,
        producerCluster: cluster,
        id: {
          taskId: idOf(ResourceType.TASK, "t"),
          nodeExecutionId: { executionId: execId(name), nodeId },
          retryAttempt: attempt,
        },
        phase,
        phaseVersion,
        occurredAt: timestampFromMs(atMs),
      }),
    },
  });
}
