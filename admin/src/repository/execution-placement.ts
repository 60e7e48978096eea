import type { ExecutionKey } from "../manager/placement.js";

/** Placement columns of one execution row (`executions.cluster`, `executions.queue_reason`). */
export interface ExecutionPlacementUpdate {
  /** Cluster the execution's CR was created on; null while unplaced. */
  cluster: string | null;
  /** Why the execution waits for a cluster; null once placed. */
  queueReason: string | null;
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
}
