import type { Queryable, Row } from "@flotilla/db";
import { AlreadyExistsError, InvalidArgumentError } from "../errors.js";
import { bytes, date, PostgresRepository, run, type Page, type PageRequest } from "./sql.js";

/** Version-independent name of a registered entity. */
export interface NamedEntityKey {
  project: string;
  domain: string;
  name: string;
}

/** Full identity of one registered version. */
export interface VersionKey extends NamedEntityKey {
  version: string;
}

/** A stored project: its serialized `admin.v1.Project` and bookkeeping. */
export interface ProjectRow {
  id: string;
  state: number;
  body: Uint8Array;
  createdAt: Date;
  updatedAt: Date;
}

/** One stored version of a task or workflow (body = TaskTemplate or CompiledWorkflowClosure bytes). */
export interface VersionRow extends VersionKey {
  pk: number;
  digest: string;
  body: Uint8Array;
  createdAt: Date;
}

/** One stored launch plan version. */
export interface LaunchPlanRow extends VersionRow {
  workflowPk: number;
  state: number;
  expectedInputs: Uint8Array;
  updatedAt: Date;
}

/** Sort of version listings. */
export interface VersionSort {
  key: "created_at" | "version" | "name";
  ascending: boolean;
}

/** Result of an idempotent create: the stored row and whether this call inserted it. */
export interface Created<T> {
  row: T;
  created: boolean;
}

/** A launch plan version to store. */
export interface NewLaunchPlan {
  key: VersionKey;
  /** Digest of the canonical spec: the identity of its content. */
  digest: string;
  workflowPk: number;
  /** Serialized admin.v1.LaunchPlanSpec (canonical). */
  spec: Uint8Array;
  /** Serialized core.v1.ParameterMap of the inputs an execution must or may give. */
  expectedInputs: Uint8Array;
  state: number;
}

const keyText = (k: VersionKey) => `${k.project}/${k.domain}/${k.name}@${k.version}`;

/**
 * The idempotent-create rule of immutable registrations: the inserted row (created), else the
 * existing row when its digest matches (not created); a different digest is
 * {@link AlreadyExistsError}.
 */
async function createdOrExisting<R extends { digest: string }>(
  kind: string,
  key: VersionKey,
  digest: string,
  inserted: Row | undefined,
  map: (row: Row) => R,
  readExisting: () => Promise<R | undefined>,
): Promise<Created<R>> {
  if (inserted) return { row: map(inserted), created: true };
  const existing = await readExisting();
  if (!existing) throw new Error(`${kind} ${keyText(key)} conflicted on insert but cannot be read back`);
  if (existing.digest !== digest)
    throw new AlreadyExistsError(kind, keyText(key), `exists with digest ${existing.digest}`);
  return { row: existing, created: false };
}

/** SQL access to projects, tasks, workflows and launch plans. */
export interface RegistryRepository {
  /** Inserts a project; AlreadyExistsError when the id is taken. */
  createProject(row: Omit<ProjectRow, "createdAt" | "updatedAt">): Promise<ProjectRow>;
  /** Replaces a project's state and body; returns the row or undefined when it does not exist. */
  updateProject(row: Omit<ProjectRow, "createdAt" | "updatedAt">): Promise<ProjectRow | undefined>;
  /** Reads a project, or undefined. */
  getProject(id: string): Promise<ProjectRow | undefined>;
  /** Lists projects by id, optionally of one state. */
  listProjects(page: PageRequest, state?: number): Promise<Page<ProjectRow>>;
  /**
   * Stores a task or workflow version unless the identity exists: same digest → the existing row
   * (created false); different digest → AlreadyExistsError. `kind` selects the table.
   */
  createVersion(
    kind: "task" | "workflow",
    key: VersionKey,
    digest: string,
    body: Uint8Array,
  ): Promise<Created<VersionRow>>;
  /** Reads one task or workflow version, or undefined. */
  getVersion(kind: "task" | "workflow", key: VersionKey): Promise<VersionRow | undefined>;
  /** Lists versions of one name, or the latest version of every name when `key.name` is empty. */
  listVersions(
    kind: "task" | "workflow",
    key: NamedEntityKey,
    sort: VersionSort,
    page: PageRequest,
  ): Promise<Page<VersionRow>>;
  /** Lists distinct task or workflow names of a project/domain, by name. */
  listNames(
    kind: "task" | "workflow",
    project: string,
    domain: string,
    page: PageRequest,
  ): Promise<Page<NamedEntityKey>>;
  /** Stores a launch plan version with the same idempotency rules as createVersion. */
  createLaunchPlan(plan: NewLaunchPlan): Promise<Created<LaunchPlanRow>>;
  /** Reads one launch plan version, or undefined. */
  getLaunchPlan(key: VersionKey): Promise<LaunchPlanRow | undefined>;
  /** Lists launch plan versions (see listVersions), optionally of one state. */
  listLaunchPlans(
    key: NamedEntityKey,
    sort: VersionSort,
    page: PageRequest,
    state?: number,
  ): Promise<Page<LaunchPlanRow>>;
  /**
   * Sets a launch plan version's state; activating deactivates the active version of the same
   * name in the same transaction. `onChanged`, when given, runs in that transaction with the
   * updated row (schedules start or stop there). Returns the updated row or undefined when it
   * does not exist.
   */
  setLaunchPlanState(
    key: VersionKey,
    state: number,
    activeState: number,
    inactiveState: number,
    onChanged?: (tx: Queryable, row: LaunchPlanRow) => Promise<void>,
  ): Promise<LaunchPlanRow | undefined>;
  /** Reads a workflow version by primary key (the workflow a launch plan runs). */
  getWorkflowByPk(pk: number): Promise<VersionRow | undefined>;
}

