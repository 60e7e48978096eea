/**
 * The demo supervisor: starts a whole Flotilla federation on this machine as separate processes
 * of the project's own bins — the sandbox (clusters east, west, secure), the admin and the
 * resource manager on embedded PGlite, a propeller per cluster — bootstraps the example
 * projects and workflows, keeps the state file current, restarts a component that crashes
 * (all but the sandbox, whose clusters live in memory), and stops everything on request.
 *
 *   lock ─▶ clean data ─▶ sandbox ─▶ admin ∥ resource manager ─▶ propellers ─▶ bootstrap
 *     ─▶ [Prometheus, with --prometheus] ─▶ READY
 *     any failure on the way: stop what started, phase FAILED, lock released, error thrown
 *   READY ─stop()─▶ STOPPING ─▶ STOPPED        READY ─sandbox died / restart failed─▶ FAILED
 */
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { tracingEnabled } from "@flotilla/runtime/tracing-env";
import { createAdminClient } from "../client.js";
import { registerDemoContent, waitForHealthyClusters } from "./bootstrap.js";
import { alertRuleFiles, prometheusConfigYaml, writeScrapeTargets } from "./prometheus.js";
import { ComponentStartError, ManagedComponent, type ComponentSpec } from "./component.js";
import { dataPaths, demoLayout, type DemoLayout } from "./layout.js";
import {
  acquireLock,
  DemoPhase,
  killComponentProcesses,
  processAlive,
  readDemoState,
  writeDemoState,
  type DemoCluster,
  type DemoState,
} from "./state.js";
import {
  adminConfigYaml,
  DEMO_CLUSTERS,
  DEMO_PROJECTS,
  EXAMPLES_VERSION,
  resourceManagerConfigYaml,
} from "./topology.js";

/** Options of {@link startDemo}. */
export interface DemoOptions {
  /** The demo directory (data, logs, state). */
  dir: string;
  /** Admin port (8088, the CLI's default admin URL); 0 picks a free port. */
  adminPort: number;
  /** Resource manager port (8089 by default); 0 picks a free port. */
  resourceManagerPort: number;
  /** Longest wait for each step (a component's ready line, cluster heartbeats). */
  stepTimeoutMs: number;
  /** Folder of example specs to register (default: the repository's `examples/`). */
  examplesDir?: string;
  /** Progress lines for the person watching. */
  progress?: (line: string) => void;
  /** Aborting it while the demo starts stops what started; `startDemo` then rejects with DemoInterruptedError. */
  signal?: AbortSignal;
  /**
   * Start Prometheus (this executable) on `port` (0 = any free port), scraping every component
   * and evaluating Flotilla's alert rules.
   */
  prometheus?: { binary: string; port: number };
}

/** The start was interrupted (signal) before the demo was ready; nothing is left running. */
export class DemoInterruptedError extends Error {
  override readonly name = "DemoInterruptedError";
  constructor() {
    super("the demo was interrupted while starting; everything it started is stopped");
  }
}

/** The default examples folder: `examples/` at the repository root. */
export const DEFAULT_EXAMPLES_DIR = fileURLToPath(new URL("../../../examples/", import.meta.url));

/** How a running demo ended. */
export interface DemoEnd {
  ok: boolean;
  reason: string;
}

/** A running demo. */
export interface RunningDemo {
  readonly layout: DemoLayout;
  /** The state as last written (phase READY once `startDemo` resolved). */
  readonly state: DemoState;
  /** Stops every component (propellers first, sandbox last), writes STOPPED, releases the lock. */
  stop(reason?: string): Promise<void>;
  /** Resolves when the demo ended: stopped on request, or failed (a fatal component exit). */
  readonly ended: Promise<DemoEnd>;
}

/** A port the demo needs is taken by another process. */
export class PortInUseError extends Error {
  override readonly name = "PortInUseError";
  constructor(
    readonly what: string,
    readonly port: number,
    readonly flag: string,
  ) {
    super(
      `${what} port ${port} on 127.0.0.1 is in use by another process; pass ${flag} to choose another (0 = any free port)`,
    );
  }
}

