-- Pending placements: executions admin has accepted but whose WorkflowExecution CR does not
-- exist on a cluster yet (no eligible cluster, or the cluster was unreachable). The placer
-- retries them with backoff, so a restarted admin resumes where it stopped.
CREATE TABLE pending_placements (
  project         text        NOT NULL,
  domain          text        NOT NULL,
  name            text        NOT NULL,
  -- serialized flotilla.core.v1.WorkflowExecutionSpec (binary proto)
  spec            bytea       NOT NULL,
  -- {"workflow": Identifier JSON, "launchPlan": ..., "clusterLabel": ..., "labels": {}, "annotations": {}}
  request         jsonb       NOT NULL,
  attempts        integer     NOT NULL DEFAULT 0,
  last_cluster    text,
  last_error      text        NOT NULL DEFAULT '',
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (project, domain, name)
);
CREATE INDEX pending_placements_due_idx ON pending_placements (next_attempt_at);