const bodyColumn = { tasks: "body", workflows: "closure" } as const;

/** The table of a task or workflow version, its body column, and the columns of a VersionRow. */
function versionTable(kind: "task" | "workflow") {
  const table = kind === "task" ? "tasks" : "workflows";
  const body = bodyColumn[table];
  return { table, body, columns: `pk, project, domain, name, version, digest, ${body} AS body, created_at` };
}

function projectRow(r: Record<string, unknown>): ProjectRow {
  return {
    id: String(r.id),
    state: Number(r.state),
    body: bytes(r.body),
    createdAt: date(r.created_at)!,
    updatedAt: date(r.updated_at)!,
  };
}

function versionRow(r: Record<string, unknown>): VersionRow {
  return {
    pk: Number(r.pk),
    project: String(r.project),
    domain: String(r.domain),
    name: String(r.name),
    version: String(r.version),
    digest: String(r.digest),
    body: bytes(r.body),
    createdAt: date(r.created_at)!,
  };
}

function launchPlanRow(r: Record<string, unknown>): LaunchPlanRow {
  return {
    ...versionRow(r),
    workflowPk: Number(r.workflow_pk),
    state: Number(r.state),
    expectedInputs: bytes(r.expected_inputs),
    updatedAt: date(r.updated_at)!,
  };
}

function orderBy(sort: VersionSort): string {
  const dir = sort.ascending ? "ASC" : "DESC";
  switch (sort.key) {
    case "version":
      return `version ${dir}, pk ${dir}`;
    case "name":
      return `name ${dir}, created_at DESC, pk DESC`;
    default:
      return `created_at ${dir}, pk ${dir}`;
  }
}

/** PostgreSQL implementation of {@link RegistryRepository}. */
export class PostgresRegistryRepository extends PostgresRepository implements RegistryRepository {
  async createProject(row: Omit<ProjectRow, "createdAt" | "updatedAt">): Promise<ProjectRow> {
    const res = await run(
      this.db,
      this.observe,
      "projects.insert",
      "INSERT INTO projects (id, state, body) VALUES ($1, $2, $3) RETURNING *",
      [row.id, row.state, row.body],
      { kind: "project", id: row.id },
    );
    return projectRow(res.rows[0]);
  }

  async updateProject(row: Omit<ProjectRow, "createdAt" | "updatedAt">): Promise<ProjectRow | undefined> {
    return this.first(
      "projects.update",
      "UPDATE projects SET state = $2, body = $3, updated_at = now() WHERE id = $1 RETURNING *",
      [row.id, row.state, row.body],
      projectRow,
    );
  }

  async getProject(id: string): Promise<ProjectRow | undefined> {
    const res = await run(this.db, this.observe, "projects.get", "SELECT * FROM projects WHERE id = $1", [
      id,
    ]);
    return res.rows[0] ? projectRow(res.rows[0]) : undefined;
  }

  async listProjects(page: PageRequest, state?: number): Promise<Page<ProjectRow>> {
    return this.paged(
      "projects.list",
      "SELECT * FROM projects WHERE ($1::smallint IS NULL OR state = $1) ORDER BY id",
      [state ?? null],
      page,
      projectRow,
    );
  }

  async createVersion(
    kind: "task" | "workflow",
    key: VersionKey,
    digest: string,
    body: Uint8Array,
  ): Promise<Created<VersionRow>> {
    const { table, body: col, columns } = versionTable(kind);
    const inserted = await run(
      this.db,
      this.observe,
      `${table}.insert`,
      `INSERT INTO ${table} (project, domain, name, version, digest, ${col}) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (project, domain, name, version) DO NOTHING RETURNING ${columns}`,
      [key.project, key.domain, key.name, key.version, digest, body],
    );
    return createdOrExisting(kind, key, digest, inserted.rows[0], versionRow, () =>
      this.getVersion(kind, key),
    );
  }

  async getVersion(kind: "task" | "workflow", key: VersionKey): Promise<VersionRow | undefined> {
    const { table, columns } = versionTable(kind);
    return this.first(
      `${table}.get`,
      `SELECT ${columns} FROM ${table} WHERE project = $1 AND domain = $2 AND name = $3 AND version = $4`,
      [key.project, key.domain, key.name, key.version],
      versionRow,
    );
  }

  async getWorkflowByPk(pk: number): Promise<VersionRow | undefined> {
    return this.first(
      "workflows.get_by_pk",
      `SELECT ${versionTable("workflow").columns} FROM workflows WHERE pk = $1`,
      [pk],
      versionRow,
    );
  }

