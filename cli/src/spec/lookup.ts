/**
 * {@link EntityLookup} backed by the admin: interfaces of tasks, workflows and launch plans that
 * are referenced by spec files but registered earlier.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { SimpleType, type Identifier, type TypedInterface, type VariableMap } from "@flotilla/proto";
import type { AdminClient } from "../client.js";
import type { EntityLookup, TargetInterface } from "./compile.js";

function fromInterface(iface: TypedInterface | undefined): TargetInterface {
  return {
    inputs: Object.fromEntries(
      Object.entries(iface?.inputs?.variables ?? {}).map(([k, v]) => [
        k,
        {
          type: v.type,
          required: !(v.type?.type.case === "simple" && v.type.type.value === SimpleType.NONE),
        },
      ]),
    ),
    outputs: outputsOf(iface?.outputs),
  };
}

function outputsOf(vars: VariableMap | undefined): TargetInterface["outputs"] {
  return Object.fromEntries(Object.entries(vars?.variables ?? {}).map(([k, v]) => [k, v.type]));
}

async function orUndefined<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch (err) {
    if (err instanceof ConnectError && err.code === Code.NotFound) return undefined;
    throw err;
  }
}

/** Creates a lookup that asks `client` (NotFound → undefined; other errors propagate). */
export function adminLookup(client: AdminClient): EntityLookup {
  return {
    async interfaceOf(kind, id: Identifier) {
      if (kind === "Task") {
        const r = await orUndefined(client.getTask({ id }));
        return r?.task ? fromInterface(r.task.compiled?.template?.interface) : undefined;
      }
      if (kind === "Workflow") {
        const r = await orUndefined(client.getWorkflow({ id }));
        return r?.workflow ? fromInterface(r.workflow.closure?.primary?.template?.interface) : undefined;
      }
      const r = await orUndefined(client.getLaunchPlan({ id }));
      const lp = r?.launchPlan;
      if (!lp) return undefined;
      const wf = lp.spec?.workflowId
        ? await orUndefined(client.getWorkflow({ id: lp.spec.workflowId }))
        : undefined;
      return {
        inputs: Object.fromEntries(
          Object.entries(lp.expectedInputs?.parameters ?? {}).map(([k, p]) => [
            k,
            { type: p.var?.type, required: p.behavior.case === "required" || p.behavior.case === undefined },
          ]),
        ),
        outputs: outputsOf(wf?.workflow?.closure?.primary?.template?.interface?.outputs),
      };
    },
  };
}
