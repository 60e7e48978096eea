-- Routing rules: (project, domain, workflow | launch plan) scope -> cluster label and weighted
-- targets, resolved most-specific-first. Empty strings are wildcards; one rule per scope.
CREATE TABLE routing_rules (
  id            text PRIMARY KEY,
  project       text        NOT NULL DEFAULT '',
  domain        text        NOT NULL DEFAULT '',
  workflow      text        NOT NULL DEFAULT '',
  launch_plan   text        NOT NULL DEFAULT '',
  cluster_label text        NOT NULL DEFAULT '',
  -- [{"cluster": "a", "weight": 3} | {"clusterLabel": "gpu", "weight": 1}]
  targets       jsonb       NOT NULL DEFAULT '[]'::jsonb,
  description   text        NOT NULL DEFAULT '',
  revision      bigint      NOT NULL DEFAULT 1,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT routing_rules_scope_unique UNIQUE (project, domain, workflow, launch_plan)
);
