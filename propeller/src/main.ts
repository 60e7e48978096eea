/**
 * `flotilla-propeller`: runs one propeller for one cluster.
 *
 *   flotilla-propeller [--config FILE] [--set KEY=VALUE]... [--print-config]
 *     --kubeconfig F [--context C] --cluster-id ID --admin-url URL
 *     [--workers N] [--metrics-port P] [--metrics-host H] [--resource-manager-url URL]
 *     [--no-resource-manager-batching]
 *     [--blob-store URL] [--lease-namespace NS] [--lease-duration 15s] [--no-leader-election]
 *     [--terminated-ttl 24h] [--resync 60s]
 *
 * Every setting is also a key of the YAML file and a `FLOTILLA_PROPELLER_*` variable (see
 * config.ts and `--help`). Prints `propeller ready cluster=ID identity=... metrics=URL` on
 * standard output once its caches synced; logs JSON lines on standard error; stops cleanly
 * (draining buffered events, releasing the lease) on SIGTERM/SIGINT. Exit codes: 0 clean stop,
 * 1 runtime failure, 2 usage or configuration error.
 */
import { runMain } from "@flotilla/runtime";
import { loadPropellerOptions } from "./config.js";
import { startPropeller } from "./controller/propeller.js";

void runMain("propeller", async ({ argv, env, logger }) => {
  const options = await loadPropellerOptions({ argv, env });
  if (options === undefined) return;
  const propeller = await startPropeller({ ...options, logger });
  process.stdout.write(
    `propeller ready cluster=${propeller.clusterId} identity=${propeller.identity}` +
      (propeller.metricsUrl ? ` metrics=${propeller.metricsUrl}` : "") +
      "\n",
  );
  return { stop: () => propeller.stop() };
});
