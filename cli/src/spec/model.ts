/**
 * The parsed (first-phase) form of spec documents: proto pieces that need no cross-document
 * knowledge are built already; references and bindings keep their YAML positions so the second
 * phase can report unresolved names and type mismatches at the right line.
 */
import type { Duration } from "@bufbuild/protobuf/wkt";
import type {
  LaunchPlanSpec,
  LiteralType,
  RetryStrategy,
  TaskTemplate,
  WorkflowMetadata,
} from "@flotilla/proto";
import type { Pos } from "./reader.js";

/** Kinds of spec documents. */
export const SpecKind = { task: "Task", workflow: "Workflow", launchPlan: "LaunchPlan" } as const;
/** "Task" | "Workflow" | "LaunchPlan". */
export type SpecKind = (typeof SpecKind)[keyof typeof SpecKind];

/** Where something was written. */
export interface Origin {
  file: string;
  /** Position of the thing itself. */
  at: Pos;
  /** Field path inside the document. */
  path: string;
}

/** A reference to a registered (or co-registered) entity by name and optional version. */
export interface EntityRef {
  kind: SpecKind;
  name: string;
  /** Explicit version; absent means the version being registered. */
  version?: string;
  origin: Origin;
}

/** A typed variable of an interface, with its position. */
export interface SpecVariable {
  name: string;
  type: LiteralType;
  description: string;
  origin: Origin;
}

/** A value produced elsewhere: a workflow input, or an output of an upstream node. */
export type SpecReference =
  { kind: "input"; input: string } | { kind: "promise"; node: string; output: string };

/** Where a bound value comes from. */
export type BindingSource = SpecReference | { kind: "value"; value: unknown; type?: LiteralType };

/** One binding (node input or workflow output). */
export interface SpecBinding {
  variable: string;
  source: BindingSource;
  origin: Origin;
}

/** One side of a branch comparison. */
export type SpecOperand = SpecReference | { kind: "value"; value: number | string | boolean };

/** A branch condition, parsed from its text (`a.y > 5 and $mode == 'fast'`). */
export type SpecCondition =
  | { kind: "compare"; op: "==" | "!=" | ">" | ">=" | "<" | "<="; left: SpecOperand; right: SpecOperand }
  | { kind: "and" | "or"; left: SpecCondition; right: SpecCondition };

/** A branch: the first case whose condition holds runs its node, else `otherwise` or the error. */
export interface SpecBranch {
  cases: Array<{ when: SpecCondition; whenOrigin: Origin; then: SpecNode }>;
  otherwise?: SpecNode;
  /** Message of the USER error the branch fails with when no case holds (instead of `otherwise`). */
  error?: string;
}

/** A node of a workflow spec: runs a task, workflow or launch plan (`target`), or is a `branch`. */
export interface SpecNode {
  id: string;
  origin: Origin;
  /** Absent for branch nodes. */
  target?: EntityRef;
  branch?: SpecBranch;
  inputs: SpecBinding[];
  dependsOn: Array<{ id: string; origin: Origin }>;
  displayName: string;
  retries?: RetryStrategy;
  timeout?: Duration;
  interruptible?: boolean;
}

/** A parsed Task document: the template is complete except for its identifier. */
export interface TaskDoc {
  kind: "Task";
  name: string;
  origin: Origin;
  template: TaskTemplate;
  inputs: SpecVariable[];
  outputs: SpecVariable[];
}

/** A parsed Workflow document. */
export interface WorkflowDoc {
  kind: "Workflow";
  name: string;
  origin: Origin;
  inputs: SpecVariable[];
  outputs: Array<SpecVariable & { from?: SpecBinding }>;
  nodes: SpecNode[];
  metadata: WorkflowMetadata;
}

/** A value given for a launch plan input. */
export interface SpecValue {
  name: string;
  value: unknown;
  origin: Origin;
}

/** A parsed LaunchPlan document: `spec` lacks workflow id and inputs, which need the workflow. */
export interface LaunchPlanDoc {
  kind: "LaunchPlan";
  name: string;
  origin: Origin;
  workflow: EntityRef;
  defaults: SpecValue[];
  fixed: SpecValue[];
  required: Array<{ name: string; origin: Origin }>;
  spec: LaunchPlanSpec;
}

/** Any parsed document. */
export type SpecDoc = TaskDoc | WorkflowDoc | LaunchPlanDoc;
