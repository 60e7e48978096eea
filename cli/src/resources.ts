/** Small helpers shared by resource commands: identifiers and paging. */
import { create } from "@bufbuild/protobuf";
import {
  IdentifierSchema,
  ResourceType,
  WorkflowExecutionIdentifierSchema,
  type Identifier,
  type WorkflowExecutionIdentifier,
} from "@flotilla/proto";

/** The identifier of a registered entity. */
export function entityId(
  kind: "Task" | "Workflow" | "LaunchPlan",
  project: string,
  domain: string,
  name: string,
  version: string,
): Identifier {
  const resourceType =
    kind === "Task"
      ? ResourceType.TASK
      : kind === "Workflow"
        ? ResourceType.WORKFLOW
        : ResourceType.LAUNCH_PLAN;
  return create(IdentifierSchema, { resourceType, project, domain, name, version });
}

/** The identifier of an execution. */
export function executionId(project: string, domain: string, name: string): WorkflowExecutionIdentifier {
  return create(WorkflowExecutionIdentifierSchema, { project, domain, name });
}

/** Reads pages until `limit` items or the end. */
export async function listVersions<T>(
  limit: number,
  page: (pageToken: string, pageSize: number) => Promise<{ items: T[]; next: string }>,
): Promise<T[]> {
  const out: T[] = [];
  let token = "";
  do {
    const r = await page(token, Math.min(1000, limit - out.length));
    out.push(...r.items);
    token = r.next;
  } while (token && out.length < limit);
  return out.slice(0, limit);
}
