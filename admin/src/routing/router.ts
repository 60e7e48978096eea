/**
 * The router: a pure function from (execution, clusters, rules, isolation) to a placement
 * decision that lists every candidate cluster, whether it is eligible and why not, the rule
 * that matched, the weights, and the chosen cluster. No I/O, no clock reads, no randomness:
 * the same input always yields the same decision, which is what makes placement sticky and
 * the property tests meaningful.
 *
 * Order of evaluation for each cluster (the first failing check is the cluster's reason):
 *
 *   isolation ──▶ state (cordoned/draining) ──▶ liveness (heartbeat) ──▶ label ──▶ weight
 *
 * Isolation comes first and is never bypassed: not by an explicitly requested label, not by
 * a stored (sticky) decision, not by a rule naming the cluster as a target.
 */
import { createHash } from "node:crypto";
import { InvalidArgumentError } from "../errors.js";

/** Label key that marks a cluster as dedicated to one isolation label (see Project.isolation_label). */
export const ISOLATION_LABEL_KEY = "flotilla.io/isolation";
/** Label key whose value is the cluster label routing rules and executions name. */
export const CLUSTER_LABEL_KEY = "flotilla.io/cluster-label";

/** Lifecycle state of a registered cluster. */
export const ClusterState = {
  /** Receives new placements. */
  Active: "active",
  /** Receives no new placements; running executions continue. */
  Cordoned: "cordoned",
  /** Receives no new placements; running executions finish and routing moves away. */
  Draining: "draining",
} as const;
/** One of {@link ClusterState}'s values. */
export type ClusterState = (typeof ClusterState)[keyof typeof ClusterState];

/** What the router knows about one cluster. */
export interface ClusterSnapshot {
  /** Unique cluster name. */
  name: string;
  /** Cluster labels (region, pool, {@link ISOLATION_LABEL_KEY}, ...). */
  labels: Readonly<Record<string, string>>;
  /** Lifecycle state. */
  state: ClusterState;
  /** Rollout ordering priority; informational for routing. */
  priority: number;
  /** When the cluster's propeller last sent a heartbeat; undefined when it never did. */
  lastHeartbeatAt?: Date | undefined;
}

/** Which executions a routing rule applies to; unset fields are wildcards. */
export interface RoutingRuleScope {
  project?: string | undefined;
  domain?: string | undefined;
  /** Workflow name (all versions). */
  workflow?: string | undefined;
  /** Launch plan name (all versions). */
  launchPlan?: string | undefined;
}

/** A share of executions for one cluster, or for every cluster carrying a cluster label. */
export type WeightedTarget =
  | { kind: "cluster"; cluster: string; weight: number }
  | { kind: "label"; clusterLabel: string; weight: number };

/** Maps a scope to a cluster label and weighted targets. */
export interface RoutingRule {
  /** Stable rule id (for explain output). */
  id: string;
  scope: RoutingRuleScope;
  /**
   * Cluster label (a value of {@link CLUSTER_LABEL_KEY}) executions in scope get; empty keeps
   * the label of the next less specific matching rule.
   */
  clusterLabel: string;
  /**
   * Weighted targets. Empty means every eligible cluster carrying the resolved label, equally.
   * A label target's weight is shared equally by its eligible clusters.
   */
  targets: readonly WeightedTarget[];
}

/** How specific a rule is; higher wins. */
export const RuleLevel = {
  Default: 0,
  Project: 1,
  ProjectDomain: 2,
  Workflow: 3,
  LaunchPlan: 4,
} as const;
/** One of {@link RuleLevel}'s values. */
export type RuleLevel = (typeof RuleLevel)[keyof typeof RuleLevel];

/** A rule's scope is not one of the supported shapes; `problem` says why. */
export class InvalidRuleScopeError extends InvalidArgumentError {
  constructor(
    readonly scope: RoutingRuleScope,
    problem: string,
  ) {
    super("rule.scope", problem);
  }
}

/**
 * The specificity level of a scope: launch plan > workflow > project-domain > project > default.
 * A domain needs a project; a workflow or launch plan needs a project and a domain; a scope
 * names at most one of workflow and launch plan.
 * Returns the level; throws {@link InvalidRuleScopeError} for other shapes.
 */
