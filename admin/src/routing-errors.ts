/**
 * Domain errors of cluster routing: the cluster registry, routing rules and placement. Each is an
 * {@link AdminError} subclass with structured fields; the RPC layer maps them to Connect codes.
 */
import { AdminError, NotFoundError } from "./errors.js";

/** A cluster name that is not registered. */
export class ClusterNotFoundError extends NotFoundError {
  override readonly name = "ClusterNotFoundError";
  override readonly reason = "ClusterNotFound";
  constructor(readonly cluster: string) {
    super("cluster", cluster);
  }
}

/** The routing rule id is unknown. */
export class RoutingRuleNotFoundError extends NotFoundError {
  override readonly name = "RoutingRuleNotFoundError";
  override readonly reason = "RoutingRuleNotFound";
  constructor(readonly ruleId: string) {
    super("routing rule", ruleId);
  }
}

/** An update carried a revision that is not the entity's current one (optimistic concurrency). */
export class StaleRevisionError extends AdminError {
  override readonly name = "StaleRevisionError";
  readonly reason = "StaleRevision";
  constructor(
    readonly kind: string,
    readonly id: string,
    readonly given: number,
    readonly current: number,
  ) {
    super(`${kind} ${id}: revision ${given} is stale (current ${current}); re-read and retry`);
  }
}
