-- Registry: projects (with their domains) and the immutable, versioned tasks, workflows and
-- launch plans. Entities are stored as serialized protos plus the columns queries filter on.
CREATE TABLE projects (
  id          text PRIMARY KEY,
  state       smallint NOT NULL,
  body        bytea NOT NULL,            -- flotilla.admin.v1.Project
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE tasks (
  pk          bigserial PRIMARY KEY,
  project     text NOT NULL REFERENCES projects (id),
  domain      text NOT NULL,
  name        text NOT NULL,
  version     text NOT NULL,
  digest      text NOT NULL,
  body        bytea NOT NULL,            -- flotilla.core.v1.TaskTemplate
  created_at  timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT tasks_identity UNIQUE (project, domain, name, version)
);
-- Versions of one task newest first, and latest-per-name listings.
CREATE INDEX tasks_by_name_created ON tasks (project, domain, name, created_at DESC, pk DESC);

CREATE TABLE workflows (
  pk          bigserial PRIMARY KEY,
  project     text NOT NULL REFERENCES projects (id),
  domain      text NOT NULL,
  name        text NOT NULL,
  version     text NOT NULL,
  digest      text NOT NULL,
  closure     bytea NOT NULL,            -- flotilla.core.v1.CompiledWorkflowClosure
  created_at  timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT workflows_identity UNIQUE (project, domain, name, version)
);
CREATE INDEX workflows_by_name_created ON workflows (project, domain, name, created_at DESC, pk DESC);

CREATE TABLE launch_plans (
  pk               bigserial PRIMARY KEY,
  project          text NOT NULL REFERENCES projects (id),
  domain           text NOT NULL,
  name             text NOT NULL,
  version          text NOT NULL,
  digest           text NOT NULL,
  workflow_pk      bigint NOT NULL REFERENCES workflows (pk),
  state            smallint NOT NULL,
  spec             bytea NOT NULL,       -- flotilla.admin.v1.LaunchPlanSpec
  expected_inputs  bytea NOT NULL,       -- flotilla.core.v1.ParameterMap
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT launch_plans_identity UNIQUE (project, domain, name, version)
);
CREATE INDEX launch_plans_by_name_created ON launch_plans (project, domain, name, created_at DESC, pk DESC);
-- At most one active version per launch plan name.
CREATE UNIQUE INDEX launch_plans_one_active ON launch_plans (project, domain, name) WHERE state = 2;
