import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { NodeExecution_Phase, TaskExecution_Phase, WorkflowExecution_Phase } from "@flotilla/proto";
import {
  EntityKind,
  NODE_TRANSITIONS,
  TASK_TRANSITIONS,
  WORKFLOW_TRANSITIONS,
  decideTransition,
  isTerminalPhase,
  phaseRank,
  type PhaseState,
} from "./phases.js";

const tables = [
  [EntityKind.Workflow, WORKFLOW_TRANSITIONS, WorkflowExecution_Phase],
  [EntityKind.Node, NODE_TRANSITIONS, NodeExecution_Phase],
  [EntityKind.Task, TASK_TRANSITIONS, TaskExecution_Phase],
] as const;

function phasesOf(e: object): number[] {
  return Object.values(e).filter((v): v is number => typeof v === "number");
}

describe("phase transition tables", () => {
  for (const [kind, typedTable, phases] of tables) {
    const table = typedTable as ReadonlyMap<number, ReadonlySet<number>>;
    it(`${kind}: every listed transition increases the rank and terminal phases have no exits`, () => {
      for (const [from, targets] of table) {
        assert.equal(isTerminalPhase(kind, from), false, `terminal ${from} has exits`);
        for (const to of targets) assert.ok(phaseRank(kind, to) > phaseRank(kind, from), `${from} → ${to}`);
      }
      for (const p of phasesOf(phases)) {
        if (p !== 0 && !isTerminalPhase(kind, p) && !table.has(p))
          assert.fail(`${kind} phase ${p} has no exits`);
      }
    });

    it(`${kind}: any event sequence applied through decideTransition never lowers the rank or leaves a terminal phase`, () => {
      const all = phasesOf(phases);
      fc.assert(
        fc.property(
          fc.array(fc.record({ phase: fc.constantFrom(...all), phaseVersion: fc.nat(6) }), { maxLength: 40 }),
          (events) => {
            let state: PhaseState | undefined;
            for (const e of events) {
              const d = decideTransition(kind, state, e);
              if (!d.legal) continue;
              if (state) {
                assert.ok(phaseRank(kind, e.phase) >= phaseRank(kind, state.phase));
                assert.equal(isTerminalPhase(kind, state.phase), false);
                if (e.phase === state.phase) assert.ok(e.phaseVersion >= state.phaseVersion);
              }
              state = e;
            }
          },
        ),
      );
    });
  }

  it("refuses undefined phases, terminal exits and stale versions with the reason", () => {
    const W = WorkflowExecution_Phase;
    assert.deepEqual(decideTransition(EntityKind.Workflow, undefined, { phase: 0, phaseVersion: 0 }), {
      legal: false,
      refusal: "UndefinedPhase",
    });
    assert.deepEqual(
      decideTransition(
        EntityKind.Workflow,
        { phase: W.SUCCEEDED, phaseVersion: 3 },
        { phase: W.RUNNING, phaseVersion: 4 },
      ),
      {
        legal: false,
        refusal: "AlreadyTerminal",
      },
    );
    assert.deepEqual(
      decideTransition(
        EntityKind.Workflow,
        { phase: W.RUNNING, phaseVersion: 3 },
        { phase: W.QUEUED, phaseVersion: 4 },
      ),
      {
        legal: false,
        refusal: "PhaseRegression",
      },
    );
    assert.deepEqual(
      decideTransition(
        EntityKind.Task,
        { phase: TaskExecution_Phase.RUNNING, phaseVersion: 3 },
        { phase: TaskExecution_Phase.RUNNING, phaseVersion: 2 },
      ),
      { legal: false, refusal: "PhaseRegression" },
    );
    assert.deepEqual(
      decideTransition(
        EntityKind.Task,
        { phase: TaskExecution_Phase.RUNNING, phaseVersion: 3 },
        { phase: TaskExecution_Phase.SUCCEEDED, phaseVersion: 0 },
      ),
      { legal: true },
    );
  });
});
