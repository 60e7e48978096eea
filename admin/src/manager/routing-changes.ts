/**
 * How the cluster registry and the routing rules tell the placer that what it decides on changed.
 */

/** Receives cluster and rule changes (implemented by the placer). */
export interface RoutingChanges {
  /** Drops cached clusters and rules (a change that cannot make a waiting execution placeable). */
  invalidate(): void;
  /** Drops the cache and makes every waiting execution due now (clusters or rules changed). */
  reevaluateAll(): Promise<void>;
}
