/**
 * What routing needs to know about projects, read through the repositories that own them: a
 * project's isolation labels and domains (the registry's `projects`) and the quota template
 * values of its CLUSTER_RESOURCE matchable attributes.
 */
import { fromBinary } from "@bufbuild/protobuf";
import { MatchableResource, MatchingAttributesSchema, ProjectSchema, Project_State } from "@flotilla/proto";
import type { AttributesRepository } from "../repository/attributes-repository.js";
import type { RegistryRepository } from "../repository/registry-repository.js";

/** Resolves the isolation label an execution of a project/domain is bound to. */
export interface IsolationResolver {
  /** The domain's isolation label, else the project's; undefined when shared. */
  isolationLabel(project: string, domain: string): Promise<string | undefined>;
}

/** One project/domain pair with its isolation label. */
export interface ProjectDomain {
  project: string;
  domain: string;
  isolationLabel?: string | undefined;
}

/** Repositories {@link ProjectLookup} reads. */
export interface ProjectLookupDeps {
  projects: Pick<RegistryRepository, "getProject" | "listProjects">;
  attributes: Pick<AttributesRepository, "get">;
}

const PAGE = 1000;

/** Isolation labels, project domains and quota values, from the registry and attributes repositories. */
export class ProjectLookup implements IsolationResolver {
  constructor(private readonly deps: ProjectLookupDeps) {}

  async isolationLabel(project: string, domain: string): Promise<string | undefined> {
    const row = await this.deps.projects.getProject(project);
    if (!row) return undefined;
    const p = fromBinary(ProjectSchema, row.body);
    const label = p.domainIsolationLabels[domain] || p.isolationLabel;
    return label ? label : undefined;
  }

  /** Every active project's domains with their isolation labels, ordered by project. */
  async projectDomains(): Promise<ProjectDomain[]> {
    const out: ProjectDomain[] = [];
    let pageToken = "";
    do {
      const page = await this.deps.projects.listProjects({ pageSize: PAGE, pageToken });
      for (const row of page.items) {
        const p = fromBinary(ProjectSchema, row.body);
        if (p.state === Project_State.ARCHIVED) continue; // archived projects get no new namespaces
        for (const d of p.domains) {
          const label = p.domainIsolationLabels[d.id] || p.isolationLabel;
          out.push({ project: p.id, domain: d.id, isolationLabel: label ? label : undefined });
        }
      }
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
    return out;
  }

  /**
   * Quota template values from CLUSTER_RESOURCE matchable attributes of the project (any
   * domain) overlaid by the project/domain's. Returns the merged map.
   */
  async quotaValues(project: string, domain: string): Promise<Record<string, string>> {
    const values: Record<string, string> = {};
    for (const d of ["", domain]) {
      const row = await this.deps.attributes.get(
        { project, domain: d, workflow: "", launchPlan: "" },
        MatchableResource.CLUSTER_RESOURCE,
      );
      if (!row) continue;
      const attrs = fromBinary(MatchingAttributesSchema, row.attributes);
      if (attrs.target.case === "clusterResourceAttributes")
        Object.assign(values, attrs.target.value.attributes);
    }
    return values;
  }
}
