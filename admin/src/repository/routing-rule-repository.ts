/**
 * SQL for routing rules (`routing_rules`, migration 0051). Driver errors are translated here: a
 * second rule at the same scope (unique violation) is {@link AlreadyExistsError}, a missing rule
 * {@link RoutingRuleNotFoundError}, an update at an old revision {@link StaleRevisionError}.
 */
import { randomBytes } from "node:crypto";
import { isUniqueViolation, type Queryable, type Row } from "@flotilla/db";
import { AlreadyExistsError } from "../errors.js";
import { RoutingRuleNotFoundError, StaleRevisionError } from "../routing-errors.js";
import {
  ruleLevel,
  type RoutingRule,
  type RoutingRuleScope,
  type WeightedTarget,
} from "../routing/router.js";
import { requireRow, timestamp } from "./rows.js";

/** A routing rule as stored (the router's view plus bookkeeping). */
export interface StoredRoutingRule extends RoutingRule {
  description: string;
  revision: number;
  createdAt: Date;
  updatedAt: Date;
}

/** Fields of a rule a caller provides. */
export interface RoutingRuleInput {
  scope: RoutingRuleScope;
  clusterLabel: string;
  targets: WeightedTarget[];
  description: string;
}

/** Which rules {@link RoutingRuleRepository.list} returns: of a project (and domain), a page. */
export interface RoutingRuleFilter {
  project?: string;
  domain?: string;
  limit: number;
  offset: number;
}

/** The fields of a rule an update replaces (its scope is its identity and never changes). */
export type RoutingRuleBody = Omit<RoutingRuleInput, "scope">;

type JsonTarget = { cluster: string; weight: number } | { clusterLabel: string; weight: number };

function targetsToJson(targets: readonly WeightedTarget[]): JsonTarget[] {
  return targets.map((t) =>
    t.kind === "cluster"
      ? { cluster: t.cluster, weight: t.weight }
      : { clusterLabel: t.clusterLabel, weight: t.weight },
  );
}

function targetsFromJson(value: unknown): WeightedTarget[] {
  return ((value ?? []) as JsonTarget[]).map((t) =>
    "cluster" in t
      ? { kind: "cluster" as const, cluster: t.cluster, weight: t.weight }
      : { kind: "label" as const, clusterLabel: t.clusterLabel, weight: t.weight },
  );
}

function toRule(r: Row): StoredRoutingRule {
  const opt = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);
  return {
    id: r.id as string,
    scope: {
      project: opt(r.project),
      domain: opt(r.domain),
      workflow: opt(r.workflow),
      launchPlan: opt(r.launch_plan),
    },
    clusterLabel: r.cluster_label as string,
    targets: targetsFromJson(r.targets),
    description: r.description as string,
    revision: Number(r.revision),
    createdAt: timestamp(r.created_at),
    updatedAt: timestamp(r.updated_at),
  };
}

function scopeParams(s: RoutingRuleScope): string[] {
  return [s.project ?? "", s.domain ?? "", s.workflow ?? "", s.launchPlan ?? ""];
}

/** SQL access to routing rules (`routing_rules`). */
export interface RoutingRuleRepository {
  /**
   * Stores a new rule with a generated id. A second rule at the same scope is
   * {@link AlreadyExistsError}. Returns the stored rule.
   */
  create(input: RoutingRuleInput): Promise<StoredRoutingRule>;
  /**
   * Replaces a rule's label, targets and description when `revision` is current.
   * Throws {@link RoutingRuleNotFoundError} or {@link StaleRevisionError}. Returns the rule.
   */
  update(id: string, revision: number, input: RoutingRuleBody): Promise<StoredRoutingRule>;
  /** One rule; throws {@link RoutingRuleNotFoundError}. */
  get(id: string): Promise<StoredRoutingRule>;
  /** Deletes a rule; throws {@link RoutingRuleNotFoundError}. */
  delete(id: string): Promise<void>;
  /**
   * Rules, most specific first (then by id), optionally filtered to a project (and domain).
   * `offset` rules are skipped (earlier pages). Returns at most `limit` rules.
   */
  list(filter: RoutingRuleFilter): Promise<StoredRoutingRule[]>;
  /** Every rule (the router's input). */
  all(): Promise<StoredRoutingRule[]>;
}

