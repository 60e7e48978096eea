/**
 * AdminService RPCs of the cluster registry and heartbeats. Thin: validate the request, call the
 * cluster registry, map results to proto; errors leave through the routing error mapping.
 */
import { create, fromJson, toJson, type JsonObject } from "@bufbuild/protobuf";
import { DurationSchema, timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import { isDnsLabel, isLabelKey, isLabelValue } from "@flotilla/common";
import {
  CapacityHintsSchema,
  ClusterSchema,
  Cluster_Health,
  Cluster_State,
  PriceTableSchema,
  type AdminService,
  type Cluster,
} from "@flotilla/proto";
import { InvalidArgumentError } from "../errors.js";
import { priceTableProblem } from "../cost/prices.js";
import type { ClusterRegistry, ClusterView } from "../manager/cluster-registry.js";
import type { ClusterRecord, ClusterRegistration, StoredHealth } from "../repository/cluster-repository.js";
import { ClusterState } from "../routing/router.js";
import { pageOf, required } from "./routing-rpc.js";

/** The RPCs this module implements. */
export type ClusterHandlers = Pick<
  ServiceImpl<typeof AdminService>,
  | "registerCluster"
  | "updateCluster"
  | "getCluster"
  | "listClusters"
  | "cordonCluster"
  | "uncordonCluster"
  | "drainCluster"
  | "clusterHeartbeat"
>;

/** Managers the cluster handlers call. */
export interface ClusterHandlerDeps {
  registry: ClusterRegistry;
}

function checkLabels(field: string, labels: Record<string, string>): void {
  const entries = Object.entries(labels);
  if (entries.length > 64) throw new InvalidArgumentError(field, "at most 64 labels");
  for (const [k, v] of entries) {
    if (!isLabelKey(k)) throw new InvalidArgumentError(`${field}[${k}]`, "not a valid label key");
    if (!isLabelValue(v))
      throw new InvalidArgumentError(`${field}[${k}]`, `not a valid label value ${JSON.stringify(v)}`);
  }
}

function registrationOf(c: Cluster | undefined): ClusterRegistration {
  if (!c) throw new InvalidArgumentError("cluster", "is required");
  if (!isDnsLabel(c.name))
    throw new InvalidArgumentError("cluster.name", "must be a DNS-1123 label of 1-63 chars");
  if (c.apiEndpoint !== "" && !/^https?:\/\/[^\s]+$/.test(c.apiEndpoint)) {
    throw new InvalidArgumentError("cluster.api_endpoint", "must be an http(s):// URL");
  }
  if (c.apiEndpoint.length > 2048)
    throw new InvalidArgumentError("cluster.api_endpoint", "at most 2048 chars");
  if (c.apiEndpoint === "" && c.credentialsRef === "") {
    throw new InvalidArgumentError("cluster.api_endpoint", "required when credentials_ref is empty");
  }
  if (c.credentialsRef.length > 1024)
    throw new InvalidArgumentError("cluster.credentials_ref", "at most 1024 chars");
  if (c.priority > 1000) throw new InvalidArgumentError("cluster.priority", "must be 0-1000");
  checkLabels("cluster.labels", c.labels);
  if (c.prices) {
    const bad = priceTableProblem(c.prices, {
      currency: "cluster.prices.currency",
      cpuHour: "cluster.prices.cpu_hour",
      memoryGibHour: "cluster.prices.memory_gib_hour",
      gpuHour: "cluster.prices.gpu_hour",
    });
    if (bad) throw new InvalidArgumentError(bad.field, bad.problem);
  }
  return {
    name: c.name,
    apiEndpoint: c.apiEndpoint,
    credentialsRef: c.credentialsRef,
    labels: { ...c.labels },
    priority: c.priority,
    capacity: c.capacity ? (toJson(CapacityHintsSchema, c.capacity) as JsonObject) : {},
    prices: c.prices ? (toJson(PriceTableSchema, c.prices) as JsonObject) : {},
  };
}

const STATE_TO_PROTO: Record<ClusterState, Cluster_State> = {
  active: Cluster_State.ACTIVE,
  cordoned: Cluster_State.CORDONED,
  draining: Cluster_State.DRAINING,
};
const HEALTH_TO_PROTO: Record<StoredHealth, Cluster_Health> = {
  unspecified: Cluster_Health.UNSPECIFIED,
  healthy: Cluster_Health.HEALTHY,
  degraded: Cluster_Health.DEGRADED,
};

function clusterToProto(c: ClusterView): Cluster {
  return create(ClusterSchema, {
    name: c.name,
    apiEndpoint: c.apiEndpoint,
    credentialsRef: c.credentialsRef,
    labels: c.labels,
    priority: c.priority,
    capacity: fromJson(CapacityHintsSchema, c.capacity as JsonObject),
    prices: fromJson(PriceTableSchema, c.prices as JsonObject),
    state: STATE_TO_PROTO[c.state],
    health: c.lost ? Cluster_Health.LOST : HEALTH_TO_PROTO[c.health],
    ...(c.lastHeartbeatAt ? { lastHeartbeatAt: timestampFromDate(c.lastHeartbeatAt) } : {}),
    propellerVersion: c.propellerVersion,
    createdAt: timestampFromDate(c.createdAt),
    stateReason: c.stateReason,
  });
}

/**
 * Creates the cluster handlers over the cluster registry. Returns the partial AdminService
 * implementation; no side effects until called.
 */
export function createClusterHandlers({ registry }: ClusterHandlerDeps): ClusterHandlers {
  const viewOf = (c: ClusterRecord) => clusterToProto(registry.view(c));

  return {
    registerCluster: async (req) => ({
      cluster: viewOf(await registry.register(registrationOf(req.cluster))),
    }),
    updateCluster: async (req) => ({
      cluster: viewOf(await registry.update(registrationOf(req.cluster))),
    }),
    getCluster: async (req) => {
      const c = await registry.get(required("name", req.name));
      return { cluster: viewOf(c), activeExecutions: await registry.activeExecutions(c.name) };
    },
    listClusters: async (req) => {
      const { limit, offset } = pageOf(req.pageSize, req.pageToken);
      if (Object.keys(req.labelSelector).length > 16)
        throw new InvalidArgumentError("label_selector", "at most 16 entries");
      const wanted = req.state === Cluster_State.UNSPECIFIED ? undefined : req.state;
      const all = (await registry.list()).filter(
        (c) =>
          Object.entries(req.labelSelector).every(([k, v]) => c.labels[k] === v) &&
          (wanted === undefined || STATE_TO_PROTO[c.state] === wanted),
      );
      const page = all.slice(offset, offset + limit);
      return {
        clusters: page.map(viewOf),
        nextPageToken: offset + limit < all.length ? String(offset + limit) : "",
      };
    },
    cordonCluster: async (req) => {
      const reason = required("reason", req.reason);
      if (reason.length > 1024) throw new InvalidArgumentError("reason", "at most 1024 chars");
      return {
        cluster: viewOf(await registry.setState(required("name", req.name), ClusterState.Cordoned, reason)),
      };
    },
    uncordonCluster: async (req) => ({
      cluster: viewOf(await registry.setState(required("name", req.name), ClusterState.Active, "")),
    }),
    drainCluster: async (req) => {
      const reason = required("reason", req.reason);
      if (reason.length > 1024) throw new InvalidArgumentError("reason", "at most 1024 chars");
      const c = await registry.setState(required("name", req.name), ClusterState.Draining, reason);
      return { cluster: viewOf(c), remainingExecutions: await registry.activeExecutions(c.name) };
    },
    clusterHeartbeat: async (req) => {
      const name = required("cluster", req.cluster);
      const version = required("propeller_version", req.propellerVersion);
      if (version.length > 64) throw new InvalidArgumentError("propeller_version", "at most 64 chars");
      if (req.healthMessage.length > 1024)
        throw new InvalidArgumentError("health_message", "at most 1024 chars");
      const health: StoredHealth = req.health === Cluster_Health.DEGRADED ? "degraded" : "healthy";
      const { cluster, abort } = await registry.heartbeat(name, {
        propellerVersion: version,
        health,
        healthMessage: req.healthMessage,
        queueDepth: req.queueDepth,
        activeWorkflows: req.activeWorkflows,
        // Admin's clock decides liveness; the producer's sent_at is informational.
        at: new Date(),
      });
      const intervalMs = registry.heartbeatIntervalMs;
      return {
        desiredState: STATE_TO_PROTO[cluster.state],
        desiredPropellerVersion: "",
        heartbeatInterval: create(DurationSchema, {
          seconds: BigInt(Math.floor(intervalMs / 1000)),
          nanos: (intervalMs % 1000) * 1_000_000,
        }),
        abortExecutionNames: abort,
      };
    },
  };
}
