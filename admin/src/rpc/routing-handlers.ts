/**
 * AdminService RPCs of routing rules and ExplainExecution. Thin: validate the request, call the
 * routing-rules manager or the placer, map results to proto; errors leave through the routing
 * error mapping.
 */
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import { isDnsLabel } from "@flotilla/common";
import {
  CandidateClusterSchema,
  RoutingDecisionSchema,
  RoutingRuleSchema,
  RoutingScopeSchema,
  WeightedTargetSchema,
  WorkflowExecutionIdentifierSchema,
  type AdminService,
  type RoutingRule as RoutingRuleProto,
  type WeightedTarget as WeightedTargetProto,
} from "@flotilla/proto";
import { InvalidArgumentError, NotFoundError } from "../errors.js";
import type { Placer } from "../manager/placer.js";
import type { RoutingRulesManager } from "../manager/routing-rules.js";
import type { StoredDecision } from "../repository/routing-decision-repository.js";
import type { RoutingRuleBody, StoredRoutingRule } from "../repository/routing-rule-repository.js";
import { ruleLevel, type RoutingRuleScope, type WeightedTarget } from "../routing/router.js";
import { pageOf, required } from "./routing-rpc.js";

/** The RPCs this module implements. */
export type RoutingHandlers = Pick<
  ServiceImpl<typeof AdminService>,
  "createRoutingRule" | "updateRoutingRule" | "deleteRoutingRule" | "listRoutingRules" | "explainExecution"
>;

/** Managers the routing handlers call. */
export interface RoutingHandlerDeps {
  rules: RoutingRulesManager;
  /** Only `explain` is used. */
  placer: Pick<Placer, "explain">;
}

function targetFromProto(t: WeightedTargetProto, i: number): WeightedTarget {
  const field = `rule.targets[${i}]`;
  if (!(t.weight > 0 && t.weight <= 1_000_000))
    throw new InvalidArgumentError(`${field}.weight`, "must be 1-1000000");
  switch (t.target.case) {
    case "cluster":
      if (!isDnsLabel(t.target.value))
        throw new InvalidArgumentError(`${field}.cluster`, "must be a cluster name");
      return { kind: "cluster", cluster: t.target.value, weight: t.weight };
    case "clusterLabel":
      if (!isDnsLabel(t.target.value))
        throw new InvalidArgumentError(`${field}.cluster_label`, "must be a DNS-1123 label");
      return { kind: "label", clusterLabel: t.target.value, weight: t.weight };
    default:
      throw new InvalidArgumentError(
        `${field}.target`,
        "exactly one of cluster and cluster_label is required",
      );
  }
}

function ruleBodyFromProto(r: RoutingRuleProto): RoutingRuleBody {
  if (r.clusterLabel !== "" && !isDnsLabel(r.clusterLabel)) {
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
    if (v !== undefined && !isDnsLabel(v))
      throw new InvalidArgumentError(`rule.scope.${field}`, "must be a DNS-1123 label");
  }
  ruleLevel(scope);
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

/**
 * Creates the routing-rule and explain handlers. Returns the partial AdminService
 * implementation; no side effects until called.
 */
export function createRoutingHandlers({ rules, placer }: RoutingHandlerDeps): RoutingHandlers {
  async function decisionToProto(
    d: StoredDecision,
  ): Promise<ReturnType<typeof create<typeof RoutingDecisionSchema>>> {
    let matchedRule: RoutingRuleProto | undefined;
    if (d.matchedRuleId) {
      try {
        matchedRule = ruleToProto(await rules.get(d.matchedRuleId));
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
    createRoutingRule: async (req) => {
      if (!req.rule) throw new InvalidArgumentError("rule", "is required");
      const rule = await rules.create({
        scope: scopeFromProto(req.rule),
        ...ruleBodyFromProto(req.rule),
      });
      return { rule: ruleToProto(rule) };
    },
    updateRoutingRule: async (req) => {
      if (!req.rule) throw new InvalidArgumentError("rule", "is required");
      const id = required("rule.id", req.rule.id);
      const rule = await rules.update(id, Number(req.rule.revision), ruleBodyFromProto(req.rule));
      return { rule: ruleToProto(rule) };
    },
    deleteRoutingRule: async (req) => {
      await rules.delete(required("id", req.id));
      return {};
    },
    listRoutingRules: async (req) => {
      if (req.domain !== "" && req.project === "")
        throw new InvalidArgumentError("domain", "requires project");
      const { limit, offset } = pageOf(req.pageSize, req.pageToken);
      const found = await rules.list({
        project: req.project,
        domain: req.domain,
        limit: limit + 1,
        offset,
      });
      return {
        rules: found.slice(0, limit).map(ruleToProto),
        nextPageToken: found.length > limit ? String(offset + limit) : "",
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
      const decisions = await placer.explain(e);
      return { decisions: await Promise.all(decisions.map(decisionToProto)) };
    },
  };
}
