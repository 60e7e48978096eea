-- Routing decisions: every placement decision with its inputs and reason, served by
-- ExplainExecution. A re-evaluation that reaches the same outcome bumps the latest row
-- (evaluations, last_evaluated_at) instead of appending a duplicate.
CREATE TABLE routing_decisions (
  id                   bigserial PRIMARY KEY,
  project              text        NOT NULL,
  domain               text        NOT NULL,
  name                 text        NOT NULL,
  chosen_cluster       text,
  reason               text        NOT NULL,
  message              text        NOT NULL,
  queue_reason         text        NOT NULL DEFAULT '',
  cluster_label        text        NOT NULL DEFAULT '',
  cluster_label_source text        NOT NULL DEFAULT '',
  isolation_label      text        NOT NULL DEFAULT '',
  matched_rule_id      text,
  sticky               boolean     NOT NULL DEFAULT false,
  -- what the router saw: clusters (labels, state, heartbeat), matching rules, requested label...
  inputs               jsonb       NOT NULL,
  candidates           jsonb       NOT NULL,
  evaluations          integer     NOT NULL DEFAULT 1,
  decided_at           timestamptz NOT NULL DEFAULT now(),
  last_evaluated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX routing_decisions_execution_idx ON routing_decisions (project, domain, name, id);
