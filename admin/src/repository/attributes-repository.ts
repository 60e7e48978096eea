import { bytes, PostgresRepository, run, type Page, type PageRequest } from "./sql.js";

/** Where an override applies; empty strings mean "any". */
export interface AttributeScopeKey {
  project: string;
  domain: string;
  workflow: string;
  launchPlan: string;
}

/** One stored override: scope, kind and serialized admin.v1.MatchingAttributes. */
export interface AttributesRow {
  scope: AttributeScopeKey;
  resourceType: number;
  attributes: Uint8Array;
}

/** SQL access to `matchable_attributes`. */
export interface AttributesRepository {
  /** Creates or replaces the override at a scope. */
  upsert(row: AttributesRow): Promise<void>;
  /** Reads the override at exactly one scope, or undefined. */
  get(scope: AttributeScopeKey, resourceType: number): Promise<AttributesRow | undefined>;
  /** Deletes the override at a scope; returns whether one existed. */
  delete(scope: AttributeScopeKey, resourceType: number): Promise<boolean>;
  /** Lists overrides of a kind, optionally of one project (and domain). */
  list(
    resourceType: number,
    project: string,
    domain: string,
    page: PageRequest,
  ): Promise<Page<AttributesRow>>;
  /**
   * Every override of `resourceType` that applies to (project, domain, workflow, launch plan):
   * rows whose scope fields are either empty or equal to the given ones.
   */
  candidates(resourceType: number, scope: AttributeScopeKey): Promise<AttributesRow[]>;
}

function row(r: Record<string, unknown>): AttributesRow {
  return {
    scope: {
      project: String(r.project),
      domain: String(r.domain),
      workflow: String(r.workflow),
      launchPlan: String(r.launch_plan),
    },
    resourceType: Number(r.resource_type),
    attributes: bytes(r.attributes),
  };
}

/** PostgreSQL implementation of {@link AttributesRepository}. */
export class PostgresAttributesRepository extends PostgresRepository implements AttributesRepository {
  async upsert(r: AttributesRow): Promise<void> {
    await run(
      this.db,
      this.observe,
      "matchable_attributes.upsert",
      `INSERT INTO matchable_attributes (resource_type, project, domain, workflow, launch_plan, attributes)
       VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (resource_type, project, domain, workflow, launch_plan)
       DO UPDATE SET attributes = EXCLUDED.attributes, updated_at = now()`,
      [
        r.resourceType,
        r.scope.project,
        r.scope.domain,
        r.scope.workflow,
        r.scope.launchPlan,
        Buffer.from(r.attributes),
      ],
    );
  }

  async get(s: AttributeScopeKey, resourceType: number): Promise<AttributesRow | undefined> {
    return this.first(
      "matchable_attributes.get",
      `SELECT * FROM matchable_attributes WHERE resource_type = $1 AND project = $2 AND domain = $3 AND workflow = $4
         AND launch_plan = $5`,
      [resourceType, s.project, s.domain, s.workflow, s.launchPlan],
      row,
    );
  }

  async delete(s: AttributeScopeKey, resourceType: number): Promise<boolean> {
    const res = await run(
      this.db,
      this.observe,
      "matchable_attributes.delete",
      `DELETE FROM matchable_attributes WHERE resource_type = $1 AND project = $2 AND domain = $3 AND workflow = $4
         AND launch_plan = $5`,
      [resourceType, s.project, s.domain, s.workflow, s.launchPlan],
    );
    return res.rowCount > 0;
  }

  async list(
    resourceType: number,
    project: string,
    domain: string,
    page: PageRequest,
  ): Promise<Page<AttributesRow>> {
    return this.paged(
      "matchable_attributes.list",
      `SELECT * FROM matchable_attributes WHERE resource_type = $1 AND ($2 = '' OR project = $2) AND ($3 = '' OR domain = $3)
       ORDER BY project, domain, workflow, launch_plan`,
      [resourceType, project, domain],
      page,
      row,
    );
  }

  async candidates(resourceType: number, s: AttributeScopeKey): Promise<AttributesRow[]> {
    return this.all(
      "matchable_attributes.candidates",
      `SELECT * FROM matchable_attributes WHERE resource_type = $1 AND project = $2 AND domain IN ('', $3)
         AND workflow IN ('', $4) AND launch_plan IN ('', $5)`,
      [resourceType, s.project, s.domain, s.workflow, s.launchPlan],
      row,
    );
  }
}
