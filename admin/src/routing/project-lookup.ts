/**
 * Read-only queries the routing subsystem makes against tables owned by the rest of admin:
 * a project's isolation labels and domains (`projects`, proto body), the quota template
 * values of matchable attributes (`matchable_attributes`), and active executions per
 * cluster (`executions`).
 */
import { fromBinary } from "@bufbuild/protobuf";
import type { Queryable } from "@flotilla/db";
import {
  MatchableResource,
  MatchingAttributesSchema,
  ProjectSchema,
  Project_State,
  WorkflowExecution_Phase,
} from "@flotilla/proto";

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

/** Non-terminal workflow phases (an execution in one of them occupies its cluster). */
export const ACTIVE_PHASES: readonly number[] = [
  WorkflowExecution_Phase.UNSPECIFIED,
  WorkflowExecution_Phase.QUEUED,
  WorkflowExecution_Phase.RUNNING,
  WorkflowExecution_Phase.SUCCEEDING,
  WorkflowExecution_Phase.FAILING,
  WorkflowExecution_Phase.ABORTING,
];

/** Queries over the project, matchable-attribute and execution tables. */
export class ProjectLookup implements IsolationResolver {
  constructor(private readonly db: Queryable) {}

  async isolationLabel(project: string, domain: string): Promise<string | undefined> {
    const { rows } = await this.db.query("SELECT body FROM projects WHERE id = $1", [project]);
    const body = rows[0]?.body as Uint8Array | undefined;
    if (!body) return undefined;
    const p = fromBinary(ProjectSchema, body);
    const label = p.domainIsolationLabels[domain] || p.isolationLabel;
    return label ? label : undefined;
  }

  /** Every active project's domains with their isolation labels, ordered by project. */
  async projectDomains(): Promise<ProjectDomain[]> {
    const { rows } = await this.db.query("SELECT body FROM projects ORDER BY id");
    const out: ProjectDomain[] = [];
    for (const row of rows) {
      const p = fromBinary(ProjectSchema, row.body as Uint8Array);
      if (p.state === Project_State.ARCHIVED) continue; // archived projects get no new namespaces
      for (const d of p.domains) {
        const label = p.domainIsolationLabels[d.id] || p.isolationLabel;
        out.push({ project: p.id, domain: d.id, isolationLabel: label ? label : undefined });
      }
    }
    return out;
  }

  /**
   * Quota template values from CLUSTER_RESOURCE matchable attributes of the project (any
   * domain) overlaid by the project/domain's. Returns the merged map.
   */
  async quotaValues(project: string, domain: string): Promise<Record<string, string>> {
    const { rows } = await this.db.query(
      `SELECT domain, attributes FROM matchable_attributes
       WHERE resource_type = $1 AND project = $2 AND domain IN ('', $3) AND workflow = '' AND launch_plan = ''
       ORDER BY domain`,
      [MatchableResource.CLUSTER_RESOURCE, project, domain],
    );
    const values: Record<string, string> = {};
    for (const row of rows) {
      const attrs = fromBinary(MatchingAttributesSchema, row.attributes as Uint8Array);
      if (attrs.target.case === "clusterResourceAttributes")
        Object.assign(values, attrs.target.value.attributes);
    }
    return values;
  }

  /** The non-terminal executions placed on a cluster, and the queue reason each carries. */
  async activeExecutionsOn(
    cluster: string,
  ): Promise<Array<{ project: string; domain: string; name: string; queueReason: string | null }>> {
    const { rows } = await this.db.query(
      `SELECT project, domain, name, queue_reason FROM executions
       WHERE cluster = $1 AND phase = ANY($2::smallint[]) ORDER BY project, domain, name`,
      [cluster, ACTIVE_PHASES],
    );
    return rows.map((r) => ({
      project: r.project as string,
      domain: r.domain as string,
      name: r.name as string,
      queueReason: (r.queue_reason as string | null) ?? null,
    }));
  }

  /** Number of non-terminal executions placed on a cluster. */
  async activeExecutions(cluster: string): Promise<number> {
    const { rows } = await this.db.query(
      "SELECT count(*)::int AS n FROM executions WHERE cluster = $1 AND phase = ANY($2::smallint[])",
      [cluster, ACTIVE_PHASES],
    );
    return Number(rows[0]?.n ?? 0);
  }
}
