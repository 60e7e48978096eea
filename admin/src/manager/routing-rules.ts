/**
 * Routing rules: create, update (optimistic revision), delete and read the rules that map a
 * scope (project, domain, workflow or launch plan) to a cluster label and weighted targets.
 * Every change re-evaluates the executions waiting for a cluster.
 */
import type {
  RoutingRuleRepository,
  RoutingRuleBody,
  RoutingRuleInput,
  StoredRoutingRule,
} from "../repository/routing-rule-repository.js";
import type { RoutingChanges } from "./routing-changes.js";

/** Dependencies of {@link RoutingRulesManager}. */
export interface RoutingRulesDeps {
  rules: RoutingRuleRepository;
  /** The placer, told about every change. */
  changes: RoutingChanges;
}

/** Rule CRUD over the routing-rule repository. */
export class RoutingRulesManager {
  constructor(private readonly deps: RoutingRulesDeps) {}

  /** Creates a rule (AlreadyExistsError for a second rule at one scope); re-evaluates queued executions. */
  async create(input: RoutingRuleInput): Promise<StoredRoutingRule> {
    const r = await this.deps.rules.create(input);
    await this.deps.changes.reevaluateAll();
    return r;
  }

  /** Updates a rule at `revision` (StaleRevisionError otherwise); re-evaluates queued executions. */
  async update(id: string, revision: number, body: RoutingRuleBody): Promise<StoredRoutingRule> {
    const r = await this.deps.rules.update(id, revision, body);
    await this.deps.changes.reevaluateAll();
    return r;
  }

  /** Deletes a rule (RoutingRuleNotFoundError when absent); re-evaluates queued executions. */
  async delete(id: string): Promise<void> {
    await this.deps.rules.delete(id);
    await this.deps.changes.reevaluateAll();
  }

  /** One rule; throws RoutingRuleNotFoundError. */
  get(id: string): Promise<StoredRoutingRule> {
    return this.deps.rules.get(id);
  }

  /** Rules most specific first, optionally of one project (and domain), `limit` from `offset`. */
  list(filter: {
    project?: string;
    domain?: string;
    limit: number;
    offset: number;
  }): Promise<StoredRoutingRule[]> {
    return this.deps.rules.list(filter);
  }
}
