/**
 * Execution-wide ids of nested nodes. A node inside a sub-workflow or a branch keeps its own id
 * in its level's status map (`NodeStatus.sub_nodes` of the parent), but everything that must be
 * unique across the execution — events, pod names, token holders, blob locations — uses the
 * path of ids from the top, joined with {@link NESTED_NODE_SEPARATOR}.
 */
import type { NodeStatus } from "@flotilla/proto";

/**
 * Joins a parent's execution-wide id and a child's id. Node ids are `[a-z0-9-_]`, so a `.`
 * never occurs inside one: `sub.train` cannot collide with a top-level node, whatever ids the
 * workflows use (a `-` could: top-level `sub-train` vs node `train` of sub-workflow node `sub`).
 */
export const NESTED_NODE_SEPARATOR = ".";

/** The execution-wide id of node `childId` running inside the node whose execution-wide id is `parentId` ("" at the top). */
export function nestedNodeId(parentId: string, childId: string): string {
  return parentId ? `${parentId}${NESTED_NODE_SEPARATOR}${childId}` : childId;
}

/**
 * Calls `visit` for every node status of `nodes` and, depth-first, of their sub-nodes, with the
 * execution-wide id of each and the execution-wide id of its parent ("" at the top).
 */
export function forEachNodeStatus(
  nodes: { readonly [id: string]: NodeStatus },
  visit: (uniqueId: string, ns: NodeStatus, parentId: string) => void,
  parentId = "",
): void {
  for (const [id, ns] of Object.entries(nodes)) {
    const uniqueId = nestedNodeId(parentId, id);
    visit(uniqueId, ns, parentId);
    forEachNodeStatus(ns.subNodes, visit, uniqueId);
  }
}
