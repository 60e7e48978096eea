/**
 * What every route of one API server shares: the API semantics, pod logs, counters, fault
 * injection, watch streams and the request size limit.
 */
import type { ClusterApi } from "../api.js";
import type { ApiCounters, ApiFaults } from "../faults.js";
import type { LogStore } from "../logs.js";
import type { WatchStreams } from "../watch.js";

/** The state of one API server that routes read and write. */
export interface RouteContext {
  readonly api: ClusterApi;
  readonly logs: LogStore;
  readonly counters: ApiCounters;
  readonly faults: ApiFaults;
  readonly watches: WatchStreams;
  /** Largest request body in bytes. */
  readonly requestLimit: number;
}
