/**
 * Assembles and runs one propeller: informers → workqueue → N round workers, the event sink
 * and heartbeat to the admin, leader election, resync, garbage collection and metrics.
 */
import { hostname } from "node:os";
import { randomUUID } from "node:crypto";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { Transport } from "@connectrpc/connect";
import {
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  type V1Pod,
} from "@kubernetes/client-node";
import {
  Labels,
  MANAGED_BY,
  WorkflowExecutionResource as R,
  openBlobStore,
  silentLogger,
  type BlobStore,
  type Logger,
} from "@flotilla/common";
import { LiteralMapSchema, type LiteralMap } from "@flotilla/proto";
import { startServer, type Readiness, type RunningServer } from "@flotilla/runtime";
import { adminEventTransport, adminTransport, createAdminClient } from "../clients/admin-client.js";
import {
  createResourceManagerBroker,
  resourceManagerTransport,
  type ResourceManagerBatchOptions,
} from "../clients/resource-manager-broker.js";
import { EventSink, type EventSinkOptions } from "../events/event-sink.js";
import { PodIndex, WorkflowCache, type WorkflowExecutionCr } from "../informers/caches.js";
import { ResilientInformer } from "../informers/informer.js";
import { PropellerMetrics, RoundOutcome } from "../metrics.js";
import { createWorkQueue, QueueShutDownError, type WorkQueue } from "../queue/workqueue.js";
import { defaultNodeHandlers } from "../workflow/executor.js";
import {
  DEFAULT_EXECUTOR_CONFIG,
  type ExecutorConfig,
  type TaskIO,
  type TokenBroker,
} from "../workflow/ports.js";
import { DEFAULT_STATUS_BUDGET, type StatusBlobs, type StatusBudget } from "../workflow/status-codec.js";
import { startHeartbeat } from "./heartbeat.js";
import { KubePods, KubeWorkflowExecutions } from "./kube.js";
import { DEFAULT_LEADER_ELECTION, LeaderElector, type LeaderElectionOptions } from "./leader-election.js";
import { RoundRunner, stoppedAtOf } from "./round.js";
import { SpecCache } from "./spec-cache.js";

/** The propeller's version, reported in heartbeats. */
export const PROPELLER_VERSION = "0.1.0";

/**
 * Concurrent round slots when none are configured. Rounds mostly wait on the API server, so more
 * slots only lengthen its queue: on the sandbox, 10,000 workflows ran at 279 tasks/s with round
 * p99 0.49 s on 32 slots, against 246 tasks/s and 1.06 s on 64 (`npm run bench -- propeller`).
 */
export const DEFAULT_ROUND_WORKERS = 32;

/** Options of {@link startPropeller}. */
export interface PropellerOptions {
  /** Kubeconfig YAML text, a path to a kubeconfig file, or a loaded KubeConfig. */
  kubeconfig: string | KubeConfig;
  /** Kubeconfig context to use (default: the current context). */
  context?: string;
  /** The registered cluster name this propeller runs in (events are produced as it). */
  clusterId: string;
  /** Admin URL (Connect/gRPC) or a ready transport (tests use an in-process one). */
  admin: { url: string } | { transport: Transport };
  /**
   * Resource manager URL or transport; without it, tasks needing external resources fail clearly.
   * `batch` tunes how concurrent acquires / releases are coalesced into AllocateBatch /
   * ReleaseBatch; `false` sends one unary call each (see createResourceManagerBroker).
   */
  resourceManager?: ({ url: string } | { transport: Transport }) & {
    batch?: ResourceManagerBatchOptions | false;
  };
  /** Blob store root for task I/O (default `file:///`, which serves any local file URI). */
  blobStoreUrl?: string;
  /** Concurrent round slots. Default {@link DEFAULT_ROUND_WORKERS}. */
  workers?: number;
  /**
   * Serve `/metrics`, `/healthz` and `/readyz` on this port (the runtime's server, started
   * before the caches sync so `/readyz` can say why it is not ready yet); 0 picks a free one.
   * Unset: no server.
   */
  metricsPort?: number;
  /** Address of the metrics server. Default 127.0.0.1 (use 0.0.0.0 in a cluster). */
  metricsHost?: string;
  /** Leader election; `false` disables it (a single replica drives everything). */
  leaderElection?: Partial<LeaderElectionOptions> | false;
  /** Re-enqueue every cached workflow this often. Default 60 s. */
  resyncPeriodMs?: number;
  /** Delete terminated CRs this long after they stopped. Default 24 h. */
  terminatedTtlMs?: number;
  /** How often to look for expired terminated CRs. Default 60 s. */
  gcIntervalMs?: number;
  /** Heartbeat interval. Default 5 s. */
  heartbeatIntervalMs?: number;
  /** CR size budgets. */
  statusBudget?: Partial<StatusBudget>;
  /** Executor tunables. */
  executor?: Partial<Omit<ExecutorConfig, "clusterId">>;
  /** Event buffer tunables. */
  events?: Omit<EventSinkOptions, "metrics" | "log">;
  /** Delete pods of finished attempts once persisted (default true). */
  deleteFinishedPods?: boolean;
  /** Register prom-client's process metrics (default true). */
  processMetrics?: boolean;
  /** Hooks for benchmarks and tests: every round's outcome and latency, every status write's size. */
  observer?: {
    onRound?(outcome: RoundOutcome, seconds: number): void;
    onStatusWritten?(key: string, objectBytes: number, encoding: string): void;
  };
  /**
   * Where the propeller logs (default silent, for tests and embedders); its lines carry
   * `cluster`, and `execution` when they are about one execution.
   */
  logger?: Logger;
}