  async listVersions(
    kind: "task" | "workflow",
    key: NamedEntityKey,
    sort: VersionSort,
    page: PageRequest,
  ): Promise<Page<VersionRow>> {
    const { table, columns: cols } = versionTable(kind);
    const sql = key.name
      ? `SELECT ${cols} FROM ${table} WHERE project = $1 AND domain = $2 AND name = $3
         ORDER BY ${orderBy(sort)}`
      : `SELECT * FROM (SELECT DISTINCT ON (name) ${cols} FROM ${table} WHERE project = $1 AND domain = $2
           AND $3::text IS NOT NULL ORDER BY name, created_at DESC, pk DESC) latest
         ORDER BY ${orderBy(sort)}`;
    return this.paged(`${table}.list`, sql, [key.project, key.domain, key.name], page, versionRow);
  }

  async listNames(
    kind: "task" | "workflow",
    project: string,
    domain: string,
    page: PageRequest,
  ): Promise<Page<NamedEntityKey>> {
    const { table } = versionTable(kind);
    return this.paged(
      `${table}.list_names`,
      `SELECT DISTINCT name FROM ${table} WHERE project = $1 AND domain = $2 ORDER BY name`,
      [project, domain],
      page,
      (r) => ({ project, domain, name: String(r.name) }),
    );
  }

  async createLaunchPlan(plan: NewLaunchPlan): Promise<Created<LaunchPlanRow>> {
    const { key, digest } = plan;
    const inserted = await run(
      this.db,
      this.observe,
      "launch_plans.insert",
      `INSERT INTO launch_plans (project, domain, name, version, digest, workflow_pk, state, spec, expected_inputs)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
       ON CONFLICT (project, domain, name, version) DO NOTHING
       RETURNING *, spec AS body`,
      [
        key.project,
        key.domain,
        key.name,
        key.version,
        digest,
        plan.workflowPk,
        plan.state,
        plan.spec,
        plan.expectedInputs,
      ],
    );
    return createdOrExisting("launch plan", key, digest, inserted.rows[0], launchPlanRow, () =>
      this.getLaunchPlan(key),
    );
  }

  async getLaunchPlan(key: VersionKey, q: Queryable = this.db): Promise<LaunchPlanRow | undefined> {
    const res = await run(
      q,
      this.observe,
      "launch_plans.get",
      `SELECT *, spec AS body FROM launch_plans WHERE project = $1 AND domain = $2 AND name = $3 AND version = $4`,
      [key.project, key.domain, key.name, key.version],
    );
    return res.rows[0] ? launchPlanRow(res.rows[0]) : undefined;
  }

  async listLaunchPlans(
    key: NamedEntityKey,
    sort: VersionSort,
    page: PageRequest,
    state?: number,
  ): Promise<Page<LaunchPlanRow>> {
    const sql = key.name
      ? `SELECT *, spec AS body FROM launch_plans WHERE project = $1 AND domain = $2 AND name = $3
           AND ($4::smallint IS NULL OR state = $4)
         ORDER BY ${orderBy(sort)}`
      : `SELECT * FROM (SELECT DISTINCT ON (name) *, spec AS body FROM launch_plans
           WHERE project = $1 AND domain = $2 AND $3::text IS NOT NULL AND ($4::smallint IS NULL OR state = $4)
           ORDER BY name, created_at DESC, pk DESC) latest
         ORDER BY ${orderBy(sort)}`;
    return this.paged(
      "launch_plans.list",
      sql,
      [key.project, key.domain, key.name, state ?? null],
      page,
      launchPlanRow,
    );
  }

  async setLaunchPlanState(
    key: VersionKey,
    state: number,
    activeState: number,
    inactiveState: number,
    onChanged?: (tx: Queryable, row: LaunchPlanRow) => Promise<void>,
  ): Promise<LaunchPlanRow | undefined> {
    if (state !== activeState && state !== inactiveState) {
      throw new InvalidArgumentError("state", `must be ACTIVE or INACTIVE, got ${state}`);
    }
    return this.db.transaction(async (tx) => {
      const current = await this.getLaunchPlan(key, tx);
      if (!current) return undefined;
      if (state === activeState) {
        await run(
          tx,
          this.observe,
          "launch_plans.deactivate",
          `UPDATE launch_plans SET state = $4, updated_at = now()
           WHERE project = $1 AND domain = $2 AND name = $3 AND state = $5 AND pk <> $6`,
          [key.project, key.domain, key.name, inactiveState, activeState, current.pk],
        );
      }
      const res = await run(
        tx,
        this.observe,
        "launch_plans.set_state",
        "UPDATE launch_plans SET state = $2, updated_at = now() WHERE pk = $1 RETURNING *, spec AS body",
        [current.pk, state],
        { kind: "active launch plan", id: `${key.project}/${key.domain}/${key.name}` },
      );
      const row = launchPlanRow(res.rows[0]);
      await onChanged?.(tx, row);
      return row;
    });
  }
}
