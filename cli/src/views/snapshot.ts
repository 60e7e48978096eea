/**
 * A point-in-time view of an execution with its node tree and task attempts, as read from the
 * admin (GetExecution, ListNodeExecutions per level, ListTaskExecutions per task node). Shared
 * by `get executions --details` and `watch execution`.
 */
import {
  NodeExecution_Phase,
  TaskExecution_Phase,
  WorkflowExecution_Phase,
  type Execution,
  type NodeExecution,
  type TaskExecution,
  type WorkflowExecutionIdentifier,
} from "@flotilla/proto";
import type { AdminClient } from "../client.js";
import type { Duration, Timestamp } from "@bufbuild/protobuf/wkt";
import { literalMapToValues } from "../literals.js";
import { durationToMs, formatTime, phaseName } from "../output/format.js";

/** One attempt of a task node. */
export interface AttemptView {
  attempt: number;
  phase: string;
  durationMs: number;
  podName: string;
  reason: string;
  error: string;
  /** The attempt's cost in micro-dollars once the admin priced it (0 before it ended). */
  costMicros: number;
}

/** One node with its attempts and sub-nodes. */
export interface NodeView {
  id: string;
  name: string;
  task: string;
  phase: string;
  startedAt: string;
  durationMs: number;
  retries: number;
  error: string;
  message: string;
  attempts: AttemptView[];
  children: NodeView[];
}

/** An execution and its node tree. */
export interface ExecutionView {
  id: { project: string; domain: string; name: string };
  phase: string;
  terminal: boolean;
  cluster: string;
  clusterLabel: string;
  workflow: string;
  launchPlan: string;
  createdAt: string;
  startedAt: string;
  durationMs: number;
  message: string;
  error: string;
  nodes: NodeView[];
  /** Inputs and (once succeeded) outputs as plain values, when the admin inlines them. */
  inputs?: Record<string, unknown>;
  outputs?: Record<string, unknown>;
}

const TERMINAL = new Set(["SUCCEEDED", "FAILED", "ABORTED", "TIMED_OUT"]);

/** Whether a workflow phase name is terminal. */
export function isTerminalPhase(phase: string): boolean {
  return TERMINAL.has(phase);
}

async function listAll<T>(page: (token: string) => Promise<{ items: T[]; next: string }>): Promise<T[]> {
  const out: T[] = [];
  let token = "";
  for (let i = 0; i < 1000; i++) {
    const r = await page(token);
    out.push(...r.items);
    if (!r.next) break;
    token = r.next;
  }
  return out;
}

function errorText(e: { code: string; message: string } | undefined): string {
  return e && (e.code || e.message) ? `${e.code}${e.message ? `: ${e.message}` : ""}` : "";
}

const NODE_TERMINAL = new Set(["SUCCEEDED", "FAILED", "ABORTED", "TIMED_OUT", "SKIPPED", "RECOVERED"]);

/** The recorded duration, or for a running entity the time since it started. */
function elapsedMs(
  duration: Duration | undefined,
  startedAt: Timestamp | undefined,
  phase: string,
  now: number,
): number {
  const recorded = durationToMs(duration);
  if (recorded > 0 || !startedAt || NODE_TERMINAL.has(phase)) return recorded;
  const started = Number(startedAt.seconds) * 1000 + Math.floor(startedAt.nanos / 1e6);
  return started > 0 && now > started ? now - started : 0;
}

function taskLabel(id: { name: string; version: string } | undefined): string {
  return id?.name ? `${id.name}:${id.version}` : "";
}

function attemptView(t: TaskExecution): AttemptView {
  const c = t.closure;
  return {
    attempt: t.id?.retryAttempt ?? 0,
    phase: phaseName(TaskExecution_Phase, c?.phase ?? 0),
    durationMs: durationToMs(c?.duration),
    podName: c?.podName ?? "",
    reason: c?.reason ?? "",
    error: errorText(c?.error),
    costMicros: Math.round((c?.cost ?? 0) * 1_000_000),
  };
}