export function ruleLevel(scope: RoutingRuleScope): RuleLevel {
  const { project, domain, workflow, launchPlan } = scope;
  if (workflow && launchPlan)
    throw new InvalidRuleScopeError(scope, "at most one of workflow and launch plan");
  if ((workflow || launchPlan) && !(project && domain)) {
    throw new InvalidRuleScopeError(scope, "a workflow or launch plan rule needs a project and a domain");
  }
  if (domain && !project) throw new InvalidRuleScopeError(scope, "a domain rule needs a project");
  if (launchPlan) return RuleLevel.LaunchPlan;
  if (workflow) return RuleLevel.Workflow;
  if (domain) return RuleLevel.ProjectDomain;
  if (project) return RuleLevel.Project;
  return RuleLevel.Default;
}

/** The execution being routed. */
export interface RoutedExecution {
  project: string;
  domain: string;
  name: string;
  /** Workflow name. */
  workflow?: string | undefined;
  /** Launch plan name; undefined for direct workflow executions. */
  launchPlan?: string | undefined;
}

/** Everything {@link decide} looks at. */
export interface RoutingInput {
  execution: RoutedExecution;
  /** Cluster label explicitly requested for this execution; overrides rules, never isolation. */
  requestedLabel?: string | undefined;
  /** The isolation label the execution's project/domain is bound to; undefined = shared. */
  isolationLabel?: string | undefined;
  clusters: readonly ClusterSnapshot[];
  rules: readonly RoutingRule[];
  /** Cluster label used when no rule gives one and nothing was requested; empty = any cluster. */
  defaultLabel?: string | undefined;
  /** Cluster of a stored earlier decision for this execution; reused while still eligible. */
  previousCluster?: string | undefined;
  /** Evaluation time (for heartbeat liveness). */
  now: Date;
  /** A cluster whose last heartbeat is older than this is lost. Clusters that never sent one are not. */
  heartbeatTimeoutMs: number;
}

/** Why a cluster can or cannot take the execution. */
export const CandidateReason = {
  Eligible: "Eligible",
  /** The execution is bound to an isolation label the cluster does not carry. */
  IsolationRequired: "IsolationRequired",
  /** The cluster is dedicated to an isolation label the execution is not bound to. */
  DedicatedToOther: "DedicatedToOther",
  Cordoned: "Cordoned",
  Draining: "Draining",
  /** No heartbeat within the timeout. */
  Lost: "Lost",
  /** The cluster does not carry the resolved cluster label. */
  LabelMismatch: "LabelMismatch",
  /** The matched rule's targets do not include the cluster. */
  NotATarget: "NotATarget",
} as const;
/** One of {@link CandidateReason}'s values. */
export type CandidateReason = (typeof CandidateReason)[keyof typeof CandidateReason];

/** The evaluation of one cluster. */
export interface CandidateEvaluation {
  cluster: string;
  eligible: boolean;
  reason: CandidateReason;
  /** Human-readable detail of the reason. */
  message: string;
  /** Weight used for the weighted choice (0 when ineligible). */
  weight: number;
}

/** Where the resolved cluster label came from. */
/** Where a decision's cluster label came from: the request, a routing rule, the default, or nowhere. */
export const LabelSource = {
  Requested: "requested",
  Rule: "rule",
  Default: "default",
  None: "none",
} as const;
/** One of {@link LabelSource}'s values. */
export type LabelSource = (typeof LabelSource)[keyof typeof LabelSource];

/** Overall outcome reason of a decision. */
export const DecisionReason = {
  /** Chosen by weighted hash among eligible clusters. */
  Routed: "Routed",
  /** The stored earlier decision's cluster is still eligible and was reused. */
  Sticky: "Sticky",
  /** No cluster is eligible: the execution waits. */
  NoEligibleCluster: "NoEligibleCluster",
} as const;
/** One of {@link DecisionReason}'s values. */
export type DecisionReason = (typeof DecisionReason)[keyof typeof DecisionReason];

