import type { Queryable, Row } from "@flotilla/db";
import type { NamedEntityKey, VersionKey } from "./registry-repository.js";
import { bytes, date, PostgresRepository, run, type Page, type PageRequest } from "./sql.js";

/** Launch plan state ACTIVE as stored in `launch_plans.state` (LaunchPlan.State.STATE_ACTIVE). */
const ACTIVE = 2;

/** Where the schedule of one active launch plan version stands, with that version's spec. */
export interface ScheduleRow extends VersionKey {
  activatedAt: Date;
  /** Scheduled time of the last handled firing (started or skipped). */
  lastFireAt: Date | undefined;
  lastExecution: string | undefined;
  lastError: string;
  skippedFirings: number;
  /** Serialized admin.v1.LaunchPlanSpec of the active version. */
  spec: Uint8Array;
}

/** Storage of schedule states (`schedule_states`, migration 0110). */
export interface ScheduleRepository {
  /**
   * Starts the schedule of a just-activated version at `at` (inside the activation's
   * transaction `tx`). Re-activating the version that is already scheduled changes nothing.
   */
  activate(tx: Queryable, key: VersionKey, at: Date): Promise<void>;
  /** Drops the schedule of a deactivated version (inside the deactivation's transaction `tx`). */
  deactivate(tx: Queryable, key: VersionKey): Promise<void>;
  /** Drops whatever schedule a launch plan name has (its newly active version has none). */
  clear(tx: Queryable, key: NamedEntityKey): Promise<void>;
  /** Every schedule whose version is still the active one, with its spec. */
  listActive(): Promise<ScheduleRow[]>;
  /** One page of the active schedules of a project/domain (optionally one name), by name. */
  list(
    key: { project: string; domain: string; name?: string },
    page: PageRequest,
  ): Promise<Page<ScheduleRow>>;
  /** Records a started firing, unless a later one is already recorded. False when not applied. */
  recordFired(key: VersionKey, scheduledAt: Date, execution: string): Promise<boolean>;
  /** Records `count` skipped firings, handled through `through` (never moving backwards). */
  recordSkipped(key: VersionKey, through: Date, count: number): Promise<void>;
  /** Records why starting a firing failed. */
  recordError(key: VersionKey, message: string): Promise<void>;
  /** Removes the row of a version (e.g. an active version without a schedule). */
  remove(key: VersionKey): Promise<void>;
}

function scheduleRow(r: Row): ScheduleRow {
  return {
    project: String(r.project),
    domain: String(r.domain),
    name: String(r.launch_plan_name),
    version: String(r.launch_plan_version),
    activatedAt: date(r.activated_at)!,
    lastFireAt: date(r.last_fire_at),
    lastExecution: typeof r.last_execution === "string" ? r.last_execution : undefined,
    lastError: String(r.last_error),
    skippedFirings: Number(r.skipped_firings),
    spec: bytes(r.spec),
  };
}

const SELECT_ACTIVE = `SELECT s.*, lp.spec FROM schedule_states s
  JOIN launch_plans lp ON lp.project = s.project AND lp.domain = s.domain
   AND lp.name = s.launch_plan_name AND lp.version = s.launch_plan_version AND lp.state = ${ACTIVE}`;

/** {@link ScheduleRepository} on PostgreSQL / PGlite. */
export class PostgresScheduleRepository extends PostgresRepository implements ScheduleRepository {
  async activate(tx: Queryable, key: VersionKey, at: Date): Promise<void> {
    await run(
      tx,
      this.observe,
      "schedule_states.activate",
      `INSERT INTO schedule_states (project, domain, launch_plan_name, launch_plan_version, activated_at)
       VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (project, domain, launch_plan_name) DO UPDATE
         SET launch_plan_version = EXCLUDED.launch_plan_version, activated_at = EXCLUDED.activated_at,
             last_fire_at = NULL, last_execution = NULL, last_error = '', skipped_firings = 0,
             updated_at = now()
         WHERE schedule_states.launch_plan_version <> EXCLUDED.launch_plan_version`,
      [key.project, key.domain, key.name, key.version, at],
    );
  }

  async deactivate(tx: Queryable, key: VersionKey): Promise<void> {
    await run(
      tx,
      this.observe,
      "schedule_states.deactivate",
      `DELETE FROM schedule_states
       WHERE project = $1 AND domain = $2 AND launch_plan_name = $3 AND launch_plan_version = $4`,
      [key.project, key.domain, key.name, key.version],
    );
  }

  async clear(tx: Queryable, key: NamedEntityKey): Promise<void> {
    await run(
      tx,
      this.observe,
      "schedule_states.clear",
      "DELETE FROM schedule_states WHERE project = $1 AND domain = $2 AND launch_plan_name = $3",
      [key.project, key.domain, key.name],
    );
  }

  listActive(): Promise<ScheduleRow[]> {
    return this.all("schedule_states.list_active", SELECT_ACTIVE, [], scheduleRow);
  }

  list(
    key: { project: string; domain: string; name?: string },
    page: PageRequest,
  ): Promise<Page<ScheduleRow>> {
    return this.paged(
      "schedule_states.list",
      `${SELECT_ACTIVE} WHERE s.project = $1 AND s.domain = $2 AND ($3::text IS NULL OR s.launch_plan_name = $3)
       ORDER BY s.launch_plan_name`,
      [key.project, key.domain, key.name || null],
      page,
      scheduleRow,
    );
  }

  async recordFired(key: VersionKey, scheduledAt: Date, execution: string): Promise<boolean> {
    const res = await run(
      this.db,
      this.observe,
      "schedule_states.fired",
      `UPDATE schedule_states SET last_fire_at = $5, last_execution = $6, last_error = '', updated_at = now()
       WHERE project = $1 AND domain = $2 AND launch_plan_name = $3 AND launch_plan_version = $4
         AND (last_fire_at IS NULL OR last_fire_at < $5)`,
      [key.project, key.domain, key.name, key.version, scheduledAt, execution],
    );
    return res.rowCount > 0;
  }

  async recordSkipped(key: VersionKey, through: Date, count: number): Promise<void> {
    await run(
      this.db,
      this.observe,
      "schedule_states.skipped",
      `UPDATE schedule_states SET last_fire_at = $5, skipped_firings = skipped_firings + $6, updated_at = now()
       WHERE project = $1 AND domain = $2 AND launch_plan_name = $3 AND launch_plan_version = $4
         AND (last_fire_at IS NULL OR last_fire_at < $5)`,
      [key.project, key.domain, key.name, key.version, through, count],
    );
  }

  async recordError(key: VersionKey, message: string): Promise<void> {
    await run(
      this.db,
      this.observe,
      "schedule_states.error",
      `UPDATE schedule_states SET last_error = $5, updated_at = now()
       WHERE project = $1 AND domain = $2 AND launch_plan_name = $3 AND launch_plan_version = $4`,
      [key.project, key.domain, key.name, key.version, message.slice(0, 1024)],
    );
  }

  async remove(key: VersionKey): Promise<void> {
    await this.deactivate(this.db, key);
  }
}
