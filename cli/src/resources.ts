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

/** The paging fields of a list request. */
export interface PageRequest {
  pageToken: string;
  pageSize: number;
}

/**
 * Reads the pages of a list call until `limit` items (Infinity: all) or the last page, asking
 * for at most 1000 items a page: `fetch` makes the call for one page, `items` picks the items of
 * its response. Returns the items in order, at most `limit`.
 */
export async function readPages<R extends { nextPageToken: string }, T>(
  limit: number,
  fetch: (page: PageRequest) => Promise<R>,
  items: (response: R) => T[],
): Promise<T[]> {
  const out: T[] = [];
  let pageToken = "";
  do {
    const response = await fetch({ pageToken, pageSize: Math.min(1000, limit - out.length) });
    out.push(...items(response));
    pageToken = response.nextPageToken;
  } while (pageToken && out.length < limit);
  return out.slice(0, limit);
}
