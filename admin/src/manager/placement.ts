import type { Identifier, WorkflowExecutionSpec } from "@flotilla/proto";

/** The `{project, domain, name}` triple that names one execution. */
export interface ExecutionKey {
  project: string;
  domain: string;
  name: string;
}

/**
 * Everything the routing subsystem needs to place one execution on a cluster: the identity of
 * the execution and of what it runs (for routing rules), an explicitly requested cluster label,
 * and the ready-to-apply CR spec, labels and annotations.
 */
export interface PlacementRequest {
  /** The execution being placed. */
  execution: ExecutionKey;
  /** The launch plan that started the execution; absent for direct workflow executions. */
  launchPlan?: Identifier;
  /** The workflow the execution runs. */
  workflow: Identifier;
  /** Cluster label explicitly requested by the caller (execution spec or launch plan). */
  clusterLabel?: string;
  /** The CR spec (proto message, ready to serialize into the WorkflowExecution CR). */
  spec: WorkflowExecutionSpec;
  /** Labels for the CR (project, domain, execution, launch-plan, workflow). */
  labels: Record<string, string>;
  /** Annotations for the CR (traceparent, ...). */
  annotations: Record<string, string>;
}

/**
 * Result of a placement attempt: either the CR now exists on `cluster`, or the execution waits
 * (QUEUED) for the stated reason while the placer keeps retrying in the background.
 */
export type PlacementOutcome =
  { state: "placed"; cluster: string; reason: string } | { state: "queued"; reason: string };

/**
 * Places executions on clusters and removes them again. Implemented by the routing subsystem
 * (`admin/src/routing`); the execution manager only calls it.
 */
export interface ExecutionPlacer {
  /**
   * Choose a cluster (sticky per execution), record the decision, create the CR there
   * (AlreadyExists = success). Never throws for "no eligible cluster" or "cluster unreachable":
   * returns queued with the reason and keeps retrying in the background.
   */
  place(request: PlacementRequest): Promise<PlacementOutcome>;
  /** Delete the execution's CR from its cluster (NotFound = success). */
  terminate(execution: ExecutionKey, cluster: string): Promise<void>;
}

/** Queue reason used while no routing subsystem / no cluster is configured. */
export const NO_CLUSTERS_CONFIGURED = "NoClustersConfigured";

/**
 * Creates a placer that never places anything: every execution stays QUEUED with reason
 * `NoClustersConfigured`. Used when admin runs without any data-plane cluster.
 * Returns the placer; it has no side effects.
 */
export function createUnroutedPlacer(): ExecutionPlacer {
  return {
    place: () => Promise.resolve({ state: "queued", reason: NO_CLUSTERS_CONFIGURED }),
    terminate: () => Promise.resolve(),
  };
}
