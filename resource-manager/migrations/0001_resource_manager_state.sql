-- Purpose: durable state of the resource manager. The active leader keeps the authoritative
-- state in memory and writes every change ahead to these tables (group commit) before replying;
-- a restarted or newly elected leader rebuilds its state from them.

-- Resource pools created from the config file or through the API.
CREATE TABLE rm_pools (
  resource   text PRIMARY KEY,
  config     jsonb NOT NULL,
  source     text NOT NULL CHECK (source IN ('config', 'api')),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- One row per holder per resource: a granted lease or a queued request.
-- Times are epoch milliseconds (the leader's clock).
CREATE TABLE rm_holders (
  resource      text    NOT NULL,
  holder        text    NOT NULL,
  project       text    NOT NULL,
  domain        text    NOT NULL,
  tokens        integer NOT NULL CHECK (tokens > 0),
  state         text    NOT NULL CHECK (state IN ('granted', 'queued')),
  ttl_ms        integer NOT NULL CHECK (ttl_ms > 0),
  seq           bigint  NOT NULL,
  since_ms      bigint  NOT NULL,
  expires_at_ms bigint  NOT NULL,
  -- Granted rows: the lease id handed to the holder; '' for queued rows.
  lease_id        text    NOT NULL,
  requested_at_ms bigint  NOT NULL,
  borrowed        boolean NOT NULL,
  epoch         bigint  NOT NULL,
  PRIMARY KEY (resource, holder)
);

-- The fencing row: every write of the leader checks (and row-locks) its epoch, so a deposed
-- leader's late writes fail once a successor has bumped it.
CREATE TABLE rm_leader (
  id         smallint PRIMARY KEY CHECK (id = 1),
  epoch      bigint NOT NULL,
  instance   text NOT NULL,
  url        text NOT NULL,
  elected_at timestamptz NOT NULL DEFAULT now()
);
