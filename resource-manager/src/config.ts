import { defineConfig, durationMs, port, secret } from "@flotilla/runtime";
import { z } from "zod";
import { MAX_TTL_MS, validatePoolConfig } from "./allocator/allocator.js";
import type { CapSpec, PoolConfig } from "./allocator/types.js";

/** Default port of the service. */
export const DEFAULT_PORT = 8089;

/**
 * A tenant cap as written in the file: a whole number of tokens, a percentage (`"40%"`), or
 * `{tokens: 8}` / `{proportion: 0.4}`.
 */
const capSchema = z
  .union([
    z.number(),
    z.string().regex(/^\d+(?:\.\d+)?%$/, 'expected a percentage such as "40%"'),
    z.strictObject({ tokens: z.number() }),
    z.strictObject({ proportion: z.number() }),
  ])
  .transform((value): CapSpec => {
    if (typeof value === "number") return { tokens: value };
    if (typeof value === "string") return { proportion: Number(value.slice(0, -1)) / 100 };
    return value;
  });

const tenantSchema = z.strictObject({
  project: z.string(),
  domain: z.string().optional(),
  cap: capSchema.optional(),
  weight: z.number().optional(),
});

/** One pool of the file; checked by the allocator's own {@link validatePoolConfig}. */
const poolSchema = z
  .strictObject({
    resource: z.string(),
    limit: z.number(),
    defaultTtl: durationMs().optional(),
    allowBorrowing: z.boolean().default(true),
    defaultCap: capSchema.optional(),
    defaultWeight: z.number().optional(),
    tenants: z.array(tenantSchema).default([]),
  })
  .transform((raw, ctx): PoolConfig => {
    const pool: PoolConfig = {
      resource: raw.resource,
      limit: raw.limit,
      tenants: raw.tenants.map((t) => ({
        project: t.project,
        ...(t.domain ? { domain: t.domain } : {}),
        ...(t.cap !== undefined ? { cap: t.cap } : {}),
        ...(t.weight !== undefined ? { weight: t.weight } : {}),
      })),
      allowBorrowing: raw.allowBorrowing,
      ...(raw.defaultTtl !== undefined ? { defaultTtlMs: raw.defaultTtl } : {}),
      ...(raw.defaultCap !== undefined ? { defaultCap: raw.defaultCap } : {}),
      ...(raw.defaultWeight !== undefined ? { defaultWeight: raw.defaultWeight } : {}),
    };
    if (pool.defaultTtlMs !== undefined && (pool.defaultTtlMs < 1000 || pool.defaultTtlMs > MAX_TTL_MS)) {
      ctx.addIssue({ code: "custom", path: ["defaultTtl"], message: "must be between 1s and 24h" });
      return z.NEVER;
    }
    try {
      validatePoolConfig(pool);
    } catch (err) {
      ctx.addIssue({ code: "custom", message: (err as Error).message });
      return z.NEVER;
    }
    return pool;
  });

/**
 * The resource manager's configuration: the `--config rm.yaml` file, `FLOTILLA_RESOURCE_MANAGER_*`
 * variables and flags, through the one loader of `@flotilla/runtime`.
 */
export const resourceManagerConfig = defineConfig(
  "resource-manager",
  z.strictObject({
    server: z
      .strictObject({
        /** Bind address. */
        host: z.string().min(1).default("0.0.0.0"),
        /** Connect, gRPC, gRPC-Web, /metrics, /healthz and /readyz; 0 picks a free port. */
        port: port().default(DEFAULT_PORT),
        /** URL other instances report as the leader's; default http://<hostname>:<port>. */
        advertiseUrl: z.url().optional(),
        /** How long in-flight requests may take to finish on shutdown. */
        shutdownGrace: durationMs("10s"),
      })
      .prefault({}),
    database: z
      .strictObject({
        /** PostgreSQL URL; absent: embedded PGlite in `dataDir` (in memory when that is absent too). */
        url: secret(z.string().min(1)).optional(),
        dataDir: z.string().min(1).optional(),
      })
      .prefault({})
      .refine((d) => d.url === undefined || d.dataDir === undefined, {
        message: "set either url (PostgreSQL) or dataDir (embedded), not both",
      }),
    /** How often expired leases are swept. */
    sweepInterval: durationMs("200ms").refine((ms) => ms >= 10, "must be at least 10ms"),
    /** How often a standby tries the leader lock and a leader checks its lock session. */
    electionInterval: durationMs("1s").refine((ms) => ms >= 50, "must be at least 50ms"),
    pools: z
      .array(poolSchema)
      .default([])
      .superRefine((pools, ctx) => {
        const seen = new Set<string>();
        pools.forEach((pool, i) => {
          if (seen.has(pool.resource)) {
            ctx.addIssue({
              code: "custom",
              path: [i, "resource"],
              message: `"${pool.resource}" is listed twice`,
            });
          }
          seen.add(pool.resource);
        });
      }),
  }),
  {
    bin: "flotilla-resource-manager",
    flags: {
      host: { path: "server.host", description: "Bind address" },
      port: { path: "server.port", description: "Port to listen on" },
      "advertise-url": { path: "server.advertiseUrl", description: "URL standbys report as the leader's" },
      "database-url": { path: "database.url", description: "PostgreSQL URL (default: embedded PGlite)" },
      "data-dir": { path: "database.dataDir", description: "Embedded PGlite data directory" },
    },
    envAliases: { FLOTILLA_RM_DATABASE_URL: "database.url" },
  },
);

/** The validated configuration of the resource manager. */
export type ResourceManagerConfig = z.output<typeof resourceManagerConfig.schema>;
