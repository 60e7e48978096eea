/**
 * The configuration of the `flotilla-propeller` bin, declared once for the runtime's loader:
 * YAML file (`--config FILE`) → environment `FLOTILLA_PROPELLER_<KEY_PATH>` → flags (`--set
 * key.path=value` and the bin's historical flags such as `--cluster-id`). `KUBECONFIG` is the
 * kubeconfig path when no source sets `kubeconfig`, as with kubectl.
 */
import {
  ConfigError,
  defineConfig,
  durationMs,
  loadConfig,
  port,
  type FlagAlias,
  type LoadConfigInput,
} from "@flotilla/runtime";
import { z } from "zod";
import { DEFAULT_ROUND_WORKERS, type PropellerOptions } from "./controller/propeller.js";
import { DEFAULT_LEADER_ELECTION, type LeaderElectionOptions } from "./controller/leader-election.js";
import { DEFAULT_POD_CONCURRENCY } from "./workflow/ports.js";

const schema = z
  .strictObject({
    clusterId: z.string().min(1),
    /** Path of the kubeconfig file; `$KUBECONFIG` when unset. */
    kubeconfig: z.string().min(1).optional(),
    context: z.string().min(1).optional(),
    // Prefaulted so that a missing URL is reported as `admin.url`, not as a missing section.
    admin: z.strictObject({ url: z.string().min(1) }).prefault({} as { url: string }),
    workers: z.number().int().min(1).default(DEFAULT_ROUND_WORKERS),
    podConcurrency: z.number().int().min(1).default(DEFAULT_POD_CONCURRENCY),
    metrics: z
      .strictObject({ port: port().optional(), host: z.string().min(1).default("127.0.0.1") })
      .prefault({}),
    resourceManager: z
      .strictObject({ url: z.string().min(1).optional(), batchingDisabled: z.boolean().default(false) })
      .prefault({}),
    blobStore: z.string().min(1).default("file:///"),
    leaderElection: z
      .strictObject({
        disabled: z.boolean().default(false),
        namespace: z.string().min(1).default(DEFAULT_LEADER_ELECTION.namespace),
        leaseDuration: durationMs("15s"),
      })
      .prefault({}),
    terminatedTtl: durationMs("24h"),
    resync: durationMs("60s"),
  })
  .superRefine((config, ctx) => {
    // The old integer-seconds flags refused anything below one second for these two.
    if (config.leaderElection.leaseDuration < 1_000)
      ctx.addIssue({
        code: "custom",
        path: ["leaderElection", "leaseDuration"],
        message: "must be at least 1s",
      });
    if (config.resync < 1_000)
      ctx.addIssue({ code: "custom", path: ["resync"], message: "must be at least 1s" });
  });

/** The propeller's configuration as loaded (durations in ms). */
export type PropellerConfig = z.output<typeof schema>;

/** A flag that sets the key `path` to the value following it. */
function flag(path: string, description: string): FlagAlias {
  return { path, description };
}

/** A flag without a value that sets the boolean key `path` to true. */
function toggle(path: string, description: string): FlagAlias {
  return { path, description, boolean: true };
}

/** The propeller's configuration definition: schema, `FLOTILLA_PROPELLER_*` variables, flags. */
export const propellerConfig = defineConfig("propeller", schema, {
  flags: {
    kubeconfig: flag("kubeconfig", "Kubeconfig file (default $KUBECONFIG)"),
    context: flag("context", "Kubeconfig context (default the current one)"),
    "cluster-id": flag("clusterId", "Registered cluster this propeller runs in"),
    "admin-url": flag("admin.url", "Admin URL (Connect/gRPC)"),
    workers: flag("workers", "Concurrent round slots"),
    "pod-concurrency": flag("podConcurrency", "Pod creates/deletes in flight per round"),
    "metrics-port": flag("metrics.port", "Serve /metrics, /healthz, /readyz here (0: any)"),
    "metrics-host": flag("metrics.host", "Address of that server"),
    "resource-manager-url": flag("resourceManager.url", "Resource manager URL"),
    "no-resource-manager-batching": toggle("resourceManager.batchingDisabled", "One RPC per token call"),
    "blob-store": flag("blobStore", "Blob store root for task I/O"),
    "lease-namespace": flag("leaderElection.namespace", "Namespace of the leader Lease"),
    "lease-duration": flag("leaderElection.leaseDuration", "Leader lease duration"),
    "no-leader-election": toggle("leaderElection.disabled", "No leader Lease (one replica)"),
    "terminated-ttl": flag("terminatedTtl", "Delete terminated CRs this long after they stop"),
    resync: flag("resync", "Re-enqueue every cached workflow this often"),
  },
});

/**
 * The renew deadline and retry period of a lease of `leaseDurationMs`: two thirds and two
 * fifteenths of it (15 s → 10 s and 2 s, client-go's defaults), never below 500 ms and 200 ms.
 */
export function leaseTimings(
  leaseDurationMs: number,
): Pick<LeaderElectionOptions, "renewDeadlineMs" | "retryPeriodMs"> {
  return {
    renewDeadlineMs: Math.max(500, Math.round((leaseDurationMs * 2) / 3)),
    retryPeriodMs: Math.max(200, Math.round((leaseDurationMs * 2) / 15)),
  };
}

/**
 * The {@link PropellerOptions} a loaded configuration describes. `env` supplies `KUBECONFIG`
 * when no source set `kubeconfig`; throws {@link ConfigError} when neither did.
 */
export function propellerOptionsFrom(config: PropellerConfig, env: NodeJS.ProcessEnv): PropellerOptions {
  const kubeconfig = config.kubeconfig ?? (env.KUBECONFIG || undefined);
  if (kubeconfig === undefined) {
    throw new ConfigError("propeller", [
      { keyPath: "kubeconfig", source: "default", problem: "required: set it, --kubeconfig or $KUBECONFIG" },
    ]);
  }
  const election = config.leaderElection;
  return {
    kubeconfig,
    ...(config.context !== undefined ? { context: config.context } : {}),
    clusterId: config.clusterId,
    admin: { url: config.admin.url },
    workers: config.workers,
    executor: { podConcurrency: config.podConcurrency },
    ...(config.metrics.port !== undefined ? { metricsPort: config.metrics.port } : {}),
    metricsHost: config.metrics.host,
    ...(config.resourceManager.url !== undefined
      ? {
          resourceManager: {
            url: config.resourceManager.url,
            ...(config.resourceManager.batchingDisabled ? { batch: false as const } : {}),
          },
        }
      : {}),
    blobStoreUrl: config.blobStore,
    leaderElection: election.disabled
      ? false
      : {
          namespace: election.namespace,
          leaseDurationMs: election.leaseDuration,
          ...leaseTimings(election.leaseDuration),
        },
    terminatedTtlMs: config.terminatedTtl,
    resyncPeriodMs: config.resync,
  };
}

/**
 * Loads the bin's configuration from `input` (argv, environment) and returns the propeller
 * options, or undefined when `--help` or `--print-config` was answered. Throws ConfigError or
 * UsageError (exit code 2).
 */
export async function loadPropellerOptions(input: LoadConfigInput): Promise<PropellerOptions | undefined> {
  const loaded = await loadConfig(propellerConfig, input);
  if (loaded.done) return undefined;
  return propellerOptionsFrom(loaded.config, input.env ?? process.env);
}
