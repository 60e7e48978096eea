/**
 * Shared set-up of the propeller e2e tests: a sandbox cluster in this process (so its
 * counters are readable), its kubeconfig on disk, the CRD, a blob root and helpers to create
 * workflows and wait for them.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import { WorkflowExecutionResource as R, openBlobStore, type BlobStore } from "@flotilla/common";
import type { WorkflowExecutionSpec } from "@flotilla/proto";
import { createExecution, installCrd, kubeConfigFrom } from "@flotilla/propeller";
import { startCluster, type SandboxCluster } from "@flotilla/sandbox";
import { spawnBin, tempDir, type AfterHook, type SpawnedBin, type TempDir } from "@flotilla/testing";

/** A running e2e environment. */
export interface PropellerEnv {
  cluster: SandboxCluster;
  kc: KubeConfig;
  kubeconfigPath: string;
  dir: TempDir;
  blobRoot: string;
  store: BlobStore;
  stop(): Promise<void>;
}

/** Starts a sandbox cluster named `name` with the CRD installed and its kubeconfig written. */
export async function propellerEnv(
  name: string,
  mode: "simulated" | "process" = "simulated",
): Promise<PropellerEnv> {
  const dir = tempDir({ prefix: `e2e-${name}-` });
  const cluster = await startCluster({ name, mode });
  const kubeconfigPath = join(dir.path, "kubeconfig");
  writeFileSync(kubeconfigPath, cluster.kubeconfig);
  const kc = kubeConfigFrom(cluster.kubeconfig);
  await installCrd(kc);
  const blobRoot = pathToFileURL(join(dir.path, "blobs")).href;
  return {
    cluster,
    kc,
    kubeconfigPath,
    dir,
    blobRoot,
    store: openBlobStore(blobRoot),
    async stop() {
      await cluster.stop();
      await dir.cleanup();
    },
  };
}

/** Creates every spec's CR (with empty inputs), `concurrency` at a time. */
export async function createAll(
  env: PropellerEnv,
  specs: WorkflowExecutionSpec[],
  concurrency = 8,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < specs.length) {
        const spec = specs[next++];
        if (spec) await createExecution(env.kc, spec, { store: env.store });
      }
    }),
  );
}

/** Workflow phase (proto-JSON name, e.g. "PHASE_SUCCEEDED") of every CR by name, including terminated ones. */
export async function phasesByName(kc: KubeConfig): Promise<Map<string, string>> {
  const list = (await kc.makeApiClient(CustomObjectsApi).listClusterCustomObject({
    group: R.group,
    version: R.version,
    plural: R.plural,
  })) as { items: { metadata: { name: string }; status?: { phase?: string } }[] };
  return new Map(list.items.map((o) => [o.metadata.name, o.status?.phase ?? ""]));
}

/**
 * Starts the `flotilla-propeller` bin for `env`'s cluster as `clusterId`, reporting to
 * `adminUrl`, without leader election, its metrics on a free 127.0.0.1 port. Returns the process
 * and its metrics base URL (from its ready line). Stopped when `t` ends.
 */
export async function spawnPropeller(
  env: PropellerEnv,
  clusterId: string,
  adminUrl: string,
  t: AfterHook,
): Promise<{ process: SpawnedBin; metricsUrl: string }> {
  const child = await spawnBin(
    "flotilla-propeller",
    [
      "--kubeconfig",
      env.kubeconfigPath,
      "--cluster-id",
      clusterId,
      "--admin-url",
      adminUrl,
      "--no-leader-election",
      "--metrics-port",
      "0",
      "--metrics-host",
      "127.0.0.1",
    ],
    { readyLine: /propeller ready .*metrics=(\S+)/, t },
  );
  const metricsUrl = child.ready?.[1];
  if (!metricsUrl) throw new Error("flotilla-propeller printed no metrics URL in its ready line");
  return { process: child, metricsUrl };
}
