/**
 * The handler for node kinds this propeller version does not execute yet. It fails the node
 * with a SYSTEM error that names the kind, so the user sees a clear reason instead of a
 * workflow that never progresses.
 */
import { create } from "@bufbuild/protobuf";
import { ExecutionErrorSchema, ExecutionError_Kind, NodeExecution_Phase } from "@flotilla/proto";
import { isTerminalNodePhase } from "../../workflow/phases.js";
import type { NodeHandler } from "../node-handler.js";

/** Creates a handler that fails nodes of an unsupported kind (`what`, e.g. "branch nodes"). */
export function createUnsupportedHandler(what: string): NodeHandler {
  return {
    async handle(ctx, node) {
      const message = `node ${ctx.uniqueId(node.id)}: ${what} are not supported by this propeller version`;
      ctx.setNodePhase(node.id, NodeExecution_Phase.FAILED, {
        reason: "UnsupportedNodeKind",
        message,
        error: create(ExecutionErrorSchema, {
          kind: ExecutionError_Kind.SYSTEM,
          code: "UnsupportedNodeKind",
          message,
        }),
      });
    },
    async abort(ctx, node, cause) {
      const ns = ctx.nodes[node.id];
      if (!ns || isTerminalNodePhase(ns.phase)) return;
      ctx.setNodePhase(node.id, NodeExecution_Phase.ABORTED, { reason: "Aborted", message: cause });
    },
  };
}
