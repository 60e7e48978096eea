import { migrate, migrationsDirOf, type Database, type Queryable } from "@flotilla/db";
import { validatePoolConfig } from "../allocator/allocator.js";
import { LeadershipLostError } from "../allocator/errors.js";
import type { HolderRecord, PoolConfig } from "../allocator/types.js";

/** Where a pool definition came from. */
export type PoolSource = "config" | "api";

/** A stored pool definition. */
export interface StoredPool {
  readonly config: PoolConfig;
  readonly source: PoolSource;
}

/** The current leader as recorded in the fencing row. */
export interface LeaderRecord {
  readonly epoch: number;
  readonly instance: string;
  readonly url: string;
}

/**
 * Durable state of the resource manager: pools, holders (leases and queued requests) and the
 * leader fencing row. Every write is fenced by the caller's epoch.
 */
export interface StateRepository {
  /** Claims leadership: bumps the epoch and records the instance. Returns the new epoch. */
  claimLeadership(instance: string, url: string): Promise<number>;
  /** Returns the recorded leader, if any. */
  currentLeader(): Promise<LeaderRecord | undefined>;
  /** Loads every pool. */
  loadPools(): Promise<StoredPool[]>;
  /** Loads every holder record. */
  loadHolders(): Promise<HolderRecord[]>;
  /**
   * Applies a change set atomically (upserts and deletes) if `epoch` is still current. Rejects
   * with {@link LeadershipLostError} when another leader has taken over.
   */
  applyChanges(epoch: number, changes: ReadonlyMap<string, HolderRecord | null>): Promise<void>;
  /** Creates or replaces a pool, fenced by `epoch`. */
  savePool(epoch: number, config: PoolConfig, source: PoolSource): Promise<void>;
  /** Deletes a pool, fenced by `epoch`. */
  deletePool(epoch: number, resource: string): Promise<void>;
}

const MIGRATIONS_TABLE = "resource_manager_schema_migrations";

/**
 * Applies the resource manager's migrations (idempotent, serialized by @flotilla/db's migration
 * lock). Returns the names of the files applied by this call.
 */
export async function migrateResourceManager(db: Database): Promise<string[]> {
  const result = await migrate(db, { dir: migrationsDirOf(import.meta.url), table: MIGRATIONS_TABLE });
  return result.applied;
}

interface HolderRow extends Record<string, unknown> {
  lease_id: string;
  resource: string;
  holder: string;
  project: string;
  domain: string;
  tokens: number;
  state: "granted" | "queued";
  ttl_ms: number;
  seq: string;
  requested_at_ms: string;
  since_ms: string;
  expires_at_ms: string;
  borrowed: boolean;
}

// One statement, so one round trip and one implicit transaction per batch. The fence CTE
// row-locks the leader row and yields a row only while our epoch is current; the delete and the
// upsert join it, so they change nothing when we have been deposed. A key appears in at most one
// of the two lists (the caller coalesces per key).
const APPLY_CHANGES_SQL = `
WITH fence AS (
  SELECT epoch FROM rm_leader WHERE id = 1 AND epoch = $1 FOR UPDATE
), deleted AS (
  DELETE FROM rm_holders h
  USING unnest($2::text[], $3::text[]) AS d(resource, holder), fence
  WHERE h.resource = d.resource AND h.holder = d.holder
  RETURNING 1
), upserted AS (
  INSERT INTO rm_holders
    (resource, holder, project, domain, tokens, state, ttl_ms, seq, since_ms, expires_at_ms,
     lease_id, requested_at_ms, borrowed, epoch)
  SELECT u.resource, u.holder, u.project, u.domain, u.tokens, u.state, u.ttl_ms, u.seq,
         u.since_ms, u.expires_at_ms, u.lease_id, u.requested_at_ms, u.borrowed, fence.epoch
  FROM unnest($4::text[], $5::text[], $6::text[], $7::text[], $8::int[], $9::text[], $10::int[],
              $11::bigint[], $12::bigint[], $13::bigint[], $14::text[], $15::bigint[], $16::bool[])
       AS u(resource, holder, project, domain, tokens, state, ttl_ms, seq, since_ms, expires_at_ms,
            lease_id, requested_at_ms, borrowed),
       fence
  ON CONFLICT (resource, holder) DO UPDATE SET
    project = excluded.project, domain = excluded.domain, tokens = excluded.tokens,
    state = excluded.state, ttl_ms = excluded.ttl_ms,
    seq = CASE WHEN excluded.seq = 0 THEN rm_holders.seq ELSE excluded.seq END,
    since_ms = excluded.since_ms, expires_at_ms = excluded.expires_at_ms,
    lease_id = excluded.lease_id, requested_at_ms = excluded.requested_at_ms,
    borrowed = excluded.borrowed, epoch = excluded.epoch
  RETURNING 1
)
SELECT (SELECT count(*) FROM fence)::int AS fenced`;

