/**
 * Resolution of input bindings (constants, workflow inputs, upstream outputs and structures of
 * them) into the LiteralMap a node runs with, and of a workflow's output bindings.
 */
import { create } from "@bufbuild/protobuf";
import {
  LiteralCollectionSchema,
  LiteralMapSchema,
  LiteralSchema,
  type Binding,
  type BindingData,
  type Literal,
  type LiteralMap,
} from "@flotilla/proto";

/** A binding names a value that does not exist (missing upstream output or workflow input). */
export class BindingResolutionError extends Error {
  override readonly name = "BindingResolutionError";
  constructor(
    readonly variable: string,
    readonly reason: string,
  ) {
    super(`cannot bind ${variable}: ${reason}`);
  }
}

/** Where bound values come from. */
export interface BindingSources {
  /** The execution's inputs. */
  workflowInputs(): Promise<LiteralMap>;
  /** The outputs of a succeeded upstream node. */
  nodeOutputs(nodeId: string): Promise<LiteralMap>;
}

async function resolveData(
  variable: string,
  data: BindingData | undefined,
  sources: BindingSources,
): Promise<Literal> {
  const v = data?.value;
  switch (v?.case) {
    case "scalar":
      return create(LiteralSchema, { value: { case: "scalar", value: v.value } });
    case "collection": {
      const literals: Literal[] = [];
      for (const [i, b] of v.value.bindings.entries())
        literals.push(await resolveData(`${variable}[${i}]`, b, sources));
      return create(LiteralSchema, {
        value: { case: "collection", value: create(LiteralCollectionSchema, { literals }) },
      });
    }
    case "map": {
      const literals: Record<string, Literal> = {};
      for (const [k, b] of Object.entries(v.value.bindings))
        literals[k] = await resolveData(`${variable}.${k}`, b, sources);
      return create(LiteralSchema, { value: { case: "map", value: create(LiteralMapSchema, { literals }) } });
    }
    case "promise": {
      const outputs = await sources.nodeOutputs(v.value.nodeId);
      const lit = outputs.literals[v.value.var];
      if (!lit)
        throw new BindingResolutionError(variable, `node ${v.value.nodeId} has no output ${v.value.var}`);
      return lit;
    }
    case "workflowInput": {
      const inputs = await sources.workflowInputs();
      const lit = inputs.literals[v.value.var];
      if (!lit) throw new BindingResolutionError(variable, `the execution has no input ${v.value.var}`);
      return lit;
    }
    default:
      throw new BindingResolutionError(variable, "the binding has no value");
  }
}

/** Resolves every binding into a LiteralMap keyed by the bound variable. */
export async function resolveBindings(
  bindings: readonly Binding[],
  sources: BindingSources,
): Promise<LiteralMap> {
  const literals: Record<string, Literal> = {};
  for (const b of bindings) literals[b.var] = await resolveData(b.var, b.binding, sources);
  return create(LiteralMapSchema, { literals });
}