/** Builds an {@link ExecutionView} from stored resources (no RPCs). */
export function buildExecutionView(
  execution: Execution,
  nodes: Array<{ node: NodeExecution; attempts: TaskExecution[]; children: NodeView[] }>,
  now: number = Date.now(),
): ExecutionView {
  const c = execution.closure;
  const spec = execution.spec;
  const phase = phaseName(WorkflowExecution_Phase, c?.phase ?? 0);
  const wf = c?.workflowId ?? (spec?.target.case === "workflow" ? spec.target.value : undefined);
  const lp = spec?.target.case === "launchPlan" ? spec.target.value : undefined;
  return {
    id: {
      project: execution.id?.project ?? "",
      domain: execution.id?.domain ?? "",
      name: execution.id?.name ?? "",
    },
    phase,
    terminal: isTerminalPhase(phase),
    cluster: c?.cluster ?? "",
    clusterLabel: c?.clusterLabel ?? "",
    workflow: wf ? `${wf.name}:${wf.version}` : "",
    launchPlan: lp ? `${lp.name}:${lp.version}` : "",
    createdAt: formatTime(c?.createdAt),
    startedAt: formatTime(c?.startedAt),
    durationMs: elapsedMs(c?.duration, c?.startedAt, phase, now),
    message: c?.message ?? "",
    error: errorText(c?.error),
    nodes: nodes.map(({ node, attempts, children }) => {
      const nc = node.closure;
      const attemptViews = attempts.map(attemptView).sort((a, b) => a.attempt - b.attempt);
      return {
        id: node.id?.nodeId ?? "",
        name: node.metadata?.nodeName ?? "",
        task: taskLabel(node.metadata?.taskId ?? attempts[0]?.id?.taskId),
        phase: phaseName(NodeExecution_Phase, nc?.phase ?? 0),
        startedAt: formatTime(nc?.startedAt),
        durationMs: elapsedMs(
          nc?.duration,
          nc?.startedAt,
          phaseName(NodeExecution_Phase, nc?.phase ?? 0),
          now,
        ),
        retries: Math.max(0, attemptViews.length - 1),
        error: errorText(nc?.error),
        message: nc?.message ?? "",
        attempts: attemptViews,
        children,
      };
    }),
  };
}

/**
 * Adds the execution's inlined inputs and outputs to `view` (GetExecutionData). Returns the
 * same view; data the admin does not inline is left out.
 */
export async function withExecutionData(
  client: AdminClient,
  id: WorkflowExecutionIdentifier,
  view: ExecutionView,
): Promise<ExecutionView> {
  const { data } = await client.getExecutionData({ id });
  if (data?.fullInputs) view.inputs = literalMapToValues(data.fullInputs);
  if (data?.fullOutputs && Object.keys(data.fullOutputs.literals).length > 0) {
    view.outputs = literalMapToValues(data.fullOutputs);
  }
  return view;
}

/** Reads an execution with its whole node tree. Side effects: admin RPCs only. */
export async function fetchExecutionView(
  client: AdminClient,
  id: WorkflowExecutionIdentifier,
): Promise<ExecutionView> {
  const { execution } = await client.getExecution({ id });
  if (!execution) throw new Error(`admin returned no execution for ${id.project}/${id.domain}/${id.name}`);
  const level = async (
    parent: string,
    depth: number,
  ): Promise<Array<{ node: NodeExecution; attempts: TaskExecution[]; children: NodeView[] }>> => {
    const nodes = await listAll(async (pageToken) => {
      const r = await client.listNodeExecutions({
        executionId: id,
        parentNodeId: parent,
        pageToken,
        pageSize: 1000,
      });
      return { items: r.nodeExecutions, next: r.nextPageToken };
    });
    return Promise.all(
      nodes.map(async (node) => {
        // Task attempts of every leaf node (admin may not fill metadata.taskId).
        const attempts = !node.metadata?.isParentNode
          ? await listAll(async (pageToken) => {
              const r = await client.listTaskExecutions({
                nodeExecutionId: node.id,
                pageToken,
                pageSize: 1000,
              });
              return { items: r.taskExecutions, next: r.nextPageToken };
            })
          : [];
        const children =
          node.metadata?.isParentNode && depth < 8 && node.id
            ? buildExecutionView(execution, await level(node.id.nodeId, depth + 1)).nodes
            : [];
        return { node, attempts, children };
      }),
    );
  };
  return buildExecutionView(execution, await level("", 0));
}

/** Flattens the node tree depth-first with each node's depth. */
export function flattenNodes(nodes: NodeView[], depth = 0): Array<{ node: NodeView; depth: number }> {
  return nodes.flatMap((n) => [{ node: n, depth }, ...flattenNodes(n.children, depth + 1)]);
}
