import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import fc from "fast-check";
import { NodeExecution_Phase, NodeStatusSchema, type NodeStatus } from "@flotilla/proto";
import { aTask, aWorkflow } from "../testing/builders.js";
import { buildGraph, type WorkflowGraph } from "./graph.js";
import { LevelIndex, levelIndexOf } from "./level-index.js";

const sim = aTask("t").simulated("1s").build();

/** A DAG of `n` nodes where node i may depend on any earlier node (edges chosen by `edges`). */
function dag(n: number, edges: [number, number][]): WorkflowGraph {
  const wf = aWorkflow("w");
  const ups = Array.from({ length: n }, () => new Set<number>());
  for (const [a, b] of edges) {
    const lo = Math.min(a % n, b % n);
    const hi = Math.max(a % n, b % n);
    if (lo !== hi) ups[hi]?.add(lo);
  }
  for (let i = 0; i < n; i++)
    wf.withNode(
      `n${i}`,
      sim,
      {},
      [...(ups[i] ?? [])].map((u) => `n${u}`),
    );
  return buildGraph(wf.closure());
}

const phases = [
  NodeExecution_Phase.UNSPECIFIED,
  NodeExecution_Phase.QUEUED,
  NodeExecution_Phase.RUNNING,
  NodeExecution_Phase.SUCCEEDED,
  NodeExecution_Phase.FAILED,
  NodeExecution_Phase.TIMED_OUT,
  NodeExecution_Phase.SKIPPED,
  NodeExecution_Phase.ABORTED,
];

describe("LevelIndex", () => {
  test("a chain's frontier is its first unfinished node", () => {
    const graph = dag(3, [
      [0, 1],
      [1, 2],
    ]);
    const nodes: { [id: string]: NodeStatus } = {};
    const index = LevelIndex.build(graph, nodes);
    assert.deepEqual(index.snapshot(), { frontier: ["n0"], failed: [], pending: 3 });
    nodes.n0 = create(NodeStatusSchema, { phase: NodeExecution_Phase.SUCCEEDED });
    assert.deepEqual(index.refresh("n0"), ["n1"]);
    nodes.n1 = create(NodeStatusSchema, { phase: NodeExecution_Phase.FAILED });
    assert.deepEqual(index.refresh("n1"), ["n2"]);
    assert.deepEqual(index.snapshot(), { frontier: ["n2"], failed: ["n1"], pending: 1 });
    assert.equal(index.firstFailed(), "n1");
    assert.equal(index.hasPending(), true);
  });

  test("is kept per node map and graph, and rebuilt for a new map", () => {
    const graph = dag(2, [[0, 1]]);
    const nodes: { [id: string]: NodeStatus } = {};
    const a = levelIndexOf(graph, nodes);
    assert.equal(levelIndexOf(graph, nodes), a);
    assert.notEqual(levelIndexOf(graph, {}), a);
    assert.notEqual(levelIndexOf(dag(2, [[0, 1]]), nodes), a, "another graph: another index");
  });

  test("kept incrementally, it equals a full recomputation after any sequence of node updates", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 30 }),
        fc.array(fc.tuple(fc.nat(), fc.nat()), { maxLength: 60 }),
        fc.array(fc.tuple(fc.nat(), fc.constantFrom(...phases), fc.boolean()), { maxLength: 80 }),
        (n, edges, updates) => {
          const graph = dag(n, edges);
          const nodes: { [id: string]: NodeStatus } = {};
          const index = LevelIndex.build(graph, nodes);
          for (const [i, phase, replace] of updates) {
            const id = `n${i % n}`;
            // A node's status changes in place or is replaced by a new object.
            if (replace || !nodes[id]) nodes[id] = create(NodeStatusSchema, { phase });
            else nodes[id].phase = phase;
            const joined = index.refresh(id);
            const rebuilt = LevelIndex.build(graph, nodes).snapshot();
            assert.deepEqual(index.snapshot(), rebuilt);
            for (const j of joined) assert.ok(rebuilt.frontier.includes(j), `${j} joined the frontier`);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