/** A running propeller. */
export interface Propeller {
  readonly clusterId: string;
  /** Leader-election identity of this replica. */
  readonly identity: string;
  readonly metrics: PropellerMetrics;
  /** `http://host:port` of the metrics and health server, when started. */
  readonly metricsUrl: string | undefined;
  /** The event buffer (depth, acknowledgements). */
  readonly events: EventSink;
  /** Whether this replica leads (and runs rounds). */
  isLeader(): boolean;
  /** Workqueue depth and in-flight rounds. */
  queueStats(): { depth: number; processing: number; delayed: number };
  /** Number of cached (non-terminated) workflows and pods. */
  cacheStats(): { workflows: number; pods: number };
  /**
   * Stops rounds, informers, heartbeat and the metrics and health server; drains buffered events for up to
   * `drainMs` (default 5 s) and releases the leader lease.
   */
  stop(drainMs?: number): Promise<void>;
}

function loadKubeConfig(source: string | KubeConfig, context: string | undefined): KubeConfig {
  let kc: KubeConfig;
  if (source instanceof KubeConfig) kc = source;
  else {
    kc = new KubeConfig();
    if (/^\s*(apiVersion|kind|clusters|current-context)\s*:/m.test(source) || source.includes("\n"))
      kc.loadFromString(source);
    else kc.loadFromFile(source);
  }
  if (context) kc.setCurrentContext(context);
  reuseConnections(kc);
  return kc;
}

type AgentFactory = (cluster: { server: string }, options: Record<string, unknown>) => unknown;

/**
 * client-node 1.x builds a new HTTP(S) agent — a new TCP/TLS connection — for every request.
 * At thousands of requests per second that doubles the client CPU per call, so the agent is
 * created once per API server with keep-alive (same TLS material; auth headers are per request).
 */
function reuseConnections(kc: KubeConfig): void {
  const target = kc as unknown as { createAgent?: AgentFactory };
  const original = target.createAgent?.bind(kc);
  if (!original) return;
  const agents = new Map<string, unknown>();
  target.createAgent = (cluster, options) => {
    let agent = agents.get(cluster.server);
    if (!agent) {
      agent = original(cluster, { ...options, keepAlive: true });
      agents.set(cluster.server, agent);
    }
    return agent;
  };
}

function blobTaskIO(store: BlobStore): TaskIO & StatusBlobs {
  return {
    async readLiteralMap(uri: string): Promise<LiteralMap> {
      return fromBinary(LiteralMapSchema, await store.get(uri));
    },
    async writeLiteralMap(uri: string, map: LiteralMap): Promise<void> {
      await store.put(uri, toBinary(LiteralMapSchema, create(LiteralMapSchema, map)));
    },
    async readText(uri: string): Promise<string | undefined> {
      if (!(await store.exists(uri))) return undefined;
      return new TextDecoder().decode(await store.get(uri));
    },
    async writeText(uri: string, text: string): Promise<void> {
      await store.put(uri, text);
    },
    join: (base, ...parts) => store.join(base, ...parts),
    localPath: (uri) => store.localPath(uri),
    put: (uri, data) => store.put(uri, data),
    get: (uri) => store.get(uri),
    delete: (uri) => store.delete(uri),
  };
}

