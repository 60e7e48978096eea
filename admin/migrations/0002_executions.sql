-- Executions, their node and task executions (derived from events), and the append-only event
-- log that can rebuild all three.
CREATE TABLE executions (
  pk                bigserial PRIMARY KEY,
  project           text NOT NULL,
  domain            text NOT NULL,
  name              text NOT NULL,
  launch_plan_name  text,                -- same project/domain as the execution
  launch_plan_version text,
  workflow_name     text NOT NULL,
  workflow_version  text NOT NULL,
  spec              bytea NOT NULL,      -- flotilla.admin.v1.ExecutionSpec (resolved)
  spec_digest       text NOT NULL,       -- digest of the request spec, for idempotent creates
  inputs_uri        text NOT NULL,
  cluster_label     text NOT NULL DEFAULT '',
  cluster           text,                -- set by placement; null while queued for a cluster
  queue_reason      text,                -- why it waits for a cluster; null once placed
  phase             smallint NOT NULL,
  phase_version     integer NOT NULL DEFAULT 0,
  created_at        timestamptz NOT NULL,
  started_at        timestamptz,
  stopped_at        timestamptz,
  updated_at        timestamptz NOT NULL,
  outputs_uri       text NOT NULL DEFAULT '',
  output_data       bytea,               -- flotilla.core.v1.LiteralMap when sent inline
  error             bytea,               -- flotilla.core.v1.ExecutionError
  reason            text NOT NULL DEFAULT '',
  message           text NOT NULL DEFAULT '',
  abort_cause       text NOT NULL DEFAULT '',
  aborted_by        text NOT NULL DEFAULT '',
  labels            jsonb NOT NULL DEFAULT '{}',
  CONSTRAINT executions_identity UNIQUE (project, domain, name)
);
-- ListExecutions: default sort, and the phase / launch plan / workflow / cluster filters.
CREATE INDEX executions_by_created ON executions (project, domain, created_at DESC, pk DESC);
CREATE INDEX executions_by_phase ON executions (project, domain, phase, created_at DESC);
CREATE INDEX executions_by_launch_plan ON executions (project, domain, launch_plan_name, created_at DESC)
  WHERE launch_plan_name IS NOT NULL;
CREATE INDEX executions_by_workflow ON executions (project, domain, workflow_name, created_at DESC);
CREATE INDEX executions_by_cluster ON executions (cluster, phase);
CREATE INDEX executions_unplaced ON executions (created_at) WHERE cluster IS NULL AND phase = 1;
CREATE INDEX executions_labels ON executions USING gin (labels jsonb_path_ops);

CREATE TABLE node_executions (
  execution_pk    bigint NOT NULL REFERENCES executions (pk) ON DELETE CASCADE,
  node_id         text NOT NULL,
  state           bytea NOT NULL,        -- flotilla.admin.v1.NodeExecution
  phase           smallint NOT NULL,
  phase_version   integer NOT NULL,
  parent_node_id  text NOT NULL DEFAULT '',
  created_at      timestamptz NOT NULL,
  PRIMARY KEY (execution_pk, node_id)
);
CREATE INDEX node_executions_by_parent ON node_executions (execution_pk, parent_node_id, created_at);

CREATE TABLE task_executions (
  execution_pk    bigint NOT NULL REFERENCES executions (pk) ON DELETE CASCADE,
  node_id         text NOT NULL,
  retry_attempt   integer NOT NULL,
  state           bytea NOT NULL,        -- flotilla.admin.v1.TaskExecution
  phase           smallint NOT NULL,
  created_at      timestamptz NOT NULL,
  PRIMARY KEY (execution_pk, node_id, retry_attempt)
);

-- Every accepted event, in order, with its raw bytes: replay folds it into the three tables above.
CREATE TABLE execution_events (
  seq           bigserial PRIMARY KEY,
  execution_pk  bigint NOT NULL REFERENCES executions (pk) ON DELETE CASCADE,
  event_id      text NOT NULL,
  kind          smallint NOT NULL,       -- 1 workflow, 2 node, 3 task
  source        text NOT NULL,           -- producer cluster, or "admin"
  payload       bytea NOT NULL,          -- flotilla.admin.v1.Event
  recorded_at   timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT execution_events_idempotency UNIQUE (execution_pk, event_id)
);
CREATE INDEX execution_events_by_execution ON execution_events (execution_pk, seq);
