-- Schedules: where the firings of each launch plan's active schedule stand, so that whichever
-- admin replica holds the scheduler lock (after a restart, a failover or a crash) continues from
-- the last handled firing. One row per launch plan name, for its ACTIVE version: written in the
-- transaction that activates the version (activated_at is the first firing's lower bound) and
-- deleted when the version is deactivated. Executions themselves are deduplicated by their
-- deterministic names; this row only says how far the scheduler got.
CREATE TABLE schedule_states (
  project              text NOT NULL,
  domain               text NOT NULL,
  launch_plan_name     text NOT NULL,
  launch_plan_version  text NOT NULL,
  activated_at         timestamptz NOT NULL,
  -- Scheduled time of the last firing handled (started or skipped by the catch-up policy).
  last_fire_at         timestamptz,
  -- Name of the execution the last started firing created.
  last_execution       text,
  -- Why the last attempt to start a firing failed; '' after a success.
  last_error           text NOT NULL DEFAULT '',
  skipped_firings      bigint NOT NULL DEFAULT 0,
  updated_at           timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (project, domain, launch_plan_name)
);

-- Launch plans activated before this migration: their schedules start from now. Versions without
-- a schedule get a row too (SQL cannot read the spec); the scheduler drops those on sight.
INSERT INTO schedule_states (project, domain, launch_plan_name, launch_plan_version, activated_at)
SELECT project, domain, name, version, now() FROM launch_plans WHERE state = 2;