/** The result of {@link decide}. */
export interface Decision {
  /** The chosen cluster; undefined when the execution must wait. */
  chosen?: string | undefined;
  reason: DecisionReason;
  /** One-line human explanation (used as the queue reason when nothing is chosen). */
  message: string;
  clusterLabel: string;
  labelSource: LabelSource;
  /** The most specific matching rule (its targets are used). */
  matchedRule?: { id: string; level: RuleLevel } | undefined;
  /** The rule the cluster label was inherited from, when it is a less specific one. */
  labelRule?: { id: string; level: RuleLevel } | undefined;
  isolationLabel?: string | undefined;
  /** Every cluster, sorted by name, with its evaluation. */
  candidates: CandidateEvaluation[];
  /** The key hashed for the weighted choice: `project/domain/name`. */
  hashKey: string;
}

function ruleMatches(scope: RoutingRuleScope, e: RoutedExecution): boolean {
  return (
    (!scope.project || scope.project === e.project) &&
    (!scope.domain || scope.domain === e.domain) &&
    (!scope.workflow || scope.workflow === e.workflow) &&
    (!scope.launchPlan || scope.launchPlan === e.launchPlan)
  );
}

/** A rule that matched, with its specificity. */
export interface RuleMatch {
  rule: RoutingRule;
  level: RuleLevel;
}

/**
 * The rules matching the execution, most specific first (ties broken by rule id, so the
 * result does not depend on input order). Rules with an invalid scope are ignored.
 */
export function matchingRules(rules: readonly RoutingRule[], execution: RoutedExecution): RuleMatch[] {
  const out: RuleMatch[] = [];
  for (const rule of rules) {
    let level: RuleLevel;
    try {
      level = ruleLevel(rule.scope);
    } catch {
      continue;
    }
    if (ruleMatches(rule.scope, execution)) out.push({ rule, level });
  }
  return out.sort(
    (a, b) => b.level - a.level || (a.rule.id < b.rule.id ? -1 : a.rule.id > b.rule.id ? 1 : 0),
  );
}

/**
 * A uniform number in (0, 1) derived from SHA-256 of `key` and `cluster`: the per-cluster
 * "random" draw of weighted rendezvous hashing. Pure.
 */
export function hashUnit(key: string, cluster: string): number {
  const digest = createHash("sha256").update(key).update("\0").update(cluster).digest();
  // 52 bits → an exact double; +0.5 keeps it strictly inside (0, 1).
  const hi = digest.readUInt32BE(0) & 0xfffff;
  const lo = digest.readUInt32BE(4);
  return (hi * 2 ** 32 + lo + 0.5) / 2 ** 52;
}

/**
 * Weighted rendezvous choice: each candidate scores `-ln(u)/weight` with `u = hashUnit(key,
 * cluster)`, the lowest score wins. A cluster is chosen with probability proportional to its
 * weight, and adding or removing a cluster moves only the executions that must move.
 * Returns the chosen cluster name, or undefined when no candidate has a positive weight.
 */
export function weightedChoice(
  key: string,
  candidates: readonly { cluster: string; weight: number }[],
): string | undefined {
  let best: string | undefined;
  let bestScore = Infinity;
  for (const c of candidates) {
    if (!(c.weight > 0) || !Number.isFinite(c.weight)) continue;
    const score = -Math.log(hashUnit(key, c.cluster)) / c.weight;
    if (score < bestScore || (score === bestScore && best !== undefined && c.cluster < best)) {
      bestScore = score;
      best = c.cluster;
    }
  }
  return best;
}

/**
 * Decides where an execution runs. Pure: reads only `input`.
 *
 * Cluster label: the explicitly requested label, else the first non-empty label among the
 * matching rules (most specific first), else `defaultLabel`, else none (every cluster).
 * Targets: the most specific matching rule's, unless a label was requested that differs from
 * the rule's resolved label; without targets every eligible cluster carrying the label gets
 * weight 1. A stored earlier choice (`previousCluster`) is kept while it is still eligible.
 * Returns the {@link Decision}.
 */