/**
 * Starts a propeller. Resolves once the informer caches synced and (when leader election is
 * on) the campaign started; rounds run only while this replica leads. `/readyz` answers 503
 * with the reason until the caches synced and the election decided whether this replica leads
 * or stands by; both roles are ready (a standby is healthy and takes over on its own).
 * Side effects: watches the cluster, creates/deletes pods, writes CR status, calls the admin,
 * listens on `metricsPort` when set.
 */
export async function startPropeller(options: PropellerOptions): Promise<Propeller> {
  const clusterId = options.clusterId;
  const logger = (options.logger ?? silentLogger).child({ cluster: clusterId });
  const kc = loadKubeConfig(options.kubeconfig, options.context);
  const metrics = new PropellerMetrics(clusterId, { defaultMetrics: options.processMetrics ?? true });
  const identity = `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  const store = openBlobStore(options.blobStoreUrl ?? "file:///");
  const io = blobTaskIO(store);

  const adminT = "url" in options.admin ? adminTransport(options.admin.url) : options.admin.transport;
  const adminClient = createAdminClient(adminT);
  const events = new EventSink(adminEventTransport(adminClient, clusterId), {
    ...options.events,
    metrics,
    logger,
  });
  events.start();

  const executor: ExecutorConfig = { ...DEFAULT_EXECUTOR_CONFIG, ...options.executor, clusterId };
  let tokens: TokenBroker | undefined;
  if (options.resourceManager) {
    const t =
      "url" in options.resourceManager
        ? resourceManagerTransport(options.resourceManager.url)
        : options.resourceManager.transport;
    tokens = createResourceManagerBroker(t, {
      ttlMs: executor.tokenLeaseTtlMs,
      metrics,
      ...(options.resourceManager.batch !== undefined ? { batch: options.resourceManager.batch } : {}),
    });
  }

  const workflows = new WorkflowCache(metrics);
  const pods = new PodIndex(metrics);
  const newQueue = (): WorkQueue =>
    createWorkQueue({
      metrics: {
        onAdd: () => metrics.queueAdds.inc(),
        onRetry: () => metrics.queueRetries.inc(),
        onDepth: (d) => metrics.queueDepth.set(d),
      },
    });
  // Replaced by a fresh queue whenever leadership is (re)gained; shut down when it is lost.
  let queue: WorkQueue = newQueue();
  const crs = new KubeWorkflowExecutions(kc);
  const podPort = new KubePods(kc, {
    onCreated: (ns, name) => pods.noteCreated(ns, name),
    onDeleting: (ns, name) => pods.expectDelete(ns, name),
  });
  const runner = new RoundRunner({
    workflows,
    pods,
    crs,
    podPort,
    io,
    blobs: io,
    ...(tokens ? { tokens } : {}),
    events,
    metrics,
    specs: new SpecCache(io),
    executor,
    handlers: defaultNodeHandlers(),
    statusBudget: { ...DEFAULT_STATUS_BUDGET, ...options.statusBudget },
    deleteFinishedPods: options.deleteFinishedPods ?? true,
    ...(options.observer?.onStatusWritten
      ? {
          onStatusWritten: (key: string, bytes: number, enc: string) =>
            options.observer?.onStatusWritten?.(key, bytes, enc),
        }
      : {}),
    logger,
  });

  let leading = false;
  const enqueue = (key: string | undefined): void => {
    if (key && leading) queue.add(key);
  };

  const custom = kc.makeApiClient(CustomObjectsApi);
  const core = kc.makeApiClient(CoreV1Api);
  const crSelector = `${Labels.terminated}!=true`;
  const podSelector = `${Labels.managedBy}=${MANAGED_BY}`;
  // An informer feeding `cache`; every change enqueues the workflow it concerns.
  const informer = <T extends KubernetesObject>(
    name: string,
    path: string,
    labelSelector: string,
    list: () => Promise<KubernetesListObject<T>>,
    cache: { upsert(o: T): string | undefined; remove(o: T): string | undefined },
  ) =>
    new ResilientInformer<T>({
      name,
      kubeConfig: kc,
      path,
      labelSelector,
      list,
      metrics,
      logger,
      handlers: {
        onAdd: (o) => enqueue(cache.upsert(o)),
        onUpdate: (o) => enqueue(cache.upsert(o)),
        onDelete: (o) => enqueue(cache.remove(o)),
      },
    });
  const wfInformer = informer<WorkflowExecutionCr>(
    "workflows",
    `/apis/${R.group}/${R.version}/${R.plural}`,
    crSelector,
    async () =>
      (await custom.listClusterCustomObject({
        group: R.group,
        version: R.version,
        plural: R.plural,
        labelSelector: crSelector,
      })) as KubernetesListObject<WorkflowExecutionCr>,
    workflows,
  );
  const podInformer = informer<V1Pod>(
    "pods",
    "/api/v1/pods",
    podSelector,
    () => core.listPodForAllNamespaces({ labelSelector: podSelector }),
    pods,
  );

  let elector: LeaderElector | undefined;
  // Ready once the caches synced and this replica knows its role; a standby counts as ready.
  const readiness = (): Readiness => {
    const notSynced = wfInformer.notSyncedReason() ?? podInformer.notSyncedReason();
    if (notSynced !== undefined) return { ready: false, reason: notSynced };
    if (options.leaderElection !== false && !elector?.isDecided())
      return { ready: false, reason: "leader election has not decided yet" };
    return { ready: true };
  };
  let server: RunningServer | undefined;
  if (options.metricsPort !== undefined) {
    server = await startServer({
      host: options.metricsHost ?? "127.0.0.1",
      port: options.metricsPort,
      logger,
      registry: metrics.registry,
      readiness,
    });
    logger.info("serving /metrics, /healthz and /readyz", { url: server.url });
  }
  try {
    await Promise.all([wfInformer.start(), podInformer.start()]);
  } catch (err) {
    await Promise.all([wfInformer.stop(), podInformer.stop(), events.stop(0), server?.close(0)]);
    throw err;
  }

  // Workers: N round slots pulling keys from the queue.
  const workerCount = Math.max(1, options.workers ?? DEFAULT_ROUND_WORKERS);
  let free = workerCount;
  metrics.freeWorkers.set(free);
  let workerLoops: Promise<void>[] = [];
  let queueShut = false;
  const worker = async (q: WorkQueue): Promise<void> => {
    for (;;) {
      let key: string;
      try {
        key = await q.get();
      } catch (err) {
        if (err instanceof QueueShutDownError) return;
        throw err;
      }
      free--;
      metrics.freeWorkers.set(free);
      const started = performance.now();
      try {
        const result = await runner.run(key);
        const seconds = (performance.now() - started) / 1000;
        metrics.observeRound(result.outcome, seconds);
        options.observer?.onRound?.(result.outcome, seconds);
        q.forget(key);
        if (result.outcome !== RoundOutcome.notFound && result.requeueAfterMs !== undefined)
          q.addAfter(key, result.requeueAfterMs);
      } catch (err) {
        const seconds = (performance.now() - started) / 1000;
        metrics.observeRound(RoundOutcome.error, seconds);
        options.observer?.onRound?.(RoundOutcome.error, seconds);
        const retries = q.retries(key);
        if (retries === 0 || retries % 10 === 0)
          logger.warn("round failed; retrying with backoff", {
            execution: key,
            retry: retries + 1,
            error: err,
          });
        q.addRateLimited(key);
      } finally {
        q.done(key);
        free++;
        metrics.freeWorkers.set(free);
      }
    }
  };

  const startLeading = (): void => {
    if (leading) return;
    leading = true;
    metrics.isLeader.set(1);
    if (queueShut) {
      queue = newQueue();
      queueShut = false;
    }
    const q = queue;
    workerLoops = Array.from({ length: workerCount }, () => worker(q));
    for (const key of workflows.keys()) queue.add(key);
    logger.info("leading", { identity, workflows: workflows.size() });
  };
  const stopLeading = (): void => {
    if (!leading) return;
    leading = false;
    metrics.isLeader.set(0);
    // The queue stops handing out keys; rounds in flight finish; a fresh queue is used if leadership returns.
    queue.shutDown();
    queueShut = true;
  };

  if (options.leaderElection === false) startLeading();
  else {
    elector = new LeaderElector(
      kc,
      { ...DEFAULT_LEADER_ELECTION, identity, ...options.leaderElection },
      {
        onStartedLeading: startLeading,
        onStoppedLeading: stopLeading,
      },
      logger,
    );
    elector.start();
  }

  // Resync: re-enqueue every cached workflow periodically (short-circuit rounds make it cheap).
  const resync = setInterval(() => {
    if (!leading) return;
    for (const key of workflows.keys()) queue.add(key);
  }, options.resyncPeriodMs ?? 60_000);

  // Gauges: workflows by phase, queue state.
  const gauges = setInterval(() => {
    const counts = new Map<string, number>();
    for (const o of workflows.values()) {
      const phase = ((o.status as { phase?: string } | undefined)?.phase ?? "PHASE_UNSPECIFIED")
        .replace(/^PHASE_/, "")
        .toLowerCase();
      counts.set(phase, (counts.get(phase) ?? 0) + 1);
    }
    metrics.workflows.reset();
    for (const [phase, n] of counts) metrics.workflows.set({ phase }, n);
    metrics.queueDepth.set(queue.depth());
    metrics.queueDelayed.set(queue.delayed());
    metrics.queueUnfinishedWork.set(queue.oldestProcessingAgeMs() / 1000);
    metrics.eventBufferDepth.set(events.depth());
  }, 5_000);

  // Garbage collection of terminated CRs after their TTL (leader only).
  const ttl = options.terminatedTtlMs ?? 24 * 3600_000;
  let gcRunning = false;
  const gc = setInterval(() => {
    if (!leading || gcRunning) return;
    gcRunning = true;
    void (async () => {
      try {
        const done = await crs.list(`${Labels.terminated}=true`);
        for (const o of done) {
          const stopped = stoppedAtOf(o);
          if (stopped && Date.now() - stopped.getTime() >= ttl) {
            await crs.delete(o.metadata?.namespace ?? "", o.metadata?.name ?? "");
            metrics.garbageCollected.inc();
          }
        }
      } catch (err) {
        logger.warn("garbage collection failed", { error: err });
      } finally {
        gcRunning = false;
      }
    })();
  }, options.gcIntervalMs ?? 60_000);

  const heartbeat = startHeartbeat({
    client: adminClient,
    kubeConfig: kc,
    clusterId,
    version: PROPELLER_VERSION,
    intervalMs: options.heartbeatIntervalMs ?? 5_000,
    metrics,
    logger,
    snapshot: () => ({
      queueDepth: queue.depth(),
      activeWorkflows: workflows.size(),
      healthy: !events.isFailing() && wfInformer.hasSynced() && podInformer.hasSynced(),
      message: events.isFailing()
        ? `event delivery failing; ${events.depth()} buffered`
        : leading
          ? "leading"
          : "standby",
    }),
    onAbortRequested: (names) => {
      const wanted = new Set(names);
      for (const o of workflows.values()) {
        if (!wanted.has(o.metadata?.name ?? "")) continue;
        const key = `${o.metadata?.namespace ?? ""}/${o.metadata?.name ?? ""}`;
        runner.requestAbort(key, "terminated by the admin");
        enqueue(key);
      }
    },
  });

  let stopping: Promise<void> | undefined;
  return {
    clusterId,
    identity,
    metrics,
    metricsUrl: server?.url,
    events,
    isLeader: () => leading,
    queueStats: () => ({ depth: queue.depth(), processing: queue.processing(), delayed: queue.delayed() }),
    cacheStats: () => ({ workflows: workflows.size(), pods: pods.size() }),
    stop(drainMs = 5_000) {
      stopping ??= (async () => {
        clearInterval(resync);
        clearInterval(gauges);
        clearInterval(gc);
        stopLeading();
        queue.shutDown();
        await Promise.allSettled(workerLoops);
        if (elector) await elector.stop(true);
        await heartbeat.stop();
        await Promise.all([wfInformer.stop(), podInformer.stop()]);
        await events.stop(drainMs);
        await server?.close(2_000);
      })();
      return stopping;
    },
  };
}
