import { WorkflowExecution_Phase } from "@flotilla/proto";
import type { ExecutionKey } from "../manager/placement.js";

/** Non-terminal workflow phases (an execution in one of them occupies its cluster). */
export const ACTIVE_PHASES: readonly number[] = [
  WorkflowExecution_Phase.UNSPECIFIED,
  WorkflowExecution_Phase.QUEUED,
  WorkflowExecution_Phase.RUNNING,
  WorkflowExecution_Phase.SUCCEEDING,
  WorkflowExecution_Phase.FAILING,
  WorkflowExecution_Phase.ABORTING,
];

/** Placement columns of one execution row (`executions.cluster`, `queue_reason`, `queue_reason_code`). */
export interface ExecutionPlacementUpdate {
  /** Cluster the execution's CR was created on; null while unplaced. */
  cluster: string | null;
  /** Why the execution waits for a cluster (displayed as its message); null once placed. */
  queueReason: string | null;
  /** The machine-readable code of `queueReason` (e.g. "ClusterLost"); null (the default) when none. */
  queueReasonCode?: string | null;
}

/** A non-terminal execution placed on a cluster, with the code of its queue reason. */
export interface ActiveExecution {
  key: ExecutionKey;
  queueReasonCode: string | null;
}

/**
 * The part of the execution repository the routing subsystem uses. The full
 * `ExecutionRepository` (in `execution-repository.ts`) extends this interface.
 */
export interface ExecutionPlacementRepository {
  /**
   * Records where (or why not) an execution is placed. Throws `ExecutionNotFoundError` when the
   * execution does not exist. Side effect: updates the execution row.
   */
  updatePlacement(id: ExecutionKey, placement: ExecutionPlacementUpdate): Promise<void>;
  /** The execution's cluster (null while unplaced), or undefined when the execution does not exist. */
  placementOf(id: ExecutionKey): Promise<{ cluster: string | null } | undefined>;
  /** The non-terminal executions placed on a cluster, ordered by key. */
  listActiveOn(cluster: string): Promise<ActiveExecution[]>;
  /** Number of non-terminal executions placed on a cluster. */
  countActiveOn(cluster: string): Promise<number>;
}