/** The holder fields APPLY_CHANGES_SQL unnests ($4..$16), one array per column, in its order. */
const HOLDER_COLUMNS: readonly ((r: HolderRecord) => unknown)[] = [
  (r) => r.resource,
  (r) => r.holder,
  (r) => r.project,
  (r) => r.domain,
  (r) => r.tokens,
  (r) => r.state,
  (r) => r.ttlMs,
  (r) => r.seq,
  (r) => r.since,
  (r) => r.expiresAt,
  (r) => r.leaseId,
  (r) => r.requestedAt,
  (r) => r.borrowed,
];

/** {@link StateRepository} on PostgreSQL or embedded PGlite through @flotilla/db. */
export class PostgresStateRepository implements StateRepository {
  constructor(private readonly db: Database) {}

  async claimLeadership(instance: string, url: string): Promise<number> {
    const { rows } = await this.db.query<{ epoch: string }>(
      `INSERT INTO rm_leader (id, epoch, instance, url, elected_at) VALUES (1, 1, $1, $2, now())
       ON CONFLICT (id) DO UPDATE SET epoch = rm_leader.epoch + 1, instance = excluded.instance,
         url = excluded.url, elected_at = now()
       RETURNING epoch`,
      [instance, url],
    );
    return Number(rows[0]?.epoch);
  }

  async currentLeader(): Promise<LeaderRecord | undefined> {
    const { rows } = await this.db.query<{ epoch: string; instance: string; url: string }>(
      "SELECT epoch, instance, url FROM rm_leader WHERE id = 1",
    );
    const row = rows[0];
    return row ? { epoch: Number(row.epoch), instance: row.instance, url: row.url } : undefined;
  }

  async loadPools(): Promise<StoredPool[]> {
    const { rows } = await this.db.query<{ config: PoolConfig; source: PoolSource }>(
      "SELECT config, source FROM rm_pools ORDER BY resource",
    );
    return rows.map((row) => {
      validatePoolConfig(row.config);
      return { config: row.config, source: row.source };
    });
  }

  async loadHolders(): Promise<HolderRecord[]> {
    const { rows } = await this.db.query<HolderRow>(
      `SELECT lease_id, resource, holder, project, domain, tokens, state, ttl_ms, seq, requested_at_ms,
              since_ms, expires_at_ms, borrowed
       FROM rm_holders ORDER BY seq`,
    );
    return rows.map((r) => ({
      leaseId: r.lease_id,
      resource: r.resource,
      holder: r.holder,
      project: r.project,
      domain: r.domain,
      tokens: r.tokens,
      state: r.state,
      ttlMs: r.ttl_ms,
      seq: Number(r.seq),
      requestedAt: Number(r.requested_at_ms),
      since: Number(r.since_ms),
      expiresAt: Number(r.expires_at_ms),
      borrowed: r.borrowed,
    }));
  }

  async applyChanges(epoch: number, changes: ReadonlyMap<string, HolderRecord | null>): Promise<void> {
    const delResource: string[] = [];
    const delHolder: string[] = [];
    const upserts = HOLDER_COLUMNS.map((): unknown[] => []);
    for (const [key, record] of changes) {
      if (record === null) {
        const sep = key.indexOf("\u0000");
        delResource.push(key.slice(0, sep));
        delHolder.push(key.slice(sep + 1));
        continue;
      }
      HOLDER_COLUMNS.forEach((column, i) => upserts[i]?.push(column(record)));
    }
    const { rows } = await this.db.query<{ fenced: number }>(APPLY_CHANGES_SQL, [
      epoch,
      delResource,
      delHolder,
      ...upserts,
    ]);
    if (rows[0]?.fenced !== 1) throw new LeadershipLostError(`epoch ${epoch} is no longer current`);
  }

  async savePool(epoch: number, config: PoolConfig, source: PoolSource): Promise<void> {
    await this.fenced(epoch, (tx) =>
      tx.query(
        `INSERT INTO rm_pools (resource, config, source, updated_at) VALUES ($1, $2, $3, now())
         ON CONFLICT (resource) DO UPDATE SET config = excluded.config, source = excluded.source,
           updated_at = now()`,
        [config.resource, JSON.stringify(config), source],
      ),
    );
  }

  async deletePool(epoch: number, resource: string): Promise<void> {
    await this.fenced(epoch, (tx) => tx.query("DELETE FROM rm_pools WHERE resource = $1", [resource]));
  }

  private async fenced(epoch: number, fn: (tx: Queryable) => Promise<unknown>): Promise<void> {
    await this.db.transaction(async (tx) => {
      const { rowCount } = await tx.query("SELECT 1 FROM rm_leader WHERE id = 1 AND epoch = $1 FOR UPDATE", [
        epoch,
      ]);
      if (rowCount !== 1) throw new LeadershipLostError(`epoch ${epoch} is no longer current`);
      await fn(tx);
    });
  }
}
