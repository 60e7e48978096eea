-- Pending terminations: CR deletions that failed because the cluster was unreachable. The
-- placer retries them, and heartbeats tell the cluster's propeller to abort them meanwhile.
CREATE TABLE pending_terminations (
  cluster         text        NOT NULL,
  project         text        NOT NULL,
  domain          text        NOT NULL,
  name            text        NOT NULL,
  attempts        integer     NOT NULL DEFAULT 1,
  last_error      text        NOT NULL DEFAULT '',
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  created_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (cluster, project, domain, name)
);
CREATE INDEX pending_terminations_due_idx ON pending_terminations (next_attempt_at);
