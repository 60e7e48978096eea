/**
 * Rounds as the controller runs them — on the status kept from the previous round, its level
 * index kept with it, telling the encoder only the nodes they changed — against rounds on a
 * fresh copy of the status (a full recomputation: index rebuilt, every node compared), over
 * random DAGs and random pod outcomes.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { clone, create, equals } from "@bufbuild/protobuf";
import fc from "fast-check";
import {
  NodeStatusSchema,
  WorkflowExecutionStatusSchema,
  WorkflowExecution_Phase,
  type WorkflowExecutionSpec,
  type WorkflowExecutionStatus,
} from "@flotilla/proto";
import { aTask, aWorkflow, anExecutionSpec } from "../testing/builders.js";
import { FakePods, MemoryIO } from "../testing/fakes.js";
import { evaluateWorkflow } from "./executor.js";
import { buildGraph, type WorkflowGraph } from "./graph.js";
import { isTerminalWorkflowPhase } from "./phases.js";
import { DEFAULT_EXECUTOR_CONFIG } from "./ports.js";
import { RoundContext } from "./round-context.js";
import { DEFAULT_STATUS_BUDGET, StatusEncoder, type StatusBlobs } from "./status-codec.js";

const sim = aTask("t").simulated("1s").build();

class MemBlobs implements StatusBlobs {
  readonly data = new Map<string, Uint8Array>();
  async put(uri: string, d: Uint8Array) {
    this.data.set(uri, d);
  }
  async get(uri: string) {
    const d = this.data.get(uri);
    if (!d) throw new Error(`missing ${uri}`);
    return d;
  }
  async delete(uri: string) {
    this.data.delete(uri);
  }
  join(base: string, ...parts: string[]) {
    return [base.replace(/\/$/, ""), ...parts].join("/");
  }
}

/** One way of running rounds: its own pods, status and events. */
interface Runner {
  pods: FakePods;
  io: MemoryIO;
  status: WorkflowExecutionStatus;
  events: unknown[];
}

async function round(
  r: Runner,
  spec: WorkflowExecutionSpec,
  graph: WorkflowGraph,
  now: Date,
  status: WorkflowExecutionStatus,
): Promise<RoundContext> {
  const ctx = new RoundContext(
    { namespace: "ns", name: "exec", uid: "uid-1", spec, graph },
    status,
    r.pods.pods,
    now,
    { pods: r.pods, io: r.io },
    { ...DEFAULT_EXECUTOR_CONFIG, clusterId: "c1" },
  );
  await evaluateWorkflow(ctx);
  r.events.push(...ctx.events);
  return ctx;
}

test("rounds on the kept status equal rounds on a fresh copy, and so does the incremental encoding", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 25 }),
      fc.array(fc.tuple(fc.nat(), fc.nat()), { maxLength: 40 }),
      fc.integer({ min: 0, max: 4 }),
      fc.boolean(),
      fc.array(fc.array(fc.tuple(fc.nat(), fc.constantFrom("Running", "Succeeded", "Failed" as const))), {
        minLength: 1,
        maxLength: 40,
      }),
      async (n, edges, maxParallelism, failAfter, steps) => {
        const wf = aWorkflow("w");
        if (failAfter) wf.failingAfterExecutableNodes();
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
        const spec = anExecutionSpec({
          name: "exec",
          closure: wf.closure(),
          blobRoot: "mem://b",
          maxParallelism,
        });
        const graph = buildGraph(spec.workflow.value as never);
        const kept: Runner = {
          pods: new FakePods(),
          io: new MemoryIO(),
          status: create(WorkflowExecutionStatusSchema, {}),
          events: [],
        };
        const fresh: Runner = {
          pods: new FakePods(),
          io: new MemoryIO(),
          status: create(WorkflowExecutionStatusSchema, {}),
          events: [],
        };
        const encoder = new StatusEncoder(graph.order, 4);
        const blobs = new MemBlobs();
        const now = new Date("2026-01-01T00:00:00Z");
        for (const outcomes of steps) {
          // The kept runner works on the same status object (and graph) every round; the
          // fresh one on a copy and a graph built anew, so nothing is carried over.
          const before = clone(WorkflowExecutionStatusSchema, kept.status);
          const ctx = await round(kept, spec, graph, now, kept.status);
          const copy = clone(WorkflowExecutionStatusSchema, fresh.status);
          await round(fresh, spec, buildGraph(spec.workflow.value as never), now, copy);
          fresh.status = copy;
          assert.ok(equals(WorkflowExecutionStatusSchema, kept.status, fresh.status), "same status");
          assert.deepEqual(kept.events, fresh.events, "same events in the same order");
          assert.deepEqual([...kept.pods.pods.keys()].sort(), [...fresh.pods.pods.keys()].sort());

          // Nodes the round reports changed are exactly the nodes that differ.
          const differing = Object.keys(kept.status.nodes).filter((id) => {
            const b = before.nodes[id];
            const a = kept.status.nodes[id];
            return !b || !a || !equals(NodeStatusSchema, a, b);
          });
          assert.deepEqual(ctx.changedNodeIds().sort(), differing.sort());
          encoder.markDirty(ctx.changedNodeIds());
          const options = {
            budget: DEFAULT_STATUS_BUDGET,
            otherBytes: 1_000,
            blobs,
            offloadPrefix: "mem://b/",
          };
          const incremental = await encoder.encode(kept.status, options);
          const full = await new StatusEncoder(graph.order, 4).encode(kept.status, options);
          assert.deepEqual(incremental.json, full.json, "incremental encoding = full encoding");

          if (isTerminalWorkflowPhase(kept.status.phase)) break;
          // The same pod outcomes on both sides.
          const live = [...kept.pods.pods.entries()]
            .filter(([, p]) => p.status?.phase === "Pending" || p.status?.phase === "Running")
            .map(([name]) => name)
            .sort();
          for (const [i, phase] of outcomes) {
            const name = live[i % Math.max(1, live.length)];
            if (name === undefined) break;
            kept.pods.finish(name, phase);
            fresh.pods.finish(name, phase);
          }
          now.setTime(now.getTime() + 1_000);
        }
        assert.notEqual(kept.status.phase, WorkflowExecution_Phase.UNSPECIFIED);
      },
    ),
    { numRuns: 80 },
  );
});
