-- Cost and waste: versioned cluster price tables and the cost of every finished task attempt.
--
-- cluster_prices keeps every price table a cluster has had, in integer micro-dollars per hour,
-- each with the time it took effect. A price change appends a version and never rewrites an
-- attempt's cost: an attempt is priced with the version in effect when it started. Versions are
-- appended by a trigger on clusters.prices (RegisterCluster, UpdateCluster and the config file
-- all write that column), so the cluster row and its price history change in one statement.
-- Dollars are converted to micro-dollars here, rounding half away from zero.
CREATE TABLE cluster_prices (
  cluster                 text NOT NULL,
  effective_from          timestamptz NOT NULL,
  cpu_core_hour_micros    bigint NOT NULL CHECK (cpu_core_hour_micros >= 0),
  memory_gib_hour_micros  bigint NOT NULL CHECK (memory_gib_hour_micros >= 0),
  gpu_hour_micros         bigint NOT NULL CHECK (gpu_hour_micros >= 0),
  PRIMARY KEY (cluster, effective_from)
);

CREATE FUNCTION cluster_prices_record() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  cpu bigint := round(COALESCE((NEW.prices ->> 'cpuHour')::numeric, 0) * 1000000);
  mem bigint := round(COALESCE((NEW.prices ->> 'memoryGibHour')::numeric, 0) * 1000000);
  gpu bigint := round(COALESCE((NEW.prices ->> 'gpuHour')::numeric, 0) * 1000000);
  latest cluster_prices%ROWTYPE;
BEGIN
  SELECT * INTO latest FROM cluster_prices WHERE cluster = NEW.name
    ORDER BY effective_from DESC LIMIT 1;
  IF FOUND AND latest.cpu_core_hour_micros = cpu AND latest.memory_gib_hour_micros = mem
     AND latest.gpu_hour_micros = gpu THEN
    RETURN NEW;
  END IF;
  -- Two changes in one transaction share now(): the later one wins.
  INSERT INTO cluster_prices (cluster, effective_from, cpu_core_hour_micros, memory_gib_hour_micros, gpu_hour_micros)
    VALUES (NEW.name, now(), cpu, mem, gpu)
    ON CONFLICT (cluster, effective_from) DO UPDATE SET
      cpu_core_hour_micros = EXCLUDED.cpu_core_hour_micros,
      memory_gib_hour_micros = EXCLUDED.memory_gib_hour_micros,
      gpu_hour_micros = EXCLUDED.gpu_hour_micros;
  RETURN NEW;
END;
$$;

CREATE TRIGGER clusters_prices_versioned AFTER INSERT OR UPDATE OF prices ON clusters
  FOR EACH ROW EXECUTE FUNCTION cluster_prices_record();

-- Clusters registered before this migration: their current table is in effect since registration.
INSERT INTO cluster_prices (cluster, effective_from, cpu_core_hour_micros, memory_gib_hour_micros, gpu_hour_micros)
  SELECT name, created_at,
    round(COALESCE((prices ->> 'cpuHour')::numeric, 0) * 1000000),
    round(COALESCE((prices ->> 'memoryGibHour')::numeric, 0) * 1000000),
    round(COALESCE((prices ->> 'gpuHour')::numeric, 0) * 1000000)
  FROM clusters;

-- One row per task attempt that reached a terminal phase, written in the transaction that
-- accepted its terminal event. Amounts are integer micro-dollars; waste_micros <= cost_micros.
CREATE TABLE attempt_costs (
  execution_pk          bigint NOT NULL REFERENCES executions (pk) ON DELETE CASCADE,
  node_id               text NOT NULL,
  retry_attempt         integer NOT NULL,
  project               text NOT NULL,
  domain                text NOT NULL,
  execution_name        text NOT NULL,
  workflow              text NOT NULL,
  cluster               text NOT NULL,
  phase                 smallint NOT NULL,     -- flotilla.core.v1.TaskExecution.Phase (terminal)
  started_at            timestamptz,           -- null: never ran (no cost)
  ended_at              timestamptz NOT NULL,
  day                   date NOT NULL,         -- UTC day of ended_at
  cpu_millicores        bigint NOT NULL,
  memory_bytes          bigint NOT NULL,
  gpus                  bigint NOT NULL,
  used_cpu_millicores   bigint,                -- null: the runtime reported no usage
  used_memory_bytes     bigint,
  used_gpus             bigint,
  price_effective_from  timestamptz,           -- the cluster_prices version applied (null: none)
  cost_micros           bigint NOT NULL CHECK (cost_micros >= 0),
  waste_micros          bigint NOT NULL CHECK (waste_micros >= 0 AND waste_micros <= cost_micros),
  PRIMARY KEY (execution_pk, node_id, retry_attempt)
);
-- GetCosts: a window of end times, optionally one project (and domain).
CREATE INDEX attempt_costs_by_end ON attempt_costs (ended_at);
CREATE INDEX attempt_costs_by_project ON attempt_costs (project, domain, ended_at);
