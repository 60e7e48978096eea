/** The interface every node kind's handler implements, and the table of them by kind. */
import type { Node } from "@flotilla/proto";
import type { RoundContext } from "../workflow/round-context.js";

/**
 * Drives nodes of one kind. Handlers mutate the round's status only through the context, whose
 * level (the execution's workflow, or the nodes inside a sub-workflow or branch node) the node
 * belongs to.
 */
export interface NodeHandler {
  /**
   * Advances `node` by one step. Called only when every upstream node succeeded, for nodes that
   * are not terminal. May start work (pods, tokens), observe it, and finish the node.
   */
  handle(ctx: RoundContext, node: Node): Promise<void>;
  /** Stops `node`'s work (pods, tokens) and marks it ABORTED with `cause`; no-op when terminal. */
  abort(ctx: RoundContext, node: Node, cause: string): Promise<void>;
}

/** Node handlers by node kind (`Node.target.case`). */
export interface NodeHandlers {
  taskNode: NodeHandler;
  workflowNode: NodeHandler;
  branchNode: NodeHandler;
  arrayNode: NodeHandler;
}

/** The handler of `node`'s kind, or undefined for a node without a target. */
export function handlerFor(handlers: NodeHandlers, node: Node): NodeHandler | undefined {
  const kind = node.target.case;
  return kind ? handlers[kind] : undefined;
}
