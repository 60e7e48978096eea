import { NodeExecution_Phase, TaskExecution_Phase, WorkflowExecution_Phase } from "@flotilla/proto";

/**
 * Legal phase transitions of workflow, node and task executions: pure tables and one decision
 * function shared by event ingestion, replay and (if it wants) the propeller.
 *
 * Every phase has a rank; a transition between different phases is legal only when it is listed
 * in the table, and every listed transition strictly increases the rank. A terminal phase is
 * final. A same-phase event is a detail update and is legal only when its phase version is not
 * lower than the stored one. So an accepted event can never move an entity backwards, whatever
 * order or multiplicity events arrive in.
 *
 * ```
 * workflow:  UNDEFINED → QUEUED → RUNNING → SUCCEEDING ─┐
 *                 │         │        │     FAILING ────┼→ SUCCEEDED | FAILED | ABORTED | TIMED_OUT
 *                 └─────────┴────────┴───→ ABORTING ───┘
 * ```
 */

/** Which kind of entity a phase belongs to. */
export const EntityKind = { Workflow: "workflow", Node: "node", Task: "task" } as const;
/** One of {@link EntityKind}'s values. */
export type EntityKind = (typeof EntityKind)[keyof typeof EntityKind];

const W = WorkflowExecution_Phase;
const N = NodeExecution_Phase;
const T = TaskExecution_Phase;

/** Ranks of phases from groups in rank order: every phase of `groups[i]` has rank i. */
function ranks(groups: readonly (readonly number[])[]): Readonly<Record<number, number>> {
  return Object.fromEntries(groups.flatMap((phases, rank) => phases.map((p) => [p, rank])));
}

const workflowRank = ranks([
  [W.UNSPECIFIED],
  [W.QUEUED],
  [W.RUNNING],
  [W.SUCCEEDING, W.FAILING],
  [W.ABORTING],
  [W.SUCCEEDED, W.FAILED, W.ABORTED, W.TIMED_OUT],
]);

const nodeRank = ranks([
  [N.UNSPECIFIED],
  [N.QUEUED],
  [N.RUNNING],
  [N.DYNAMIC_RUNNING],
  [N.SUCCEEDING, N.FAILING],
  [N.ABORTING],
  [N.SUCCEEDED, N.FAILED, N.ABORTED, N.TIMED_OUT, N.SKIPPED, N.RECOVERED],
]);

const taskRank = ranks([
  [T.UNSPECIFIED],
  [T.QUEUED],
  [T.WAITING_FOR_RESOURCES],
  [T.INITIALIZING],
  [T.RUNNING],
  [T.SUCCEEDED, T.ABORTED, T.FAILED, T.RETRYABLE_FAILED],
]);

/** Terminal workflow phases: nothing may follow them. */
export const TERMINAL_WORKFLOW_PHASES: ReadonlySet<WorkflowExecution_Phase> = new Set([
  W.SUCCEEDED,
  W.FAILED,
  W.ABORTED,
  W.TIMED_OUT,
]);
/** Terminal node phases. */
export const TERMINAL_NODE_PHASES: ReadonlySet<NodeExecution_Phase> = new Set([
  N.SUCCEEDED,
  N.FAILED,
  N.ABORTED,
  N.TIMED_OUT,
  N.SKIPPED,
  N.RECOVERED,
]);
/** Terminal task (attempt) phases; RETRYABLE_FAILED ends the attempt, a new attempt follows. */
export const TERMINAL_TASK_PHASES: ReadonlySet<TaskExecution_Phase> = new Set([
  T.SUCCEEDED,
  T.ABORTED,
  T.FAILED,
  T.RETRYABLE_FAILED,
]);

function table<P extends number>(entries: [P, P[]][]): ReadonlyMap<P, ReadonlySet<P>> {
  return new Map(entries.map(([from, to]) => [from, new Set(to)]));
}

const workflowTerminal = [W.SUCCEEDED, W.FAILED, W.ABORTED, W.TIMED_OUT];
/** Legal workflow transitions between different phases: from → allowed targets. */
export const WORKFLOW_TRANSITIONS: ReadonlyMap<
  WorkflowExecution_Phase,
  ReadonlySet<WorkflowExecution_Phase>
> = table<WorkflowExecution_Phase>([
  [W.UNSPECIFIED, [W.QUEUED, W.RUNNING, W.SUCCEEDING, W.FAILING, W.ABORTING, ...workflowTerminal]],
  [W.QUEUED, [W.RUNNING, W.SUCCEEDING, W.FAILING, W.ABORTING, ...workflowTerminal]],
  [W.RUNNING, [W.SUCCEEDING, W.FAILING, W.ABORTING, ...workflowTerminal]],
  [W.SUCCEEDING, [W.ABORTING, ...workflowTerminal]],
  [W.FAILING, [W.ABORTING, W.FAILED, W.ABORTED, W.TIMED_OUT]],
  [W.ABORTING, [W.ABORTED, W.FAILED, W.TIMED_OUT]],
]);

const nodeTerminal = [N.SUCCEEDED, N.FAILED, N.ABORTED, N.TIMED_OUT, N.SKIPPED, N.RECOVERED];
const nodeActive = [N.RUNNING, N.DYNAMIC_RUNNING, N.SUCCEEDING, N.FAILING, N.ABORTING];
/** Legal node transitions between different phases: from → allowed targets. */
export const NODE_TRANSITIONS: ReadonlyMap<
  NodeExecution_Phase,
  ReadonlySet<NodeExecution_Phase>
