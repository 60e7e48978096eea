import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  AttributeScopeSchema,
  MatchableAttributesConfigurationSchema,
  MatchableResource,
  MatchingAttributesSchema,
  type AttributeScope,
  type MatchableAttributesConfiguration,
  type MatchingAttributes,
} from "@flotilla/proto";
import { InvalidArgumentError, NotFoundError } from "../errors.js";
import type {
  AttributeScopeKey,
  AttributesRepository,
  AttributesRow,
} from "../repository/attributes-repository.js";
import type { Page, PageRequest } from "../repository/sql.js";
import type { ProjectManager } from "./project-manager.js";
import { requireDnsLabel, requireEntityName } from "./validation.js";

const resourceOfCase: Record<NonNullable<MatchingAttributes["target"]["case"]>, MatchableResource> = {
  taskResourceAttributes: MatchableResource.TASK_RESOURCE,
  clusterResourceAttributes: MatchableResource.CLUSTER_RESOURCE,
  executionQueueAttributes: MatchableResource.EXECUTION_QUEUE,
  executionClusterLabel: MatchableResource.EXECUTION_CLUSTER_LABEL,
  pluginOverrides: MatchableResource.PLUGIN_OVERRIDE,
  workflowExecutionConfig: MatchableResource.WORKFLOW_EXECUTION_CONFIG,
  clusterAssignment: MatchableResource.CLUSTER_ASSIGNMENT,
};

/**
 * Specificity of a scope: launch plan (4) > workflow (3) > project-domain (2) > project (1).
 * The execution's own settings and the server default sit above and below these levels.
 */
export function scopeSpecificity(scope: AttributeScopeKey): number {
  if (scope.launchPlan) return 4;
  if (scope.workflow) return 3;
  if (scope.domain) return 2;
  return 1;
}

/** Picks the most specific of the candidate overrides (undefined when none). Pure. */
export function mostSpecific<T extends { scope: AttributeScopeKey }>(candidates: T[]): T | undefined {
  let best: T | undefined;
  for (const c of candidates) if (!best || scopeSpecificity(c.scope) > scopeSpecificity(best.scope)) best = c;
  return best;
}

function toKey(scope: AttributeScope | undefined): AttributeScopeKey {
  if (!scope) throw new InvalidArgumentError("scope", "is required");
  requireDnsLabel("scope.project", scope.project);
  if (scope.domain) requireDnsLabel("scope.domain", scope.domain);
  if ((scope.workflow || scope.launchPlan) && !scope.domain) {
    throw new InvalidArgumentError("scope.domain", "is required when workflow or launch_plan is set");
  }
  if (scope.workflow && scope.launchPlan)
    throw new InvalidArgumentError("scope", "set at most one of workflow and launch_plan");
  if (scope.workflow) requireEntityName("scope.workflow", scope.workflow);
  if (scope.launchPlan) requireEntityName("scope.launch_plan", scope.launchPlan);
  return {
    project: scope.project,
    domain: scope.domain,
    workflow: scope.workflow,
    launchPlan: scope.launchPlan,
  };
}

function toConfiguration(row: AttributesRow): MatchableAttributesConfiguration {
  return create(MatchableAttributesConfigurationSchema, {
    scope: create(AttributeScopeSchema, row.scope),
    resourceType: row.resourceType,
    attributes: fromBinary(MatchingAttributesSchema, row.attributes),
  });
}

function requireResource(resourceType: MatchableResource): void {
  if (resourceType === MatchableResource.UNSPECIFIED || MatchableResource[resourceType] === undefined) {
    throw new InvalidArgumentError("resource_type", "must be a MatchableResource other than UNSPECIFIED");
  }
}

/** Rules for matchable attributes: per-scope overrides resolved most-specific-first. */
export class AttributesManager {
  constructor(
    private readonly repo: AttributesRepository,
    private readonly projects: ProjectManager,
  ) {}

  /** Creates or replaces the override at a scope. Returns the stored configuration. */
  async update(
    scopeIn: AttributeScope | undefined,
    attributes: MatchingAttributes | undefined,
  ): Promise<MatchableAttributesConfiguration> {
    const scope = toKey(scopeIn);
    if (!attributes?.target.case)
      throw new InvalidArgumentError("attributes", "exactly one attribute kind is required");
    if (scope.domain) await this.projects.requireDomain(scope.project, scope.domain);
    else await this.projects.get(scope.project);
    const row: AttributesRow = {
      scope,
      resourceType: resourceOfCase[attributes.target.case],
      attributes: toBinary(MatchingAttributesSchema, attributes),
    };
    await this.repo.upsert(row);
    return toConfiguration(row);
  }

  /**
   * Reads the override at exactly `scope`, or with `resolve` the most specific one that applies
   * from `scope` upwards. NotFoundError when there is none.
   */
  async get(
    scopeIn: AttributeScope | undefined,
    resourceType: MatchableResource,
    resolve: boolean,
  ): Promise<MatchableAttributesConfiguration> {
    const scope = toKey(scopeIn);
    requireResource(resourceType);
    const row = resolve
      ? mostSpecific(await this.repo.candidates(resourceType, scope))
      : await this.repo.get(scope, resourceType);
    if (!row)
      throw new NotFoundError(
        "matchable attributes",
        `${MatchableResource[resourceType]} at ${describe(scope)}`,
      );
    return toConfiguration(row);
  }

  /** Deletes the override at a scope; NotFoundError when there is none. */
  async delete(scopeIn: AttributeScope | undefined, resourceType: MatchableResource): Promise<void> {
    const scope = toKey(scopeIn);
    requireResource(resourceType);
    if (!(await this.repo.delete(scope, resourceType))) {
      throw new NotFoundError(
        "matchable attributes",
        `${MatchableResource[resourceType]} at ${describe(scope)}`,
      );
    }
  }

  /** Lists overrides of a kind. */
  async list(
    resourceType: MatchableResource,
    project: string,
    domain: string,
    page: PageRequest,
  ): Promise<Page<MatchableAttributesConfiguration>> {
    requireResource(resourceType);
    if (domain && !project) throw new InvalidArgumentError("domain", "requires project");
    const res = await this.repo.list(resourceType, project, domain, page);
    return { items: res.items.map(toConfiguration), nextPageToken: res.nextPageToken };
  }

  /**
   * The most specific override of `resourceType` applying to an execution of `workflow`
   * (optionally through `launchPlan`) in project/domain, or undefined (server default applies).
   */
  async resolveFor(
    resourceType: MatchableResource,
    project: string,
    domain: string,
    workflow: string,
    launchPlan: string,
  ): Promise<MatchingAttributes | undefined> {
    const candidates = await this.repo.candidates(resourceType, { project, domain, workflow, launchPlan });
    const best = mostSpecific(candidates.filter((c) => !(c.scope.workflow && c.scope.launchPlan)));
    return best ? fromBinary(MatchingAttributesSchema, best.attributes) : undefined;
  }
}

function describe(s: AttributeScopeKey): string {
  return [
    s.project,
    s.domain || "*",
    s.workflow ? `workflow ${s.workflow}` : "",
    s.launchPlan ? `launch plan ${s.launchPlan}` : "",
  ]
    .filter(Boolean)
    .join("/");
}
