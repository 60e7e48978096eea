-- Matchable attributes: overrides per scope, resolved most-specific-first at execution time.
-- Empty strings mean "any" for domain, workflow and launch_plan.
CREATE TABLE matchable_attributes (
  resource_type  smallint NOT NULL,
  project        text NOT NULL,
  domain         text NOT NULL DEFAULT '',
  workflow       text NOT NULL DEFAULT '',
  launch_plan    text NOT NULL DEFAULT '',
  attributes     bytea NOT NULL,         -- flotilla.admin.v1.MatchingAttributes
  updated_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (resource_type, project, domain, workflow, launch_plan)
);
CREATE INDEX matchable_attributes_by_project ON matchable_attributes (project, domain, resource_type);
