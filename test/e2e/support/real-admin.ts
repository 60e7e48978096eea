/**
 * The real admin for end-to-end tests: the `flotilla-admin` bin as its own process, on a fresh
 * database of the real PostgreSQL server, placing executions on the given sandbox clusters. Tests
 * register workflows and create executions through its RPCs, as a user would, and read what it
 * stored (phases, the event log) back through them — so delivery guarantees are proven against
 * the admin's phase rules, cluster check and database, not against a stand-in that accepts all.
 *
 * It listens on a port chosen once, so it can be stopped (gracefully or with SIGKILL) and started
 * again at the URL its propellers already know.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  ExecutionSpecSchema,
  GetExecutionRequestSchema,
  ListExecutionEventsRequestSchema,
  ProjectSchema,
  WorkflowExecution_Phase,
  type CompiledWorkflowClosure,
  type StoredEvent,
  type WorkflowExecutionIdentifier,
} from "@flotilla/proto";
import { adminTransport, createAdminClient, type AdminClient } from "@flotilla/propeller";
import {
  eventually,
  freePort,
  scratchDatabase,
  scrapeMetric,
  spawnBin,
  tempDir,
  type AfterHook,
  type ExitStatus,
  type SpawnedBin,
} from "@flotilla/testing";

/** Options of {@link startRealAdmin}. */
export interface RealAdminOptions {
  /**
   * Clusters the admin may place executions on: the name its propeller reports, a kubeconfig,
   * and optionally labels and a price table (`clusters[].labels` / `clusters[].prices` of the config).
   */
  clusters: {
    name: string;
    kubeconfig: string;
    labels?: Record<string, string>;
    prices?: { cpuCoreHour?: number; memoryGibHour?: number; gpuHour?: number };
  }[];
  /** The test (or suite); the process, database and files are removed when it ends. */
  t: AfterHook;
  /** Further top-level config sections (for example `registry: { maxWorkflowNodes: 20000 }`). */
  settings?: Record<string, unknown>;
}

/** A running (or stopped, between `stop` and `start`) real admin. */
export interface RealAdmin {
  /** Base URL, `http://127.0.0.1:<port>`; the same across restarts. */
  readonly url: string;
  /** Client of its AdminService (Connect over HTTP/1.1). */
  readonly client: AdminClient;
  /** Its file blob store root, shared with the propellers of the test. */
  readonly blobRoot: string;
  /** Starts the process again (after `stop`) on the same port and database; resolves when it listens. */
  start(): Promise<void>;
  /** Stops the process: SIGTERM lets it finish in-flight requests, SIGKILL does not. */
  stop(signal?: NodeJS.Signals): Promise<ExitStatus>;
  /** Sum of the samples of one metric on its /metrics whose labels include `labels`. */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
}

// A port freed a moment ago may still be held by a closing connection, or taken by another
// process between our probe and the admin's bind; the start is retried for this long.
const START_TIMEOUT_MS = 30_000;

/**
 * Starts the `flotilla-admin` bin on 127.0.0.1 with a fresh PostgreSQL database (it applies its
 * own migrations), a temporary blob store and `options.clusters` in its config. Returns once it
 * printed its `listening on` line.
 */
export async function startRealAdmin(options: RealAdminOptions): Promise<RealAdmin> {
  const database = await scratchDatabase({ prefix: "flotilla_e2e_admin_", t: options.t });
  const dir = tempDir({ prefix: "e2e-admin-", t: options.t });
  const blobRoot = pathToFileURL(join(dir.path, "blobs")).href;
  const configPath = join(dir.path, "admin.json");
  let port = await freePort();
  const writeConfig = () =>
    writeFileSync(
      configPath,
      JSON.stringify({
        server: { host: "127.0.0.1", port, shutdownGrace: "5s" },
        database: { url: database.url },
        blobStore: { url: blobRoot },
        clusters: options.clusters.map((c) => ({
          name: c.name,
          kubeconfigInline: c.kubeconfig,
          ...(c.labels ? { labels: c.labels } : {}),
          ...(c.prices ? { prices: c.prices } : {}),
        })),
        ...options.settings,
      }),
    );
  let child: SpawnedBin | undefined;
  const spawn = async () => {
    writeConfig();
    child = await spawnBin("flotilla-admin", ["--config", configPath], {
      readyLine: /^listening on /,
      t: options.t,
      timeout: START_TIMEOUT_MS,
    });
  };
  // The first start may pick another port if the probed one was taken; a restart must not.
  await eventually(
    async () => {
      try {
        await spawn();
      } catch (err) {
        port = await freePort();
        throw err;
      }
    },
    { timeout: START_TIMEOUT_MS, interval: 200 },
  );
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    client: createAdminClient(adminTransport(url)),
    blobRoot,
    start: () => eventually(spawn, { timeout: START_TIMEOUT_MS, interval: 200 }),
    async stop(signal: NodeJS.Signals = "SIGTERM") {
      if (!child) throw new Error("the admin is not running");
      const status = await child.stop({ signal, grace: signal === "SIGKILL" ? 0 : 10_000 });
      child = undefined;
      return status;
    },
    metric: (name, labels) => scrapeMetric(url, name, labels),
  };
}

