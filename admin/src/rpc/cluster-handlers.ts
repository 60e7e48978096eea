/**
 * AdminService RPCs of the cluster registry, heartbeats, routing rules and explanations. Thin:
 * validate the request, call the routing manager, map results to proto; domain errors are
 * mapped to Connect codes by the RPC interceptor (`rpc/errors.ts`).
 */
import { create, toJson, type JsonObject, fromJson } from "@bufbuild/protobuf";
import { DurationSchema, timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import {
  CandidateClusterSchema,
  CapacityHintsSchema,
  ClusterSchema,
  Cluster_Health,
  Cluster_State,
  PriceTableSchema,
  RoutingDecisionSchema,
  RoutingRuleSchema,
  RoutingScopeSchema,
  WeightedTargetSchema,
  WorkflowExecutionIdentifierSchema,
  type AdminService,
  type Cluster,
  type RoutingRule as RoutingRuleProto,
  type WeightedTarget as WeightedTargetProto,
} from "@flotilla/proto";
import { InvalidArgumentError, NotFoundError } from "../errors.js";
import type { ClusterRecord, ClusterRegistration, StoredHealth } from "../routing/cluster-repository.js";
import type { StoredDecision } from "../routing/decision-repository.js";
import {
  ClusterState,
  InvalidRuleScopeError,
  ruleLevel,
  type RoutingRuleScope,
  type WeightedTarget,
} from "../routing/router.js";
import type { RoutingManager } from "../routing/routing-manager.js";
import type { StoredRoutingRule } from "../routing/rule-repository.js";

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const LABEL_KEY = /^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;

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
  | "createRoutingRule"
  | "updateRoutingRule"
  | "deleteRoutingRule"
  | "listRoutingRules"
  | "explainExecution"
>;

function required(field: string, value: string): string {
  if (value.trim() === "") throw new InvalidArgumentError(field, "is required");
  return value;
}

function checkLabels(field: string, labels: Record<string, string>): void {
  const entries = Object.entries(labels);
  if (entries.length > 64) throw new InvalidArgumentError(field, "at most 64 labels");
  for (const [k, v] of entries) {
    if (!LABEL_KEY.test(k)) throw new InvalidArgumentError(`${field}[${k}]`, "not a valid label key");
    if (!LABEL_VALUE.test(v))
      throw new InvalidArgumentError(`${field}[${k}]`, `not a valid label value ${JSON.stringify(v)}`);
  }
}

function registrationOf(c: Cluster | undefined): ClusterRegistration {
  if (!c) throw new InvalidArgumentError("cluster", "is required");
  if (!DNS_LABEL.test(c.name))
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

function clusterToProto(c: ClusterRecord & { lost: boolean }): Cluster {
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

function targetFromProto(t: WeightedTargetProto, i: number): WeightedTarget {
  const field = `rule.targets[${i}]`;
  if (!(t.weight > 0 && t.weight <= 1_000_000))
    throw new InvalidArgumentError(`${field}.weight`, "must be 1-1000000");
  switch (t.target.case) {
    case "cluster":
      if (!DNS_LABEL.test(t.target.value))
        throw new InvalidArgumentError(`${field}.cluster`, "must be a cluster name");
      return { kind: "cluster", cluster: t.target.value, weight: t.weight };
    case "clusterLabel":
      if (!DNS_LABEL.test(t.target.value))
        throw new InvalidArgumentError(`${field}.cluster_label`, "must be a DNS-1123 label");
      return { kind: "label", clusterLabel: t.target.value, weight: t.weight };
    default:
      throw new InvalidArgumentError(
        `${field}.target`,
        "exactly one of cluster and cluster_label is required",
      );
  }
}

function ruleBodyFromProto(r: RoutingRuleProto): {
  clusterLabel: string;
  targets: WeightedTarget[];
  description: string;
} {
  if (r.clusterLabel !== "" && !DNS_LABEL.test(r.clusterLabel)) {
    throw new InvalidArgumentError("rule.cluster_label", "must be a DNS-1123 label");
  }
  if (r.targets.length > 64) throw new InvalidArgumentError("rule.targets", "at most 64 targets");
  if (r.description.length > 1024) throw new InvalidArgumentError("rule.description", "at most 1024 chars");
  return {
    clusterLabel: r.clusterLabel,
    targets: r.targets.map(targetFromProto),
    description: r.description,
  };
}

function scopeFromProto(r: RoutingRuleProto): RoutingRuleScope {
  const s = r.scope;
  if (!s) throw new InvalidArgumentError("rule.scope", "is required");
  const scope: RoutingRuleScope = {
    project: s.project || undefined,
    domain: s.domain || undefined,
    workflow: s.workflow || undefined,
    launchPlan: s.launchPlan || undefined,
  };
  for (const [field, v] of [
    ["project", scope.project],
    ["domain", scope.domain],
  ] as const) {
    if (v !== undefined && !DNS_LABEL.test(v))
      throw new InvalidArgumentError(`rule.scope.${field}`, "must be a DNS-1123 label");
  }
  try {
    ruleLevel(scope);
  } catch (err) {
    if (err instanceof InvalidRuleScopeError) throw new InvalidArgumentError("rule.scope", err.problem);
    throw err;
  }
  return scope;
}

function ruleToProto(r: StoredRoutingRule): RoutingRuleProto {
  return create(RoutingRuleSchema, {
    id: r.id,
    scope: create(RoutingScopeSchema, {
      project: r.scope.project ?? "",
      domain: r.scope.domain ?? "",
      workflow: r.scope.workflow ?? "",
      launchPlan: r.scope.launchPlan ?? "",
    }),
    clusterLabel: r.clusterLabel,
    targets: r.targets.map((t) =>
      create(WeightedTargetSchema, {
        target:
          t.kind === "cluster"
            ? { case: "cluster", value: t.cluster }
            : { case: "clusterLabel", value: t.clusterLabel },
        weight: t.weight,
      }),
    ),
    description: r.description,
    createdAt: timestampFromDate(r.createdAt),
    updatedAt: timestampFromDate(r.updatedAt),
    revision: BigInt(r.revision),
  });
}

const LABEL_SOURCE_TO_PROTO: Record<string, string> = {
  requested: "request",
  rule: "rule",
  default: "default",
  none: "",
};

function pageOf(pageSize: number, pageToken: string): { limit: number; offset: number } {
  if (pageSize > 1000) throw new InvalidArgumentError("page_size", "must be 0-1000");
  const limit = pageSize === 0 ? 100 : pageSize;
  let offset = 0;
  if (pageToken !== "") {
    offset = Number.parseInt(pageToken, 10);
    if (!Number.isSafeInteger(offset) || offset < 0 || String(offset) !== pageToken) {
      throw new InvalidArgumentError("page_token", "is not a token returned by a previous call");
    }
  }
  return { limit, offset };
}

/**
 * Creates the handlers over a routing manager. Returns the partial AdminService implementation;
 * no side effects until called.
 */
export function createClusterHandlers(manager: RoutingManager): ClusterHandlers {
  const viewOf = (c: ClusterRecord) => clusterToProto(manager.view(c));

  async function decisionToProto(
    d: StoredDecision,
  ): Promise<ReturnType<typeof create<typeof RoutingDecisionSchema>>> {
    let matchedRule: RoutingRuleProto | undefined;
    if (d.matchedRuleId) {
      try {
        matchedRule = ruleToProto(await manager.rules.get(d.matchedRuleId));
      } catch (err) {
        if (!(err instanceof NotFoundError)) throw err;
        matchedRule = create(RoutingRuleSchema, { id: d.matchedRuleId, description: "(rule deleted since)" });
      }
    }
    return create(RoutingDecisionSchema, {
      executionId: create(WorkflowExecutionIdentifierSchema, d.execution),
      ...(matchedRule ? { matchedRule } : {}),
      clusterLabel: d.clusterLabel,
      clusterLabelSource: LABEL_SOURCE_TO_PROTO[d.clusterLabelSource] ?? d.clusterLabelSource,
      isolationLabel: d.isolationLabel,
      candidates: d.candidates.map((c) =>
        create(CandidateClusterSchema, {
          cluster: c.cluster,
          eligible: c.eligible,
          reason: c.reason,
          message: c.message,
          weight: c.eligible ? Math.max(1, Math.round(c.weight)) : 0,
        }),
      ),
      chosenCluster: d.chosenCluster ?? "",
      decidedAt: timestampFromDate(d.decidedAt),
      queueReason: d.queueReason,
      sticky: d.sticky,
    });
  }

  return {
    registerCluster: async (req) => ({
      cluster: viewOf(await manager.registerCluster(registrationOf(req.cluster))),
    }),
    updateCluster: async (req) => ({
      cluster: viewOf(await manager.updateCluster(registrationOf(req.cluster))),
    }),
    getCluster: async (req) => {
      const c = await manager.clusters.get(required("name", req.name));
      return { cluster: viewOf(c), activeExecutions: await manager.activeExecutions(c.name) };
    },
    listClusters: async (req) => {
      const { limit, offset } = pageOf(req.pageSize, req.pageToken);
      if (Object.keys(req.labelSelector).length > 16)
        throw new InvalidArgumentError("label_selector", "at most 16 entries");
      const wanted = req.state === Cluster_State.UNSPECIFIED ? undefined : req.state;
      const all = (await manager.clusters.list()).filter(
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
        cluster: viewOf(
          await manager.setClusterState(required("name", req.name), ClusterState.Cordoned, reason),
        ),
      };
    },
    uncordonCluster: async (req) => ({
      cluster: viewOf(await manager.setClusterState(required("name", req.name), ClusterState.Active, "")),
    }),
    drainCluster: async (req) => {
      const reason = required("reason", req.reason);
      if (reason.length > 1024) throw new InvalidArgumentError("reason", "at most 1024 chars");
      const c = await manager.setClusterState(required("name", req.name), ClusterState.Draining, reason);
      return { cluster: viewOf(c), remainingExecutions: await manager.activeExecutions(c.name) };
    },
    clusterHeartbeat: async (req) => {
      const name = required("cluster", req.cluster);
      const version = required("propeller_version", req.propellerVersion);
      if (version.length > 64) throw new InvalidArgumentError("propeller_version", "at most 64 chars");
      if (req.healthMessage.length > 1024)
        throw new InvalidArgumentError("health_message", "at most 1024 chars");
      const health: StoredHealth = req.health === Cluster_Health.DEGRADED ? "degraded" : "healthy";
      const { cluster, abort } = await manager.heartbeat(name, {
        propellerVersion: version,
        health,
        healthMessage: req.healthMessage,
        queueDepth: req.queueDepth,
        activeWorkflows: req.activeWorkflows,
        // Admin's clock decides liveness; the producer's sent_at is informational.
        at: new Date(),
      });
      const intervalMs = manager.heartbeatIntervalMs;
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
    createRoutingRule: async (req) => {
      if (!req.rule) throw new InvalidArgumentError("rule", "is required");
      const rule = await manager.createRule({
        scope: scopeFromProto(req.rule),
        ...ruleBodyFromProto(req.rule),
      });
      return { rule: ruleToProto(rule) };
    },
    updateRoutingRule: async (req) => {
      if (!req.rule) throw new InvalidArgumentError("rule", "is required");
      const id = required("rule.id", req.rule.id);
      const rule = await manager.updateRule(id, Number(req.rule.revision), ruleBodyFromProto(req.rule));
      return { rule: ruleToProto(rule) };
    },
    deleteRoutingRule: async (req) => {
      await manager.deleteRule(required("id", req.id));
      return {};
    },
    listRoutingRules: async (req) => {
      if (req.domain !== "" && req.project === "")
        throw new InvalidArgumentError("domain", "requires project");
      const { limit, offset } = pageOf(req.pageSize, req.pageToken);
      const rules = await manager.rules.list({
        project: req.project,
        domain: req.domain,
        limit: limit + 1,
        offset,
      });
      return {
        rules: rules.slice(0, limit).map(ruleToProto),
        nextPageToken: rules.length > limit ? String(offset + limit) : "",
      };
    },
    explainExecution: async (req) => {
      const id = req.id;
      if (!id) throw new InvalidArgumentError("id", "is required");
      const e = {
        project: required("id.project", id.project),
        domain: required("id.domain", id.domain),
        name: required("id.name", id.name),
      };
      const decisions = await manager.explain(e);
      if (decisions.length === 0 && !(await manager.executionExists(e))) {
        throw new NotFoundError("execution", `${e.project}/${e.domain}/${e.name}`);
      }
      return { decisions: await Promise.all(decisions.map(decisionToProto)) };
    },
  };
}
