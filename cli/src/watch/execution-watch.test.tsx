import assert from "node:assert/strict";
import { test } from "node:test";
import { render } from "ink-testing-library";
import { eventually } from "@flotilla/testing";
import { ExecutionTree, ExecutionWatch } from "./execution-watch.js";
import type { ExecutionView, NodeView } from "../views/snapshot.js";

function node(id: string, phase: string, extra: Partial<NodeView> = {}): NodeView {
  return {
    id,
    name: "",
    task: "t:v1",
    phase,
    startedAt: "-",
    durationMs: 0,
    retries: 0,
    error: "",
    message: "",
    attempts: [],
    children: [],
    ...extra,
  };
}

function view(phase: string, nodes: NodeView[], extra: Partial<ExecutionView> = {}): ExecutionView {
  return {
    id: { project: "p", domain: "d", name: "exec1" },
    phase,
    terminal: ["SUCCEEDED", "FAILED", "ABORTED", "TIMED_OUT"].includes(phase),
    cluster: "cluster-a",
    clusterLabel: "",
    workflow: "wf:v1",
    launchPlan: "",
    createdAt: "-",
    startedAt: "-",
    durationMs: 0,
    message: "",
    error: "",
    nodes,
    ...extra,
  };
}

test("the tree shows phases, durations, cluster, retries, nested nodes and errors", () => {
  const { lastFrame, unmount } = render(
    <ExecutionTree
      view={view(
        "FAILED",
        [
          node("a", "SUCCEEDED", { durationMs: 1500 }),
          node("b", "FAILED", {
            retries: 2,
            error: "UserError: exit 1",
            attempts: [
              {
                attempt: 0,
                phase: "RETRYABLE_FAILED",
                durationMs: 0,
                podName: "",
                reason: "",
                error: "",
                costMicros: 0,
              },
              {
                attempt: 2,
                phase: "FAILED",
                durationMs: 0,
                podName: "",
                reason: "",
                error: "",
                costMicros: 0,
              },
            ],
          }),
          node("sub", "RUNNING", { children: [node("inner", "QUEUED")] }),
        ],
        { durationMs: 65_000, error: "TaskFailed: node b failed" },
      )}
    />,
  );
  const frame = lastFrame() ?? "";
  unmount();
  const lines = frame.split("\n");
  assert.match(lines[0], /^p\/d\/exec1 {2}FAILED {2}cluster cluster-a {2}1m05s$/);
  assert.match(lines[1], /^ {2}✓ a {2}SUCCEEDED {2}1\.5s$/);
  assert.match(lines[2], /^ {2}✗ b {2}FAILED {2}- {2}retries 2 {2}UserError: exit 1$/);
  assert.match(lines[3], /^ {2}● sub {2}RUNNING/);
  assert.match(lines[4], /^ {4}○ inner {2}QUEUED/);
  assert.match(lines[5], /^error: TaskFailed: node b failed$/);
});

test("the watch polls until the execution is terminal, re-rendering, then reports the outcome", async () => {
  const snapshots = [
    view("QUEUED", [], { cluster: "", message: "NoEligibleCluster" }),
    view("RUNNING", [node("a", "RUNNING")]),
    view("SUCCEEDED", [node("a", "SUCCEEDED", { durationMs: 200 })]),
  ];
  let polls = 0;
  let done: { view?: ExecutionView; error?: unknown } | undefined;
  const { frames: written, unmount } = render(
    <ExecutionWatch
      poll={async () => snapshots[Math.min(polls++, snapshots.length - 1)]}
      intervalMs={5}
      onDone={(r) => (done = r)}
    />,
  );
  await eventually(() => assert.ok(done), { timeout: 5000, interval: 2 });
  // Ink's exit in CI mode writes one more (empty) frame, so look at every frame written, not
  // the last: the terminal snapshot's tree must have been rendered before the app exited.
  unmount();
  assert.equal(done?.view?.phase, "SUCCEEDED");
  assert.equal(polls, 3);
  const finalTree = /SUCCEEDED[\s\S]*✓ a {2}SUCCEEDED {2}200ms/;
  assert.ok(
    written.some((f) => finalTree.test(f)),
    `no frame showed the final tree:\n${written.join("\n---\n")}`,
  );
  assert.ok(
    written.some((f) => /RUNNING/.test(f)),
    "the running snapshot was never rendered",
  );
});

test("a failing poll stops the watch with the error", async () => {
  let done: { view?: ExecutionView; error?: unknown } | undefined;
  const { unmount } = render(
    <ExecutionWatch
      poll={async () => {
        throw new Error("admin went away");
      }}
      intervalMs={5}
      onDone={(r) => (done = r)}
    />,
  );
  await eventually(() => assert.ok(done), { timeout: 5000, interval: 2 });
  unmount();
  assert.equal((done?.error as Error).message, "admin went away");
});