export function decide(input: RoutingInput): Decision {
  const { execution } = input;
  const hashKey = `${execution.project}/${execution.domain}/${execution.name}`;
  const isolation = input.isolationLabel ? input.isolationLabel : undefined;
  const matches = matchingRules(input.rules, execution);
  const matched = matches[0];
  const labelMatch = matches.find((m) => m.rule.clusterLabel !== "");
  const ruleLabel = labelMatch?.rule.clusterLabel ?? "";

  let clusterLabel: string;
  let labelSource: LabelSource;
  const requested = input.requestedLabel?.trim() ?? "";
  if (requested !== "") {
    clusterLabel = requested;
    labelSource = LabelSource.Requested;
  } else if (ruleLabel !== "") {
    clusterLabel = ruleLabel;
    labelSource = LabelSource.Rule;
  } else if (input.defaultLabel !== undefined && input.defaultLabel.trim() !== "") {
    clusterLabel = input.defaultLabel.trim();
    labelSource = LabelSource.Default;
  } else {
    clusterLabel = "";
    labelSource = LabelSource.None;
  }
  const targets =
    matched &&
    matched.rule.targets.length > 0 &&
    (labelSource !== LabelSource.Requested || clusterLabel === ruleLabel)
      ? matched.rule.targets
      : undefined;

  const base = {
    clusterLabel,
    labelSource,
    matchedRule: matched ? { id: matched.rule.id, level: matched.level } : undefined,
    labelRule:
      labelMatch && labelMatch !== matched && labelSource === LabelSource.Rule
        ? { id: labelMatch.rule.id, level: labelMatch.level }
        : undefined,
    isolationLabel: isolation,
    hashKey,
  };

  const clusters = [...input.clusters].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const candidates = evaluateAll(clusters, input, isolation, clusterLabel, targets);
  const eligible = candidates.filter((c) => c.eligible);
  const previous = input.previousCluster
    ? eligible.find((c) => c.cluster === input.previousCluster)
    : undefined;
  if (previous) {
    return {
      ...base,
      chosen: previous.cluster,
      reason: DecisionReason.Sticky,
      message: `kept earlier choice ${previous.cluster} (still eligible)`,
      candidates,
    };
  }
  const chosen = weightedChoice(hashKey, eligible);
  if (chosen !== undefined) {
    return {
      ...base,
      chosen,
      reason: DecisionReason.Routed,
      message: `routed to ${chosen} by ${describeLabel(base)} among ${eligible.length} eligible cluster(s)`,
      candidates,
    };
  }
  return {
    ...base,
    reason: DecisionReason.NoEligibleCluster,
    message: noEligibleMessage(candidates, base),
    candidates,
  };
}

function describeLabel(d: {
  clusterLabel: string;
  labelSource: LabelSource;
  matchedRule?: { id: string } | undefined;
}): string {
  switch (d.labelSource) {
    case LabelSource.Requested:
      return `requested cluster label ${JSON.stringify(d.clusterLabel)}`;
    case LabelSource.Rule:
      return `rule ${d.matchedRule?.id ?? "?"} (cluster label ${JSON.stringify(d.clusterLabel)})`;
    case LabelSource.Default:
      return `default cluster label ${JSON.stringify(d.clusterLabel)}`;
    case LabelSource.None:
      return d.matchedRule ? `rule ${d.matchedRule.id}` : "no routing rule";
  }
}

function noEligibleMessage(
  candidates: readonly CandidateEvaluation[],
  base: {
    clusterLabel: string;
    labelSource: LabelSource;
    matchedRule?: { id: string } | undefined;
    isolationLabel?: string | undefined;
  },
): string {
  const head = base.isolationLabel
    ? `no eligible cluster for isolation label ${JSON.stringify(base.isolationLabel)} and ${describeLabel(base)}`
    : `no eligible cluster for ${describeLabel(base)}`;
  if (candidates.length === 0) return `${head}: no clusters registered`;
  const shown = candidates.slice(0, 8).map((c) => `${c.cluster}: ${c.reason}`);
  if (candidates.length > shown.length) shown.push(`and ${candidates.length - shown.length} more`);
  return `${head} (${shown.join("; ")})`;
}

type Verdict = { ok: true } | { ok: false; reason: CandidateReason; message: string };

