/** The interface every node kind's handler implements. */
import type { Node } from "@flotilla/proto";
import type { RoundContext } from "../workflow/round-context.js";

/** Drives nodes of one kind. Handlers mutate the round's status only through the context. */
export interface NodeHandler {
  /**
   * Advances `node` by one step. Called only when every upstream node succeeded, for nodes that
   * are not terminal. May start work (pods, tokens), observe it, and finish the node.
   */
  handle(ctx: RoundContext, node: Node): Promise<void>;
  /** Stops `node`'s work (pods, tokens) and marks it ABORTED with `cause`; no-op when terminal. */
  abort(ctx: RoundContext, node: Node, cause: string): Promise<void>;
}
