/**
 * SQL for the cluster registry (`clusters`, migration 0050). Driver errors are translated here:
 * a unique violation on register is {@link AlreadyExistsError} (or the stored cluster when the
 * content is identical), a missing row is {@link ClusterNotFoundError}.
 */
import { isUniqueViolation, type Queryable, type Row } from "@flotilla/db";
import { AlreadyExistsError } from "../errors.js";
import { ClusterNotFoundError } from "../routing-errors.js";
import type { ClusterState } from "../routing/router.js";
import { requireRow, timestamp } from "./rows.js";

export { ClusterNotFoundError } from "../routing-errors.js";

/** Where a cluster's registration comes from. */
export type ClusterSource = "config" | "api";
/** Health reported by the cluster's propeller (lost is derived from the heartbeat age, not stored). */
export type StoredHealth = "unspecified" | "healthy" | "degraded";

/** One registered cluster as stored. */
export interface ClusterRecord {
  name: string;
  apiEndpoint: string;
  credentialsRef: string;
  labels: Record<string, string>;
  priority: number;
  /** proto-JSON of CapacityHints. */
  capacity: Record<string, unknown>;
  /** proto-JSON of PriceTable. */
  prices: Record<string, unknown>;
  state: ClusterState;
  stateReason: string;
  source: ClusterSource;
  health: StoredHealth;
  healthMessage: string;
  lastHeartbeatAt?: Date | undefined;
  propellerVersion: string;
  queueDepth: number;
  activeWorkflows: number;
  createdAt: Date;
  updatedAt: Date;
}

/** Fields given when registering or updating a cluster. */
export type ClusterRegistration = Pick<
  ClusterRecord,
  "name" | "apiEndpoint" | "credentialsRef" | "labels" | "priority" | "capacity" | "prices"
>;

/** A heartbeat's payload as stored: the cluster's reported fields and when admin received it. */
export type HeartbeatUpdate = Pick<
  ClusterRecord,
  "propellerVersion" | "health" | "healthMessage" | "queueDepth" | "activeWorkflows"
> & { at: Date };

function toRecord(r: Row): ClusterRecord {
  return {
    name: r.name as string,
    apiEndpoint: r.api_endpoint as string,
    credentialsRef: r.credentials_ref as string,
    labels: (r.labels ?? {}) as Record<string, string>,
    priority: Number(r.priority),
    capacity: (r.capacity ?? {}) as Record<string, unknown>,
    prices: (r.prices ?? {}) as Record<string, unknown>,
    state: r.state as ClusterState,
    stateReason: r.state_reason as string,
    source: r.source as ClusterSource,
    health: r.health as StoredHealth,
    healthMessage: r.health_message as string,
    lastHeartbeatAt: r.last_heartbeat_at ? timestamp(r.last_heartbeat_at) : undefined,
    propellerVersion: r.propeller_version as string,
    queueDepth: Number(r.queue_depth),
    activeWorkflows: Number(r.active_workflows),
    createdAt: timestamp(r.created_at),
    updatedAt: timestamp(r.updated_at),
  };
}

/** `$1`-`$7`: name, endpoint, credentials, labels, priority, capacity, prices (JSON as text). */
function registrationParams(c: ClusterRegistration): unknown[] {
  return [
    c.name,
    c.apiEndpoint,
    c.credentialsRef,
    JSON.stringify(c.labels),
    c.priority,
    JSON.stringify(c.capacity),
    JSON.stringify(c.prices),
  ];
}

/** SQL access to the cluster registry (`clusters`). */
export interface ClusterRepository {
  /** Every cluster, ordered by name. */
  list(): Promise<ClusterRecord[]>;
  /** One cluster; throws {@link ClusterNotFoundError}. */
  get(name: string): Promise<ClusterRecord>;
  /**
   * Registers a cluster through the API. Re-registering identical content returns the stored
   * cluster; different content is {@link AlreadyExistsError}. Side effect: inserts a row.
   */
  register(c: ClusterRegistration): Promise<ClusterRecord>;
  /**
   * Upserts a cluster declared in the configuration file: registration fields are replaced;
   * the state only when the config names one. Returns the stored cluster.
   */
  applyFromConfig(c: ClusterRegistration, state: ClusterState | undefined): Promise<ClusterRecord>;
  /** Replaces the mutable registration fields; throws {@link ClusterNotFoundError}. */
  update(c: ClusterRegistration): Promise<ClusterRecord>;
  /** Sets the placement state and its reason; throws {@link ClusterNotFoundError}. */
  setState(name: string, state: ClusterState, reason: string): Promise<ClusterRecord>;
  /** Records a heartbeat; returns the cluster (its previous heartbeat time is in `previous`). */
  recordHeartbeat(
    name: string,
    hb: HeartbeatUpdate,
  ): Promise<{ cluster: ClusterRecord; previous?: Date | undefined }>;
}