> = table<NodeExecution_Phase>([
  [N.UNSPECIFIED, [N.QUEUED, ...nodeActive, ...nodeTerminal]],
  [N.QUEUED, [...nodeActive, ...nodeTerminal]],
  [N.RUNNING, [N.DYNAMIC_RUNNING, N.SUCCEEDING, N.FAILING, N.ABORTING, ...nodeTerminal]],
  [N.DYNAMIC_RUNNING, [N.SUCCEEDING, N.FAILING, N.ABORTING, ...nodeTerminal]],
  [N.SUCCEEDING, [N.ABORTING, N.SUCCEEDED, N.FAILED, N.ABORTED, N.TIMED_OUT]],
  [N.FAILING, [N.ABORTING, N.FAILED, N.ABORTED, N.TIMED_OUT]],
  [N.ABORTING, [N.ABORTED, N.FAILED, N.TIMED_OUT]],
]);

const taskTerminal = [T.SUCCEEDED, T.ABORTED, T.FAILED, T.RETRYABLE_FAILED];
/** Legal task-attempt transitions between different phases: from → allowed targets. */
export const TASK_TRANSITIONS: ReadonlyMap<
  TaskExecution_Phase,
  ReadonlySet<TaskExecution_Phase>
> = table<TaskExecution_Phase>([
  [T.UNSPECIFIED, [T.QUEUED, T.WAITING_FOR_RESOURCES, T.INITIALIZING, T.RUNNING, ...taskTerminal]],
  [T.QUEUED, [T.WAITING_FOR_RESOURCES, T.INITIALIZING, T.RUNNING, ...taskTerminal]],
  [T.WAITING_FOR_RESOURCES, [T.INITIALIZING, T.RUNNING, ...taskTerminal]],
  [T.INITIALIZING, [T.RUNNING, ...taskTerminal]],
  [T.RUNNING, taskTerminal],
]);

/** Phase plus version of an entity, as stored or as carried by an event. */
export interface PhaseState {
  phase: number;
  phaseVersion: number;
}

/** Why a transition was refused. */
export const TransitionRefusal = {
  /** The stored phase is terminal. */
  AlreadyTerminal: "AlreadyTerminal",
  /** The event would move the phase backwards, skip to an unlisted phase, or is older than stored. */
  PhaseRegression: "PhaseRegression",
  /** The event carries PHASE_UNSPECIFIED. */
  UndefinedPhase: "UndefinedPhase",
} as const;
/** One of {@link TransitionRefusal}'s values. */
export type TransitionRefusal = (typeof TransitionRefusal)[keyof typeof TransitionRefusal];

/** Outcome of {@link decideTransition}. */
export type TransitionDecision = { legal: true } | { legal: false; refusal: TransitionRefusal };

/** Rank of a phase in its kind's order (higher is later); used for "no regression" checks. */
export function phaseRank(kind: EntityKind, phase: number): number {
  const table = kind === EntityKind.Workflow ? workflowRank : kind === EntityKind.Node ? nodeRank : taskRank;
  const rank = table[phase];
  if (rank === undefined) throw new RangeError(`unknown ${kind} phase ${phase}`);
  return rank;
}

/** Whether `phase` is terminal for entities of `kind`. */
export function isTerminalPhase(kind: EntityKind, phase: number): boolean {
  const set: ReadonlySet<number> =
    kind === EntityKind.Workflow
      ? TERMINAL_WORKFLOW_PHASES
      : kind === EntityKind.Node
        ? TERMINAL_NODE_PHASES
        : TERMINAL_TASK_PHASES;
  return set.has(phase);
}

/** Whether moving from `from` to a *different* phase `to` is listed as legal for `kind`. */
export function isLegalTransition(kind: EntityKind, from: number, to: number): boolean {
  const tables: ReadonlyMap<number, ReadonlySet<number>> = kind === EntityKind.Workflow
    ? WORKFLOW_TRANSITIONS
    : kind === EntityKind.Node
      ? NODE_TRANSITIONS
      : TASK_TRANSITIONS;
  return tables.get(from)?.has(to) ?? false;
}

/**
 * Decides whether an event moving an entity of `kind` from `current` (undefined when the entity
 * has no state yet) to `next` may apply. Pure.
 *
 * - `next.phase` UNSPECIFIED → refused (UndefinedPhase).
 * - no current state → legal.
 * - current terminal → refused (AlreadyTerminal).
 * - same phase → legal iff `next.phaseVersion >= current.phaseVersion` (detail update).
 * - different phase → legal iff listed in the table and, for workflows and nodes (whose version
 *   increments on every phase change), the version does not go backwards. Task versions count
 *   within one phase, so only the table applies across task phases.
 */
export function decideTransition(
  kind: EntityKind,
  current: PhaseState | undefined,
  next: PhaseState,
): TransitionDecision {
  if (next.phase === 0) return { legal: false, refusal: TransitionRefusal.UndefinedPhase };
  if (current === undefined) return { legal: true };
  if (isTerminalPhase(kind, current.phase))
    return { legal: false, refusal: TransitionRefusal.AlreadyTerminal };
  if (next.phase === current.phase) {
    return next.phaseVersion >= current.phaseVersion
      ? { legal: true }
      : { legal: false, refusal: TransitionRefusal.PhaseRegression };
  }
  if (kind !== EntityKind.Task && next.phaseVersion < current.phaseVersion) {
    return { legal: false, refusal: TransitionRefusal.PhaseRegression };
  }
  return isLegalTransition(kind, current.phase, next.phase)
    ? { legal: true }
    : { legal: false, refusal: TransitionRefusal.PhaseRegression };
}
