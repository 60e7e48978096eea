/**
 * Periodic `AdminService.ClusterHeartbeat`: propeller version, observed allocatable capacity,
 * queue depth, active workflows and health. The admin's answer may name executions to abort
 * (terminated while the cluster was unreachable); those are handed to `onAbortRequested`.
 */
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import { tryParseQuantity } from "@flotilla/common";
import {
  CapacityHintsSchema,
  ClusterHeartbeatRequestSchema,
  Cluster_Health,
  type CapacityHints,
} from "@flotilla/proto";
import type { Logger } from "@flotilla/common";
import type { AdminClient } from "../clients/admin-client.js";
import type { PropellerMetrics } from "../metrics.js";

/** What the propeller reports about itself at each beat. */
export interface HeartbeatSnapshot {
  queueDepth: number;
  activeWorkflows: number;
  healthy: boolean;
  message: string;
}

/** Options of {@link startHeartbeat}. */
export interface HeartbeatOptions {
  client: AdminClient;
  kubeConfig: KubeConfig;
  clusterId: string;
  version: string;
  intervalMs: number;
  snapshot: () => HeartbeatSnapshot;
  metrics: PropellerMetrics;
  onAbortRequested: (executionNames: string[]) => void;
  logger: Logger;
}

/** Starts beating; returns a stop function. The first beat is sent immediately. */
export function startHeartbeat(options: HeartbeatOptions): { stop(): Promise<void> } {
  const core = options.kubeConfig.makeApiClient(CoreV1Api);
  let capacity: CapacityHints | undefined;
  let capacityAt = 0;
  let failures = 0;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let inFlight: Promise<void> = Promise.resolve();

  const readCapacity = async (): Promise<CapacityHints | undefined> => {
    if (capacity && Date.now() - capacityAt < 60_000) return capacity;
    try {
      const nodes = await core.listNode();
      let cpu = 0;
      let mem = 0;
      let gpus = 0;
      for (const n of nodes.items) {
        const a = n.status?.allocatable ?? {};
        cpu += tryParseQuantity(a.cpu) ?? 0;
        mem += tryParseQuantity(a.memory) ?? 0;
        gpus += tryParseQuantity(a["nvidia.com/gpu"]) ?? 0;
      }
      capacity = create(CapacityHintsSchema, {
        cpuCores: cpu,
        memoryGib: mem / 1024 ** 3,
        gpus: Math.floor(gpus),
      });
      capacityAt = Date.now();
    } catch (err) {
      options.logger.warn("heartbeat: cannot read node capacity", { error: err });
    }
    return capacity;
  };

  const beat = async (): Promise<void> => {
    const snap = options.snapshot();
    const cap = await readCapacity();
    try {
      const res = await options.client.clusterHeartbeat(
        create(ClusterHeartbeatRequestSchema, {
          cluster: options.clusterId,
          propellerVersion: options.version,
          ...(cap ? { capacity: cap } : {}),
          queueDepth: snap.queueDepth,
          activeWorkflows: snap.activeWorkflows,
          health: snap.healthy ? Cluster_Health.HEALTHY : Cluster_Health.DEGRADED,
          healthMessage: snap.message.slice(0, 1024),
          sentAt: timestampFromDate(new Date()),
        }),
        { timeoutMs: Math.max(1_000, options.intervalMs) },
      );
      failures = 0;
      if (res.abortExecutionNames.length > 0) options.onAbortRequested(res.abortExecutionNames);
    } catch (err) {
      failures++;
      options.metrics.heartbeatFailures.inc();
      if (failures === 1 || failures % 20 === 0)
        options.logger.warn("heartbeat to the admin failed", { failures, error: err });
    }
  };

  const loop = (): void => {
    if (stopped) return;
    inFlight = beat().finally(() => {
      if (!stopped) timer = setTimeout(loop, options.intervalMs);
    });
  };
  loop();
  return {
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await inFlight;
    },
  };
}
