/**
 * `flotilla-propeller`: runs one propeller for one cluster.
 *
 *   flotilla-propeller --kubeconfig F [--context C] --cluster-id ID --admin-url URL
 *     [--workers N] [--metrics-port P] [--metrics-host H] [--resource-manager-url URL]
 *     [--no-resource-manager-batching]
 *     [--blob-store URL] [--lease-namespace NS] [--lease-duration SECONDS] [--no-leader-election]
 *     [--terminated-ttl SECONDS] [--resync SECONDS]
 *
 * Prints `propeller ready cluster=ID identity=... metrics=URL` once its caches synced; stops
 * cleanly (draining buffered events, releasing the lease) on SIGTERM/SIGINT.
 */
import { parsePropellerArgs } from "./args.js";
import { startPropeller, type PropellerOptions } from "./controller/propeller.js";

async function main(): Promise<void> {
  let options: PropellerOptions;
  try {
    options = parsePropellerArgs(process.argv.slice(2));
  } catch (err) {
    console.error(`flotilla-propeller: ${(err as Error).message}`);
    process.exit(2);
  }
  const propeller = await startPropeller(options);
  console.log(
    `propeller ready cluster=${propeller.clusterId} identity=${propeller.identity}` +
      (propeller.metricsUrl ? ` metrics=${propeller.metricsUrl}` : ""),
  );
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    console.log(`propeller stopping (${signal})`);
    propeller.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(`propeller stop failed: ${(err as Error).message}`);
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}

main().catch((err: unknown) => {
  console.error(`flotilla-propeller: ${(err as Error).stack ?? String(err)}`);
  process.exit(1);
});