/** The path of a workspace package's bin, found through its public entry. */
function binOf(pkg: string, bin: string): string {
  return join(dirname(fileURLToPath(import.meta.resolve(pkg))), "..", "bin", `${bin}.js`);
}

/** Returns `port` if it is free on 127.0.0.1 (or a free port when 0); throws PortInUseError. */
async function reservePort(port: number, what: string, flag: string): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once("error", () => reject(new PortInUseError(what, port, flag)));
    server.listen(port, "127.0.0.1", () => {
      const address = server.address();
      const chosen = typeof address === "object" && address ? address.port : port;
      server.close(() => resolvePort(chosen));
    });
  });
}

/**
 * Starts the demo in `options.dir` and resolves once it is READY (state file written, examples
 * registered, every cluster healthy). Throws `DemoAlreadyRunningError` when a live supervisor
 * holds the directory, {@link PortInUseError} for a taken port, `ComponentStartError` when a
 * component does not start; in every failure case nothing is left running.
 */
export async function startDemo(options: DemoOptions): Promise<RunningDemo> {
  const started = Date.now();
  const layout = demoLayout(options.dir);
  const progress = options.progress ?? (() => undefined);
  await mkdir(layout.dir, { recursive: true });
  const releaseLock = await acquireLock(layout);
  const components: ManagedComponent[] = [];
  let state: DemoState | undefined;
  let endDemo: (end: DemoEnd) => void = () => undefined;
  const ended = new Promise<DemoEnd>((r) => (endDemo = r));
  let stopping: Promise<void> | undefined;
  let writing = Promise.resolve();
  const persist = (): void => {
    if (!state) return;
    state.components = components.map((c) => ({ ...c.state }));
    const snapshot = structuredClone(state);
    writing = writing.then(() => writeDemoState(layout, snapshot)).catch(() => undefined);
    if (options.prometheus)
      writing = writing.then(() => writeScrapeTargets(layout, snapshot.components)).catch(() => undefined);
  };

  const stop = (reason = "stopped on request", phase: DemoPhase = DemoPhase.stopped): Promise<void> => {
    stopping ??= (async () => {
      if (state) {
        state.phase = DemoPhase.stopping;
        persist();
      }
      // Prometheus and the propellers first (they drain events to the admin), then the services,
      // the clusters last.
      for (const group of [
        components.filter((c) => c.spec.name.startsWith("propeller-") || c.spec.name === "prometheus"),
        components.filter((c) => c.spec.name === "admin" || c.spec.name === "resource-manager"),
        components.filter((c) => c.spec.name === "sandbox"),
      ]) {
        await Promise.all(group.map((c) => c.stop()));
      }
      if (state) {
        state.phase = phase;
        if (phase === DemoPhase.failed) state.error = reason;
        persist();
      }
      await writing;
      await releaseLock();
      endDemo({ ok: phase !== DemoPhase.failed, reason });
    })();
    return stopping;
  };

  const events = {
    changed: persist,
    fatal: (component: string, reason: string) => {
      progress(`${component} ${reason}; stopping the demo`);
      void stop(`${component} ${reason}`, DemoPhase.failed);
    },
  };
  const component = (spec: Omit<ComponentSpec, "log" | "readyTimeoutMs">): ManagedComponent => {
    if (stopping) throw new DemoInterruptedError();
    const c = new ManagedComponent(
      { ...spec, log: join(layout.logsDir, `${spec.name}.log`), readyTimeoutMs: options.stepTimeoutMs },
      events,
    );
    components.push(c);
    return c;
  };

  const onAbort = (): void => void stop("interrupted while starting");
  options.signal?.addEventListener("abort", onAbort, { once: true });
  try {
    if (options.signal?.aborted) throw new DemoInterruptedError();
    // Components a crashed supervisor left behind would hold the ports and the data.
    const previous = await readDemoState(layout);
    if (previous && !processAlive(previous.pid)) await killComponentProcesses(previous);
    const adminPort = await reservePort(options.adminPort, "admin", "--admin-port");
    const rmPort = await reservePort(options.resourceManagerPort, "resource manager", "--rm-port");
    const prometheusPort = options.prometheus
      ? await reservePort(options.prometheus.port, "Prometheus", "--prometheus-port")
      : undefined;
    for (const path of [...dataPaths(layout), layout.logsDir])
      await rm(path, { recursive: true, force: true });
    for (const path of [layout.logsDir, layout.sandboxDir, layout.blobsDir])
      await mkdir(path, { recursive: true });
    const adminUrl = `http://127.0.0.1:${adminPort}`;
    const rmUrl = `http://127.0.0.1:${rmPort}`;
    state = {
      pid: process.pid,
      dir: layout.dir,
      phase: DemoPhase.starting,
      startedAt: new Date(started).toISOString(),
      adminUrl,
      resourceManagerUrl: rmUrl,
      kubeconfig: layout.kubeconfig,
      clusters: [],
      projects: DEMO_PROJECTS.map((p) => ({ id: p.id, isolation: p.isolation })),
      launchPlans: [],
      workflows: [],
      examplesVersion: EXAMPLES_VERSION,
      components: [],
    };
    persist();

    await writeFile(layout.adminConfig, adminConfigYaml(layout, { adminPort, resourceManagerPort: rmPort }));
    await writeFile(
      layout.resourceManagerConfig,
      resourceManagerConfigYaml(layout, { adminPort, resourceManagerPort: rmPort }),
    );
    // The three start side by side: the admin reads the sandbox's kubeconfig only when it first
    // talks to a cluster, and retries installing the CRD until the clusters answer.
    progress(
      `starting sandbox clusters ${DEMO_CLUSTERS.map((c) => c.name).join(", ")}, admin and resource manager (embedded PGlite)`,
    );
    const sandbox = component({
      name: "sandbox",
      bin: binOf("@flotilla/sandbox", "flotilla-sandbox"),
      args: [
        "--clusters",
        DEMO_CLUSTERS.map((c) => c.name).join(","),
        "--state-dir",
        layout.sandboxDir,
        "--mode",
        "process",
      ],
      readyLine: /^ready$/,
      restartable: false,
    });
    const admin = component({
      name: "admin",
      bin: binOf("@flotilla/admin", "flotilla-admin"),
      args: ["--config", layout.adminConfig],
      readyLine: /^listening on (\S+)/,
      restartable: true,
      env: serviceEnv("flotilla-admin"),
    });
    const rmComponent = component({
      name: "resource-manager",
      bin: binOf("@flotilla/resource-manager", "flotilla-resource-manager"),
      args: ["--config", layout.resourceManagerConfig],
      readyLine: /^resource-manager listening on (\S+)/,
      restartable: true,
      env: serviceEnv("flotilla-resource-manager"),
    });
    const resourceManagerReady = rmComponent.start();
    // Awaited below with the propellers; until then a failure must not count as unhandled.
    resourceManagerReady.catch(() => undefined);
    await Promise.all([sandbox.start(), admin.start()]);
    state.clusters = await clustersOf(layout);
    sandbox.state.url = state.clusters.map((c) => c.url).join(" ");

    progress("starting a propeller per cluster; registering the projects and examples");
    const client = await createAdminClient(adminUrl);
    const registering = registerDemoContent(client, options.examplesDir ?? DEFAULT_EXAMPLES_DIR);
    const propellers = Promise.all(
      DEMO_CLUSTERS.map(async (c) => {
        const p = component({
          name: `propeller-${c.name}`,
          bin: binOf("@flotilla/propeller", "flotilla-propeller"),
          args: [
            "--kubeconfig",
            layout.kubeconfig,
            "--context",
            c.name,
            "--cluster-id",
            c.name,
            "--admin-url",
            adminUrl,
            "--resource-manager-url",
            rmUrl,
            "--blob-store",
            `file://${layout.blobsDir}`,
            "--metrics-port",
            "0",
            // One replica per cluster, supervised: no Lease to wait out after a crash.
            "--no-leader-election",
          ],
          readyLine: /^propeller ready .*?(?:metrics=(\S+))?$/,
          restartable: true,
          env: serviceEnv("flotilla-propeller", { "flotilla.cluster": c.name }),
        });
        await p.start();
      }),
    );
    const [registered] = await Promise.all([registering, propellers, resourceManagerReady]);
    progress("waiting for every cluster's first heartbeat");
    await waitForHealthyClusters(client, options.stepTimeoutMs);
    if (options.prometheus && prometheusPort !== undefined) {
      progress("starting Prometheus: it scrapes every component and evaluates the alert rules");
      const prometheusUrl = `http://127.0.0.1:${prometheusPort}`;
      await writeScrapeTargets(
        layout,
        components.map((c) => c.state),
      );
      await writeFile(layout.prometheusConfig, prometheusConfigYaml(layout, await alertRuleFiles()));
      const prometheus = component({
        name: "prometheus",
        bin: "",
        command: options.prometheus.binary,
        args: [
          `--config.file=${layout.prometheusConfig}`,
          `--storage.tsdb.path=${layout.prometheusDataDir}`,
          `--web.listen-address=127.0.0.1:${prometheusPort}`,
          "--storage.tsdb.retention.time=1d",
        ],
        readyLine: /Server is ready to receive web requests/,
        restartable: true,
      });
      prometheus.state.url = prometheusUrl;
      await prometheus.start();
      state.prometheusUrl = prometheusUrl;
    }
    state.launchPlans = registered.launchPlans;
    state.workflows = registered.workflows;
    state.phase = DemoPhase.ready;
    state.readyAt = new Date().toISOString();
    state.readyAfterMs = Date.now() - started;
    if (stopping) throw new DemoInterruptedError();
    persist();
    await writing;
  } catch (err) {
    const interrupted = stopping !== undefined && options.signal?.aborted === true;
    await stop(
      err instanceof Error ? err.message : String(err),
      interrupted ? DemoPhase.stopped : DemoPhase.failed,
    );
    throw interrupted ? new DemoInterruptedError() : err;
  } finally {
    options.signal?.removeEventListener("abort", onAbort);
  }
  const readyState = state;
  return {
    layout,
    get state() {
      return readyState;
    },
    stop: (reason) => stop(reason),
    ended,
  };
}

