-- Cluster registry: the data-plane clusters admin places executions on, registered from the
-- configuration file or through the API, with their placement state and last heartbeat.
CREATE TABLE clusters (
  name              text PRIMARY KEY,
  api_endpoint      text        NOT NULL DEFAULT '',
  credentials_ref   text        NOT NULL DEFAULT '',
  labels            jsonb       NOT NULL DEFAULT '{}'::jsonb,
  priority          integer     NOT NULL DEFAULT 0 CHECK (priority BETWEEN 0 AND 1000),
  -- proto-JSON of flotilla.admin.v1.CapacityHints / PriceTable
  capacity          jsonb       NOT NULL DEFAULT '{}'::jsonb,
  prices            jsonb       NOT NULL DEFAULT '{}'::jsonb,
  state             text        NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'cordoned', 'draining')),
  state_reason      text        NOT NULL DEFAULT '',
  -- 'config': owned by the configuration file (re-applied at start); 'api': registered by RPC
  source            text        NOT NULL DEFAULT 'api' CHECK (source IN ('config', 'api')),
  health            text        NOT NULL DEFAULT 'unspecified'
                                CHECK (health IN ('unspecified', 'healthy', 'degraded')),
  health_message    text        NOT NULL DEFAULT '',
  last_heartbeat_at timestamptz,
  propeller_version text        NOT NULL DEFAULT '',
  queue_depth       integer     NOT NULL DEFAULT 0,
  active_workflows  integer     NOT NULL DEFAULT 0,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now()
);