/**
 * Registers `project` (if new) and the closure's tasks and workflows, as `flotctl register`
 * would. Returns the primary workflow's identifier.
 */
export async function registerClosure(
  client: AdminClient,
  closure: CompiledWorkflowClosure,
): Promise<NonNullable<NonNullable<CompiledWorkflowClosure["primary"]>["template"]>["id"]> {
  const template = closure.primary?.template;
  if (!template?.id) throw new Error("registerClosure: the closure has no primary workflow template");
  try {
    await client.registerProject({ project: create(ProjectSchema, { id: template.id.project }) });
  } catch (err) {
    if (!(err instanceof ConnectError && err.code === Code.AlreadyExists)) throw err;
  }
  for (const task of closure.tasks) if (task.template) await client.createTask({ template: task.template });
  await client.createWorkflow({
    template,
    subWorkflows: closure.subWorkflows.flatMap((w) => (w.template ? [w.template] : [])),
  });
  return template.id;
}

/** Creates one execution of `workflowId` per name through CreateExecution, `concurrency` at a time. */
export async function createExecutions(
  client: AdminClient,
  workflowId: Awaited<ReturnType<typeof registerClosure>>,
  names: readonly string[],
  concurrency = 8,
): Promise<WorkflowExecutionIdentifier[]> {
  if (!workflowId) throw new Error("createExecutions: no workflow id");
  const ids: WorkflowExecutionIdentifier[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < names.length) {
        const name = names[next++] ?? "";
        const res = await client.createExecution({
          project: workflowId.project,
          domain: workflowId.domain,
          name,
          spec: create(ExecutionSpecSchema, { target: { case: "workflow", value: workflowId } }),
        });
        if (!res.id) throw new Error(`CreateExecution ${name} answered no id`);
        ids.push(res.id);
      }
    }),
  );
  return ids;
}

/** The workflow phase the admin holds for execution `id`. */
export async function adminPhase(
  client: AdminClient,
  id: WorkflowExecutionIdentifier,
): Promise<WorkflowExecution_Phase> {
  const res = await client.getExecution(create(GetExecutionRequestSchema, { id }));
  return res.execution?.closure?.phase ?? WorkflowExecution_Phase.UNSPECIFIED;
}

/** Every event the admin logged for execution `id`, in sequence (arrival) order. */
export async function eventLog(client: AdminClient, id: WorkflowExecutionIdentifier): Promise<StoredEvent[]> {
  const events: StoredEvent[] = [];
  let pageToken = "";
  do {
    const res = await client.listExecutionEvents(
      create(ListExecutionEventsRequestSchema, { executionId: id, pageSize: 1000, pageToken }),
    );
    events.push(...res.events);
    pageToken = res.nextPageToken;
  } while (pageToken);
  return events;
}

/** Phase versions of the node events of `nodeId` in a log, in arrival order. */
export function nodeEventVersions(log: readonly StoredEvent[], nodeId: string): number[] {
  return log.flatMap((s) =>
    s.event?.event.case === "nodeEvent" && s.event.event.value.id?.nodeId === nodeId
      ? [s.event.event.value.phaseVersion]
      : [],
  );
}

/** Phase versions of the task events of node `nodeId` in a log, in arrival order. */
export function taskEventVersions(log: readonly StoredEvent[], nodeId: string): number[] {
  return log.flatMap((s) =>
    s.event?.event.case === "taskEvent" && s.event.event.value.id?.nodeExecutionId?.nodeId === nodeId
      ? [s.event.event.value.phaseVersion]
      : [],
  );
}

/** Workflow phases of the workflow events in a log, in arrival order. */
export function workflowEventPhases(log: readonly StoredEvent[]): WorkflowExecution_Phase[] {
  return log.flatMap((s) => (s.event?.event.case === "workflowEvent" ? [s.event.event.value.phase] : []));
}