/** The clusters of the sandbox's kubeconfig with the demo's labels. */
async function clustersOf(layout: DemoLayout): Promise<DemoCluster[]> {
  const doc = parse(await readFile(layout.kubeconfig, "utf8")) as {
    clusters?: Array<{ name: string; cluster: { server: string } }>;
  };
  return DEMO_CLUSTERS.map((c) => {
    const entry = doc.clusters?.find((k) => k.name === c.name);
    if (!entry) throw new Error(`the sandbox kubeconfig ${layout.kubeconfig} has no cluster ${c.name}`);
    return { name: c.name, url: entry.cluster.server, labels: c.labels };
  });
}

export { ComponentStartError };

/**
 * The environment of a demo service: the supervisor's own, plus — when `OTEL_*` turns tracing on
 * — the service's `OTEL_SERVICE_NAME` (one name per service even when the user set one for
 * flotctl) and `attributes` added to `OTEL_RESOURCE_ATTRIBUTES` (a propeller's cluster).
 */
export function serviceEnv(
  serviceName: string,
  attributes: Record<string, string> = {},
  env: NodeJS.ProcessEnv = process.env,
): NodeJS.ProcessEnv {
  if (!tracingEnabled(env)) return env;
  const extra = Object.entries(attributes).map(([k, v]) => `${k}=${encodeURIComponent(v)}`);
  const resourceAttributes = [env.OTEL_RESOURCE_ATTRIBUTES ?? "", ...extra].filter((a) => a !== "").join(",");
  return {
    ...env,
    OTEL_SERVICE_NAME: serviceName,
    ...(resourceAttributes !== "" ? { OTEL_RESOURCE_ATTRIBUTES: resourceAttributes } : {}),
  };
}
