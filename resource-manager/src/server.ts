import { ResourceManagerService } from "@flotilla/proto";
import { startServer, type Logger, type Readiness, type RunningServer } from "@flotilla/runtime";
import type { ResourceManager } from "./manager/resource-manager.js";
import type { ResourceManagerMetrics } from "./metrics.js";
import { createResourceManagerServiceImpl } from "./rpc/resource-manager-service.js";

/** Options of {@link startResourceManagerServer}. */
export interface ResourceManagerServerOptions {
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  readonly manager: ResourceManager;
  readonly metrics: ResourceManagerMetrics;
  readonly log: Logger;
}

/**
 * Replies smaller than this are sent uncompressed even to clients that accept gzip. The leader's
 * single decision loop is the service's throughput, and gzipping a batch reply of 100 leases
 * (~13 KB) cost more of it than deciding the batch; callers sit next to the service, so only
 * very large list pages are worth compressing. Compressed requests are still accepted.
 */
const COMPRESS_MIN_BYTES = 1024 * 1024;

/**
 * Where the instance stands, for `/healthz` and `/readyz`: ready only as the active leader (so a
 * load balancer routes to it); a standby is alive and reports the leader's URL once known.
 */
export function resourceManagerReadiness(manager: ResourceManager): Readiness {
  const state = manager.state;
  const leading = state === "active";
  return {
    ready: leading,
    ...(leading ? {} : { reason: state === "standby" ? "standby: not the leader" : `${state}` }),
    details: {
      role: leading ? "leader" : state,
      epoch: manager.epoch ?? null,
      leader: leading ? null : (manager.leader ?? null),
    },
  };
}

/**
 * Starts the service's single listener (the runtime's server): Connect, gRPC and gRPC-Web for
 * ResourceManagerService, plus `/metrics`, `/healthz` (alive, leader and standby) and `/readyz`
 * (200 only on the active leader). Resolves once listening.
 */
export function startResourceManagerServer(options: ResourceManagerServerOptions): Promise<RunningServer> {
  const { manager, metrics, log } = options;
  return startServer({
    host: options.host,
    port: options.port,
    logger: log,
    registry: metrics.registry,
    compressMinBytes: COMPRESS_MIN_BYTES,
    routes: (router) => {
      router.service(ResourceManagerService, createResourceManagerServiceImpl(manager, log));
    },
    readiness: () => resourceManagerReadiness(manager),
  });
}