/** Creates the PostgreSQL implementation of {@link ClusterRepository}. */
export function createPostgresClusterRepository(db: Queryable): ClusterRepository {
  return new PostgresClusterRepository(db);
}

/** Reads and writes the `clusters` table. */
export class PostgresClusterRepository implements ClusterRepository {
  constructor(private readonly db: Queryable) {}

  async list(): Promise<ClusterRecord[]> {
    const { rows } = await this.db.query("SELECT * FROM clusters ORDER BY name");
    return rows.map(toRecord);
  }

  async get(name: string): Promise<ClusterRecord> {
    const { rows } = await this.db.query("SELECT * FROM clusters WHERE name = $1", [name]);
    return toRecord(requireRow(rows, () => new ClusterNotFoundError(name)));
  }

  async register(c: ClusterRegistration): Promise<ClusterRecord> {
    try {
      const { rows } = await this.db.query(
        `INSERT INTO clusters (name, api_endpoint, credentials_ref, labels, priority, capacity, prices, source)
         VALUES ($1, $2, $3, $4::jsonb, $5, $6::jsonb, $7::jsonb, 'api') RETURNING *`,
        registrationParams(c),
      );
      return toRecord(rows[0]);
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
      const existing = await this.get(c.name);
      if (sameRegistration(existing, c)) return existing;
      throw new AlreadyExistsError("cluster", c.name);
    }
  }

  async applyFromConfig(c: ClusterRegistration, state: ClusterState | undefined): Promise<ClusterRecord> {
    const { rows } = await this.db.query(
      `INSERT INTO clusters (name, api_endpoint, credentials_ref, labels, priority, capacity, prices, source, state)
       VALUES ($1, $2, $3, $4::jsonb, $5, $6::jsonb, $7::jsonb, 'config', COALESCE($8, 'active'))
       ON CONFLICT (name) DO UPDATE SET
         api_endpoint = EXCLUDED.api_endpoint, credentials_ref = EXCLUDED.credentials_ref,
         labels = EXCLUDED.labels, priority = EXCLUDED.priority, capacity = EXCLUDED.capacity,
         prices = EXCLUDED.prices, source = 'config',
         state = COALESCE($8, clusters.state), updated_at = now()
       RETURNING *`,
      [...registrationParams(c), state ?? null],
    );
    return toRecord(rows[0]);
  }

  async update(c: ClusterRegistration): Promise<ClusterRecord> {
    const { rows } = await this.db.query(
      `UPDATE clusters SET api_endpoint = $2, credentials_ref = $3, labels = $4::jsonb, priority = $5,
         capacity = $6::jsonb, prices = $7::jsonb, updated_at = now()
       WHERE name = $1 RETURNING *`,
      registrationParams(c),
    );
    return toRecord(requireRow(rows, () => new ClusterNotFoundError(c.name)));
  }

  async setState(name: string, state: ClusterState, reason: string): Promise<ClusterRecord> {
    const { rows } = await this.db.query(
      "UPDATE clusters SET state = $2, state_reason = $3, updated_at = now() WHERE name = $1 RETURNING *",
      [name, state, reason],
    );
    return toRecord(requireRow(rows, () => new ClusterNotFoundError(name)));
  }

  async recordHeartbeat(
    name: string,
    hb: HeartbeatUpdate,
  ): Promise<{ cluster: ClusterRecord; previous?: Date | undefined }> {
    const { rows } = await this.db.query(
      `UPDATE clusters c SET propeller_version = $2, health = $3, health_message = $4, queue_depth = $5,
         active_workflows = $6, last_heartbeat_at = $7
       FROM (SELECT name, last_heartbeat_at AS previous FROM clusters WHERE name = $1 FOR UPDATE) p
       WHERE c.name = p.name RETURNING c.*, p.previous`,
      [name, hb.propellerVersion, hb.health, hb.healthMessage, hb.queueDepth, hb.activeWorkflows, hb.at],
    );
    const row = requireRow(rows, () => new ClusterNotFoundError(name));
    return {
      cluster: toRecord(row),
      previous: row.previous ? timestamp(row.previous) : undefined,
    };
  }
}

function sameRegistration(a: ClusterRecord, b: ClusterRegistration): boolean {
  return (
    a.apiEndpoint === b.apiEndpoint &&
    a.credentialsRef === b.credentialsRef &&
    a.priority === b.priority &&
    stableJson(a.labels) === stableJson(b.labels) &&
    stableJson(a.capacity) === stableJson(b.capacity) &&
    stableJson(a.prices) === stableJson(b.prices)
  );
}

/** JSON with object keys sorted, for content comparison. */
export function stableJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)),
        )
      : v,
  );
}
