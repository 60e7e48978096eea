import assert from "node:assert/strict";
import { test } from "node:test";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createRouterTransport } from "@connectrpc/connect";
import {
  AdminService,
  EventResult_Outcome,
  NodeExecution_Phase,
  StoredEventSchema,
  TaskExecution_Phase,
  WorkflowExecution_Phase,
  type ListExecutionEventsRequest,
  type StoredEvent,
} from "@flotilla/proto";
import { runCli } from "../../testing/harness.js";

const pd = ["-p", "flytesnacks", "-d", "development"];
const execution = { project: "flytesnacks", domain: "development", name: "hello-1" };

function stored(sequence: number, event: MessageInitShape<typeof StoredEventSchema>["event"]): StoredEvent {
  return create(StoredEventSchema, {
    sequence: BigInt(sequence),
    receivedAt: timestampFromDate(new Date(Date.UTC(2026, 0, 1, 12, 0, sequence))),
    producerCluster: sequence === 1 ? "admin" : "cluster-a",
    event,
    outcome: EventResult_Outcome.ACCEPTED,
  });
}

/** The log of hello-1: created, running, node "say" with two task attempts. */
const LOG: StoredEvent[] = [
  stored(1, {
    event: {
      case: "workflowEvent",
      value: { eventId: "admin:created", phase: WorkflowExecution_Phase.QUEUED, reason: "Created" },
    },
  }),
  stored(2, {
    event: { case: "workflowEvent", value: { eventId: "w1", phase: WorkflowExecution_Phase.RUNNING } },
  }),
  stored(3, {
    event: {
      case: "nodeEvent",
      value: {
        eventId: "n1",
        id: { executionId: execution, nodeId: "say" },
        phase: NodeExecution_Phase.RUNNING,
      },
    },
  }),
  stored(4, {
    event: {
      case: "taskEvent",
      value: {
        eventId: "t0",
        id: { nodeExecutionId: { executionId: execution, nodeId: "say" }, retryAttempt: 0 },
        phase: TaskExecution_Phase.RETRYABLE_FAILED,
        reason: "OOMKilled",
      },
    },
  }),
  stored(5, {
    event: {
      case: "taskEvent",
      value: {
        eventId: "t1",
        id: { nodeExecutionId: { executionId: execution, nodeId: "say" }, retryAttempt: 1 },
        phase: TaskExecution_Phase.SUCCEEDED,
      },
    },
  }),
  stored(6, {
    event: {
      case: "nodeEvent",
      value: {
        eventId: "n2",
        id: { executionId: execution, nodeId: "other" },
        phase: NodeExecution_Phase.RUNNING,
      },
    },
  }),
];

function nodeOf(e: StoredEvent): string {
  const ev = e.event?.event;
  if (ev?.case === "nodeEvent") return ev.value.id?.nodeId ?? "";
  if (ev?.case === "taskEvent") return ev.value.id?.nodeExecutionId?.nodeId ?? "";
  return "";
}

/** An admin serving LOG two events per page, recording each request. */
function fakeAdmin() {
  const requests: ListExecutionEventsRequest[] = [];
  const transport = createRouterTransport(({ service }) => {
    service(AdminService, {
      listExecutionEvents: (req) => {
        requests.push(req);
        if (req.executionId?.name !== "hello-1") {
          throw new ConnectError(`execution ${req.executionId?.name ?? ""} not found`, Code.NotFound);
        }
        const after = req.pageToken === "" ? 0 : Number(req.pageToken);
        const matching = LOG.filter(
          (e) => Number(e.sequence) > after && (!req.nodeId || nodeOf(e) === req.nodeId),
        );
        const page = matching.slice(0, Math.min(2, req.pageSize));
        const more = matching.length > page.length;
        return { events: page, nextPageToken: more ? String(page[page.length - 1].sequence) : "" };
      },
    });
  });
  return { transport, requests };
}

test("get events prints the log in order, one row per event, reading every page", async () => {
  const { transport, requests } = fakeAdmin();
  const r = await runCli(["get", "events", "hello-1", ...pd], { transport });
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trimEnd().split("\n");
  assert.match(lines[0], /^SEQ\s+RECEIVED\s+SOURCE\s+KIND\s+NODE\s+ATTEMPT\s+PHASE\s+REASON\s+EVENT ID$/);
  assert.equal(lines.length, 1 + LOG.length);
  assert.match(lines[1], /^1\s+.*\s+admin\s+workflow\s+-\s+-\s+QUEUED\s+Created\s+admin:created$/);
  assert.match(lines[4], /^4\s+.*\s+cluster-a\s+task\s+say\s+#0\s+RETRYABLE_FAILED\s+OOMKilled\s+t0$/);
  assert.match(lines[6], /^6\s+.*\s+node\s+other\s+-\s+RUNNING\s+-\s+n2$/);
  assert.deepEqual(
    requests.map((q) => [
      q.executionId?.project,
      q.executionId?.domain,
      q.executionId?.name,
      q.nodeId,
      q.pageToken,
    ]),
    [
      ["flytesnacks", "development", "hello-1", "", ""],
      ["flytesnacks", "development", "hello-1", "", "2"],
      ["flytesnacks", "development", "hello-1", "", "4"],
    ],
  );
});

test("get events --node asks admin for one node's events; --limit stops early", async () => {
  const { transport, requests } = fakeAdmin();
  const r = await runCli(["get", "events", "hello-1", "--node", "say", ...pd], { transport });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(
    r.stdout
      .trimEnd()
      .split("\n")
      .slice(1)
      .map((l) => l.split(/\s+/)[0]),
    ["3", "4", "5"],
  );
  assert.ok(requests.every((q) => q.nodeId === "say"));

  const limited = await runCli(["get", "events", "hello-1", "--limit", "3", ...pd], { transport });
  assert.equal(limited.code, 0, limited.stderr);
  assert.equal(limited.stdout.trimEnd().split("\n").length, 1 + 3);
});

test("get events -o json prints the stored events as proto-JSON; an unknown execution fails with not_found", async () => {
  const { transport } = fakeAdmin();
  const r = await runCli(["get", "events", "hello-1", "-o", "json", ...pd], { transport });
  assert.equal(r.code, 0, r.stderr);
  const events = JSON.parse(r.stdout) as Array<{
    sequence: string;
    producerCluster: string;
    outcome: string;
    event: { taskEvent?: { eventId: string; reason?: string } };
  }>;
  assert.deepEqual(
    events.map((e) => e.sequence),
    ["1", "2", "3", "4", "5", "6"],
  );
  assert.equal(events[3].outcome, "OUTCOME_ACCEPTED");
  assert.deepEqual(events[3].event.taskEvent?.reason, "OOMKilled");

  const missing = await runCli(["get", "events", "nope", "-o", "json", ...pd], { transport });
  assert.notEqual(missing.code, 0);
  assert.equal((JSON.parse(missing.stdout) as { error: { code: string } }).error.code, "not_found");

  const noName = await runCli(["get", "events", ...pd], { transport });
  assert.notEqual(noName.code, 0);
  assert.match(noName.stderr, /execution/i);
});
