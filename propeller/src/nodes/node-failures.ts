/** Failing a node of a level with a typed error: shared by the node handlers. */
import { create } from "@bufbuild/protobuf";
import {
  ExecutionErrorSchema,
  NodeExecution_Phase,
  type ExecutionError,
  type ExecutionError_Kind,
  type Node,
} from "@flotilla/proto";
import type { RoundContext } from "../workflow/round-context.js";

/** An ExecutionError with its message cut to the 4 KiB the API allows. */
export function nodeError(kind: ExecutionError_Kind, code: string, message: string): ExecutionError {
  return create(ExecutionErrorSchema, { kind, code, message: message.slice(0, 4096) });
}

/**
 * Moves `node` (of `ctx`'s level) to FAILED with the error `kind`/`code`/`message` (see
 * {@link nodeError}); the error code is the event's reason.
 */
export function failNode(
  ctx: RoundContext,
  node: Node,
  kind: ExecutionError_Kind,
  code: string,
  message: string,
): void {
  const err = nodeError(kind, code, message);
  ctx.setNodePhase(node.id, NodeExecution_Phase.FAILED, {
    reason: err.code,
    message: err.message,
    error: err,
  });
}
