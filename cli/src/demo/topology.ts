/**
 * What the demo federation is made of: three sandbox clusters (two shared, one dedicated to
 * regulated work), two projects (one general, one regulated), the `warehouse` pool of the
 * resource manager, and the configuration files of the admin and the resource manager that
 * describe them.
 */
import { stringify } from "yaml";
import type { DemoLayout } from "./layout.js";

/** Cluster label key that dedicates a cluster to one isolation label (the admin's router reads it). */
export const ISOLATION_LABEL_KEY = "flotilla.io/isolation";

/** The regulated isolation label: projects bound to it run only on clusters carrying it. */
export const REGULATED = "regulated";

/** A cluster's price table in dollars per unit-hour (the admin's `clusters[].prices`). */
export interface DemoPrices {
  cpuCoreHour: number;
  memoryGibHour: number;
  gpuHour: number;
}

/**
 * Demo time is compressed: its tasks run for seconds where real ones run for hours, so its
 * clusters bill a second as a real cluster bills an hour — prices are public-cloud on-demand
 * rates (east $0.0425 per core-hour, west cheaper, the dedicated regulated cluster dearest)
 * times 3600. `flotctl get costs` and the cost dashboard then show cents from the first run.
 */
const DEMO_TIME_SCALE = 3600;

/** A price table of `perHour` real-world rates, scaled to demo time. */
function demoPrices(perHour: DemoPrices): DemoPrices {
  const scale = (v: number) => Math.round(v * DEMO_TIME_SCALE * 100) / 100;
  return {
    cpuCoreHour: scale(perHour.cpuCoreHour),
    memoryGibHour: scale(perHour.memoryGibHour),
    gpuHour: scale(perHour.gpuHour),
  };
}

/** The sandbox clusters, in start order, with their (demo-scaled) prices. */
export const DEMO_CLUSTERS: ReadonlyArray<{
  name: string;
  labels: Record<string, string>;
  prices: DemoPrices;
}> = [
  {
    name: "east",
    labels: { region: "us-east", pool: "general" },
    prices: demoPrices({ cpuCoreHour: 0.0425, memoryGibHour: 0.0057, gpuHour: 2.48 }),
  },
  {
    name: "west",
    labels: { region: "us-west", pool: "general" },
    prices: demoPrices({ cpuCoreHour: 0.0382, memoryGibHour: 0.0051, gpuHour: 2.21 }),
  },
  {
    name: "secure",
    labels: {
      region: "us-east",
      pool: "regulated",
      compliance: REGULATED,
      [ISOLATION_LABEL_KEY]: REGULATED,
    },
    prices: demoPrices({ cpuCoreHour: 0.0612, memoryGibHour: 0.0083, gpuHour: 3.06 }),
  },
];

/** The example projects: `ml` on the shared clusters, `payments` isolated on `secure`. */
export const DEMO_PROJECTS: ReadonlyArray<{
  id: string;
  name: string;
  description: string;
  labels: Record<string, string>;
  isolation: string;
}> = [
  {
    id: "ml",
    name: "Machine learning",
    description: "General ML workloads; runs on the shared clusters east and west.",
    labels: { team: "ml" },
    isolation: "",
  },
  {
    id: "payments",
    name: "Payments",
    description: "Regulated payment models; runs only on clusters dedicated to regulated work.",
    labels: { team: "payments", compliance: REGULATED },
    isolation: REGULATED,
  },
];

/** The domains every demo project has. */
export const DEMO_DOMAINS = ["development", "staging", "production"] as const;

/** The external-resource pool the `warehouse` example draws on. */
export const WAREHOUSE_POOL = { resource: "warehouse", limit: 3, defaultCap: 2 } as const;

/** Version under which the examples are registered. */
export const EXAMPLES_VERSION = "v1";

/** Ports and cluster endpoints the configuration files need. */
export interface DemoEndpoints {
  adminPort: number;
  resourceManagerPort: number;
}

/** The admin's configuration document (YAML text) for the demo. */
export function adminConfigYaml(layout: DemoLayout, endpoints: DemoEndpoints): string {
  return stringify({
    server: { port: endpoints.adminPort, host: "127.0.0.1", shutdownGrace: "5s" },
    database: { dataDir: layout.adminDataDir },
    blobStore: { url: `file://${layout.blobsDir}` },
    clusters: DEMO_CLUSTERS.map((c, i) => ({
      name: c.name,
      kubeconfig: layout.kubeconfig,
      context: c.name,
      labels: c.labels,
      priority: (i + 1) * 10,
      prices: c.prices,
    })),
    routing: {
      // Short intervals so a demo notices a stopped propeller within seconds.
      heartbeatInterval: "2s",
      heartbeatTimeout: "20s",
      reevaluateInterval: "2s",
    },
  });
}

/** The resource manager's configuration document (YAML text) for the demo. */
export function resourceManagerConfigYaml(layout: DemoLayout, endpoints: DemoEndpoints): string {
  return stringify({
    server: { port: endpoints.resourceManagerPort, host: "127.0.0.1" },
    database: { dataDir: layout.resourceManagerDataDir },
    pools: [
      {
        resource: WAREHOUSE_POOL.resource,
        limit: WAREHOUSE_POOL.limit,
        defaultTtl: "30s",
        allowBorrowing: true,
        defaultCap: WAREHOUSE_POOL.defaultCap,
      },
    ],
  });
}
