/**
 * Sandbox clusters: an API server plus (by default) the simulated kubelet, with a kubeconfig
 * whose single context is named after the cluster. Many clusters can run in one process.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Logger } from "@flotilla/runtime";
import { stringify } from "yaml";
import { type ApiServerHandle, type ApiServerOptions, startApiServer } from "./apiserver/server.js";
import { type Kubelet, type NodeSpec, startKubelet } from "./kubelet/index.js";

/** Options of `startCluster`. */
export interface ClusterOptions {
  /** Cluster name: the kubeconfig context/cluster/user name and the node-name prefix. */
  name: string;
  /** API server port on 127.0.0.1 (default: any free port). */
  port?: number;
  /** How the kubelet runs pods: local processes or simulated durations (default `simulated`). */
  mode?: "process" | "simulated";
  /** Whether to start the simulated kubelet (default true). */
  kubelet?: boolean;
  /** Node specs for the kubelet (default: its own defaults). */
  nodes?: NodeSpec[];
  /**
   * Directory for the cluster's files: `<stateDir>/<name>.kubeconfig` and pod working
   * directories under `<stateDir>/<name>/`. Default: a temporary directory removed on stop.
   */
  stateDir?: string;
  /** Extra API server options (size limits, compaction window, bookmark interval, logger). */
  apiServer?: Omit<ApiServerOptions, "port" | "name">;
  /**
   * Where the API server and the kubelet report unexpected failures (bound to the cluster's
   * name). Default: their own loggers on stderr.
   */
  logger?: Logger;
}

/** A running sandbox cluster. */
export interface SandboxCluster {
  readonly name: string;
  /** API server URL (`http://127.0.0.1:PORT`). */
  readonly url: string;
  /** A kubeconfig (YAML) with one context named after the cluster. */
  readonly kubeconfig: string;
  /** Where the kubeconfig was written, when `stateDir` was given. */
  readonly kubeconfigPath: string | undefined;
  /** The API server (faults, counters). */
  readonly apiServer: ApiServerHandle;
  /** The kubelet, when started. */
  readonly kubelet: Kubelet | undefined;
  /** Stops the kubelet (killing its pods' processes) and the API server. */
  stop(): Promise<void>;
}

/** A cluster entry for `kubeconfigFor`/`writeKubeconfig`. */
export interface KubeconfigCluster {
  name: string;
  url: string;
}

/**
 * Builds a kubeconfig YAML with one cluster, user and context per entry (context = cluster
 * name, no credentials, `insecure-skip-tls-verify: true` because @kubernetes/client-node 1.x
 * refuses plain `http://` servers otherwise); the first entry is the current context.
 */
export function kubeconfigFor(clusters: KubeconfigCluster[]): string {
  if (clusters.length === 0) throw new RangeError("a kubeconfig needs at least one cluster");
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    preferences: {},
    // client-node 1.x refuses plain-HTTP servers unless TLS verification is marked skipped.
    clusters: clusters.map((c) => ({
      name: c.name,
      cluster: { server: c.url, "insecure-skip-tls-verify": true },
    })),
    users: clusters.map((c) => ({ name: c.name, user: {} })),
    contexts: clusters.map((c) => ({
      name: c.name,
      context: { cluster: c.name, user: c.name, namespace: "default" },
    })),
    "current-context": clusters[0].name,
  });
}

/**
 * Writes one kubeconfig file with a context per cluster to `path` (parent directories are
 * created). Returns the path.
 */
export async function writeKubeconfig(clusters: KubeconfigCluster[], path: string): Promise<string> {
  await mkdir(join(path, ".."), { recursive: true });
  await writeFile(path, kubeconfigFor(clusters), { mode: 0o600 });
  return path;
}

/**
 * Starts a sandbox cluster: the API server on 127.0.0.1 and, unless `kubelet: false`, the
 * simulated kubelet registered against it. Returns once both are ready.
 * Side effects: listens on a port, may write files under `stateDir` or a temp directory.
 */
export async function startCluster(options: ClusterOptions): Promise<SandboxCluster> {
  const logger = options.logger?.child({ cluster: options.name });
  const apiServer = await startApiServer({
    ...(logger ? { logger } : {}),
    ...options.apiServer,
    port: options.port,
    name: options.name,
  });
  const kubeconfig = kubeconfigFor([{ name: options.name, url: apiServer.url }]);
  let kubeconfigPath: string | undefined;
  let workDir: string;
  let ownsWorkDir = false;
  try {
    if (options.stateDir) {
      workDir = join(options.stateDir, options.name);
      await mkdir(workDir, { recursive: true });
      kubeconfigPath = join(options.stateDir, `${options.name}.kubeconfig`);
      await writeFile(kubeconfigPath, kubeconfig, { mode: 0o600 });
    } else {
      workDir = await mkdtemp(join(tmpdir(), `flotilla-sandbox-${options.name}-`));
      ownsWorkDir = true;
    }
  } catch (err) {
    await apiServer.stop();
    throw err;
  }
  let kubelet: Kubelet | undefined;
  if (options.kubelet !== false) {
    try {
      kubelet = await startKubelet({
        server: apiServer.url,
        clusterName: options.name,
        mode: options.mode ?? "simulated",
        nodes: options.nodes,
        workDir,
        ...(logger ? { onError: (err: unknown) => logger.warn("kubelet error", { error: err }) } : {}),
      });
    } catch (err) {
      await apiServer.stop();
      if (ownsWorkDir) await rm(workDir, { recursive: true, force: true });
      throw err;
    }
  }
  let stopped: Promise<void> | undefined;
  return {
    name: options.name,
    url: apiServer.url,
    kubeconfig,
    kubeconfigPath,
    apiServer,
    kubelet,
    stop() {
      stopped ??= (async () => {
        if (kubelet) await kubelet.stop();
        await apiServer.stop();
        if (ownsWorkDir) await rm(workDir, { recursive: true, force: true });
      })();
      return stopped;
    },
  };
}
