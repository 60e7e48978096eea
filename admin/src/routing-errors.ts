/**
 * Domain errors of cluster routing: the cluster registry, routing rules and placement. Each is an
 * {@link AdminError} subclass with structured fields; the one interceptor maps them to Connect codes.
 */
import { NotFoundError } from "./errors.js";

export { StaleRevisionError } from "./errors.js";

/** A cluster name that is not registered. */
export class ClusterNotFoundError extends NotFoundError {
  constructor(readonly cluster: string) {
    super("cluster", cluster);
  }
}

/** The routing rule id is unknown. */
export class RoutingRuleNotFoundError extends NotFoundError {
  constructor(readonly ruleId: string) {
    super("routing rule", ruleId);
  }
}
