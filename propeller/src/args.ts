/** Command-line parsing of the `flotilla-propeller` bin (see main.ts for the usage). */
import { parseArgs } from "node:util";
import type { PropellerOptions } from "./controller/propeller.js";

/** Bad command-line usage: names the flag and what is expected. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

function positiveInt(flag: string, value: string | undefined, min = 1): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min)
    throw new UsageError(`--${flag} must be an integer >= ${min}, got ${JSON.stringify(value)}`);
  return n;
}

/** Parses argv into propeller options; throws {@link UsageError}. */
export function parsePropellerArgs(argv: string[]): PropellerOptions {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      kubeconfig: { type: "string" },
      context: { type: "string" },
      "cluster-id": { type: "string" },
      "admin-url": { type: "string" },
      workers: { type: "string" },
      "metrics-port": { type: "string" },
      "metrics-host": { type: "string" },
      "resource-manager-url": { type: "string" },
      "no-resource-manager-batching": { type: "boolean" },
      "blob-store": { type: "string" },
      "lease-namespace": { type: "string" },
      "lease-duration": { type: "string" },
      "no-leader-election": { type: "boolean" },
      "terminated-ttl": { type: "string" },
      resync: { type: "string" },
    },
  });
  const kubeconfig = values.kubeconfig ?? process.env.KUBECONFIG;
  if (!kubeconfig) throw new UsageError("--kubeconfig is required (or set KUBECONFIG)");
  const clusterId = values["cluster-id"];
  if (!clusterId) throw new UsageError("--cluster-id is required");
  const adminUrl = values["admin-url"];
  if (!adminUrl) throw new UsageError("--admin-url is required");
  const options: PropellerOptions = { kubeconfig, clusterId, admin: { url: adminUrl } };
  if (values.context) options.context = values.context;
  const workers = positiveInt("workers", values.workers);
  if (workers !== undefined) options.workers = workers;
  const metricsPort = positiveInt("metrics-port", values["metrics-port"], 0);
  if (metricsPort !== undefined) options.metricsPort = metricsPort;
  if (values["metrics-host"]) options.metricsHost = values["metrics-host"];
  if (values["resource-manager-url"]) {
    options.resourceManager = {
      url: values["resource-manager-url"],
      ...(values["no-resource-manager-batching"] ? { batch: false as const } : {}),
    };
  }
  if (values["blob-store"]) options.blobStoreUrl = values["blob-store"];
  if (values["no-leader-election"]) options.leaderElection = false;
  else {
    const leaseSeconds = positiveInt("lease-duration", values["lease-duration"]);
    options.leaderElection = {
      ...(values["lease-namespace"] ? { namespace: values["lease-namespace"] } : {}),
      ...(leaseSeconds
        ? {
            leaseDurationMs: leaseSeconds * 1000,
            renewDeadlineMs: Math.max(500, Math.floor(leaseSeconds * 666)),
            retryPeriodMs: Math.max(200, Math.floor(leaseSeconds * 133)),
          }
        : {}),
    };
  }
  const ttl = positiveInt("terminated-ttl", values["terminated-ttl"], 0);
  if (ttl !== undefined) options.terminatedTtlMs = ttl * 1000;
  const resync = positiveInt("resync", values.resync);
  if (resync !== undefined) options.resyncPeriodMs = resync * 1000;
  return options;
}