/** Creates the PostgreSQL implementation of {@link RoutingRuleRepository}. */
export function createPostgresRoutingRuleRepository(db: Queryable): RoutingRuleRepository {
  return new PostgresRoutingRuleRepository(db);
}

/** Reads and writes the `routing_rules` table. */
export class PostgresRoutingRuleRepository implements RoutingRuleRepository {
  constructor(private readonly db: Queryable) {}

  async create(input: RoutingRuleInput): Promise<StoredRoutingRule> {
    ruleLevel(input.scope);
    const id = `rr-${randomBytes(6).toString("hex")}`;
    try {
      const { rows } = await this.db.query(
        `INSERT INTO routing_rules (id, project, domain, workflow, launch_plan, cluster_label, targets, description)
         VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8) RETURNING *`,
        [
          id,
          ...scopeParams(input.scope),
          input.clusterLabel,
          JSON.stringify(targetsToJson(input.targets)),
          input.description,
        ],
      );
      return toRule(rows[0]);
    } catch (err) {
      if (isUniqueViolation(err)) {
        throw new AlreadyExistsError(
          "routing rule",
          describeScope(input.scope),
          "exists: a rule for this scope already exists",
        );
      }
      throw err;
    }
  }

  async update(id: string, revision: number, input: RoutingRuleBody): Promise<StoredRoutingRule> {
    const { rows } = await this.db.query(
      `UPDATE routing_rules SET cluster_label = $3, targets = $4::jsonb, description = $5,
         revision = revision + 1, updated_at = now()
       WHERE id = $1 AND revision = $2 RETURNING *`,
      [id, revision, input.clusterLabel, JSON.stringify(targetsToJson(input.targets)), input.description],
    );
    const row = rows[0];
    if (row) return toRule(row);
    const current = await this.get(id);
    throw new StaleRevisionError("routing rule", id, revision, current.revision);
  }

  async get(id: string): Promise<StoredRoutingRule> {
    const { rows } = await this.db.query("SELECT * FROM routing_rules WHERE id = $1", [id]);
    return toRule(requireRow(rows, () => new RoutingRuleNotFoundError(id)));
  }

  async delete(id: string): Promise<void> {
    const { rowCount } = await this.db.query("DELETE FROM routing_rules WHERE id = $1", [id]);
    if (rowCount === 0) throw new RoutingRuleNotFoundError(id);
  }

  async list(filter: RoutingRuleFilter): Promise<StoredRoutingRule[]> {
    const { rows } = await this.db.query(
      `SELECT * FROM routing_rules
       WHERE ($1 = '' OR project = $1) AND ($2 = '' OR domain = $2)
       ORDER BY (launch_plan <> '') DESC, (workflow <> '') DESC, (domain <> '') DESC, (project <> '') DESC, id
       LIMIT $3 OFFSET $4`,
      [filter.project ?? "", filter.domain ?? "", filter.limit, filter.offset],
    );
    return rows.map(toRule);
  }

  async all(): Promise<StoredRoutingRule[]> {
    const { rows } = await this.db.query("SELECT * FROM routing_rules ORDER BY id");
    return rows.map(toRule);
  }
}

/** `project/domain/workflow|launch-plan` with `*` for wildcards, for messages. */
export function describeScope(s: RoutingRuleScope): string {
  const parts = [s.project || "*", s.domain || "*"];
  if (s.workflow) parts.push(`workflow:${s.workflow}`);
  if (s.launchPlan) parts.push(`launch-plan:${s.launchPlan}`);
  return parts.join("/");
}