function baseVerdict(
  cluster: ClusterSnapshot,
  input: RoutingInput,
  isolation: string | undefined,
  clusterLabel: string,
  targeted: boolean,
): Verdict {
  const no = (reason: CandidateReason, message: string): Verdict => ({ ok: false, reason, message });
  const dedicatedTo = labelOf(cluster, ISOLATION_LABEL_KEY);
  if (isolation !== undefined && dedicatedTo !== isolation) {
    return no(
      CandidateReason.IsolationRequired,
      dedicatedTo === undefined
        ? `execution is bound to isolation label ${JSON.stringify(isolation)}; cluster is shared`
        : `execution is bound to isolation label ${JSON.stringify(isolation)}; cluster is dedicated to ${JSON.stringify(dedicatedTo)}`,
    );
  }
  if (isolation === undefined && dedicatedTo !== undefined) {
    return no(
      CandidateReason.DedicatedToOther,
      `cluster is dedicated to isolation label ${JSON.stringify(dedicatedTo)}`,
    );
  }
  if (cluster.state === ClusterState.Cordoned) return no(CandidateReason.Cordoned, "cluster is cordoned");
  if (cluster.state === ClusterState.Draining) return no(CandidateReason.Draining, "cluster is draining");
  if (cluster.lastHeartbeatAt !== undefined) {
    const age = input.now.getTime() - cluster.lastHeartbeatAt.getTime();
    if (age > input.heartbeatTimeoutMs) {
      return no(
        CandidateReason.Lost,
        `no heartbeat for ${Math.round(age / 1000)}s (timeout ${Math.round(input.heartbeatTimeoutMs / 1000)}s)`,
      );
    }
  }
  // Explicit targets name their clusters themselves; otherwise the cluster label selects.
  if (!targeted && clusterLabel !== "" && labelOf(cluster, CLUSTER_LABEL_KEY) !== clusterLabel) {
    return no(
      CandidateReason.LabelMismatch,
      `cluster does not carry cluster label ${JSON.stringify(clusterLabel)}`,
    );
  }
  return { ok: true };
}

function evaluateAll(
  clusters: readonly ClusterSnapshot[],
  input: RoutingInput,
  isolation: string | undefined,
  clusterLabel: string,
  targets: readonly WeightedTarget[] | undefined,
): CandidateEvaluation[] {
  const verdicts = clusters.map((c) => baseVerdict(c, input, isolation, clusterLabel, targets !== undefined));
  const weights = new Map<string, number>();
  if (targets === undefined) {
    clusters.forEach((c, i) => {
      if (verdicts[i]?.ok) weights.set(c.name, 1);
    });
  } else {
    for (const t of targets) {
      if (!(t.weight > 0) || !Number.isFinite(t.weight)) continue;
      if (t.kind === "cluster") {
        const i = clusters.findIndex((c) => c.name === t.cluster);
        const cluster = clusters[i];
        if (cluster && verdicts[i]?.ok)
          weights.set(cluster.name, (weights.get(cluster.name) ?? 0) + t.weight);
      } else {
        const members = clusters.filter(
          (c, i) => verdicts[i]?.ok && labelOf(c, CLUSTER_LABEL_KEY) === t.clusterLabel,
        );
        for (const m of members) weights.set(m.name, (weights.get(m.name) ?? 0) + t.weight / members.length);
      }
    }
  }
  return clusters.map((c, i): CandidateEvaluation => {
    const v = verdicts[i];
    if (v && !v.ok)
      return { cluster: c.name, eligible: false, reason: v.reason, message: v.message, weight: 0 };
    const weight = weights.get(c.name) ?? 0;
    if (weight > 0)
      return {
        cluster: c.name,
        eligible: true,
        reason: CandidateReason.Eligible,
        message: "eligible",
        weight,
      };
    return {
      cluster: c.name,
      eligible: false,
      reason: CandidateReason.NotATarget,
      message: "not among the matched rule's targets",
      weight: 0,
    };
  });
}

function labelOf(cluster: ClusterSnapshot, key: string): string | undefined {
  return Object.prototype.hasOwnProperty.call(cluster.labels, key) ? cluster.labels[key] : undefined;
}
