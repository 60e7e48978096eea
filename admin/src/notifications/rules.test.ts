import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import {
  ExecutionErrorSchema,
  ExecutionError_Kind,
  ExecutionSpecSchema,
  NotificationSchema,
  WorkflowExecution_Phase as W,
  type Notification,
} from "@flotilla/proto";
import { InvalidArgumentError } from "../errors.js";
import type { ExecutionState } from "../events/state.js";
import type { ExecutionRecord } from "../repository/execution-repository.js";
import { messagesForPhaseChange, validateNotifications, type ChannelPolicy } from "./rules.js";

const all: ChannelPolicy = { allowHttp: false, webhook: true, slack: true, email: true };
const webhook = (url: string, phases = [W.SUCCEEDED]) =>
  create(NotificationSchema, { phases, type: { case: "webhook", value: { url } } });
const slack = (channel: string, phases = [W.FAILED]) =>
  create(NotificationSchema, { phases, type: { case: "slack", value: { channel } } });
const email = (recipients: string[], phases = [W.FAILED, W.TIMED_OUT]) =>
  create(NotificationSchema, { phases, type: { case: "email", value: { recipients } } });

function refusal(list: Notification[], policy: ChannelPolicy = all): string {
  try {
    validateNotifications("spec.notifications", list, policy);
  } catch (err) {
    assert.ok(err instanceof InvalidArgumentError);
    return `${err.field}: ${err.problem}`;
  }
  return "accepted";
}

describe("validateNotifications", () => {
  it("accepts the documented shapes", () => {
    assert.equal(
      refusal([webhook("https://hooks.example.com/x"), slack("#ml-alerts"), email(["a@example.com"])]),
      "accepted",
    );
    assert.equal(refusal([webhook("http://127.0.0.1:9/x")], { ...all, allowHttp: true }), "accepted");
  });

  const table: [string, Notification[], ChannelPolicy, RegExp][] = [
    [
      "http without allowHttp",
      [webhook("http://127.0.0.1/x")],
      all,
      /^spec\.notifications\[0\]\.webhook\.url: must be an https/,
    ],
    [
      "not a URL",
      [webhook("hooks")],
      all,
      /^spec\.notifications\[0\]\.webhook\.url: "hooks" is not an absolute URL/,
    ],
    [
      "ftp even with allowHttp",
      [webhook("ftp://x/y")],
      { ...all, allowHttp: true },
      /webhook\.url: must be an http/,
    ],
    [
      "credentials in URL",
      [webhook("https://u:p@x.example/y")],
      all,
      /webhook\.url: must not carry credentials/,
    ],
    [
      "no signing secret",
      [webhook("https://x.example/y")],
      { ...all, webhook: false },
      /^spec\.notifications\[0\]\.webhook: .*signingSecret/,
    ],
    [
      "no phases",
      [webhook("https://x.example/y", [])],
      all,
      /^spec\.notifications\[0\]\.phases: must name 1-10/,
    ],
    [
      "non-terminal phase",
      [webhook("https://x.example/y", [W.RUNNING])],
      all,
      /phases: RUNNING is not a terminal phase/,
    ],
    ["bad Slack channel", [slack("ml-alerts")], all, /^spec\.notifications\[0\]\.slack\.channel:/],
    [
      "Slack not configured",
      [slack("#a")],
      { ...all, slack: false },
      /^spec\.notifications\[0\]\.slack: .*webhookUrl/,
    ],
    ["no recipients", [email([])], all, /email\.recipients: must list 1-50/],
    [
      "bad address",
      [email(["a@example.com", "nope"])],
      all,
      /^spec\.notifications\[0\]\.email\.recipients\[1\]: "nope"/,
    ],
    [
      "SMTP not configured",
      [email(["a@example.com"])],
      { ...all, email: false },
      /^spec\.notifications\[0\]\.email: .*smtp\.host/,
    ],
    [
      "no channel",
      [create(NotificationSchema, { phases: [W.FAILED] })],
      all,
      /^spec\.notifications\[0\]\.type: exactly one/,
    ],
    ["second one wrong", [slack("#a"), slack("#B")], all, /^spec\.notifications\[1\]\.slack\.channel/],
    ["too many", Array.from({ length: 17 }, () => slack("#a")), all, /^spec\.notifications: at most 16/],
  ];
  for (const [name, list, policy, expected] of table) {
    it(`refuses: ${name}`, () => assert.match(refusal(list, policy), expected));
  }
});

function record(notifications: Notification[]): ExecutionRecord {
  const at = new Date("2026-01-02T03:04:05.000Z");
  return {
    pk: 7,
    key: { project: "p", domain: "d", name: "n" },
    launchPlan: { name: "lp", version: "v1" },
    workflow: { name: "wf", version: "v1" },
    spec: toBinary(ExecutionSpecSchema, create(ExecutionSpecSchema, { notifications })),
    specDigest: "",
    inputsUri: "",
    clusterLabel: "",
    cluster: "alpha",
    queueReason: null,
    createdAt: at,
    labels: {},
    state: {
      phase: W.RUNNING,
      phaseVersion: 2,
      startedAt: at,
      stoppedAt: undefined,
      outputData: undefined,
      error: undefined,
      updatedAt: at,
      outputsUri: "",
      reason: "",
      message: "",
      abortCause: "",
    },
  };
}

function state(phase: W, extra: Partial<ExecutionState> = {}): ExecutionState {
  const at = new Date("2026-01-02T03:05:00.000Z");
  return {
    phase,
    phaseVersion: 3,
    startedAt: undefined,
    outputData: undefined,
    error: undefined,
    updatedAt: at,
    stoppedAt: at,
    outputsUri: "",
    reason: "",
    message: "",
    abortCause: "",
    ...extra,
  };
}

describe("messagesForPhaseChange", () => {
  const list = [
    webhook("https://x.example/a", [W.SUCCEEDED, W.FAILED]),
    slack("#a", [W.FAILED]),
    email(["a@example.com"], [W.ABORTED]),
  ];

  it("one message per notification naming the new terminal phase, keyed project/domain/name/PHASE/index", () => {
    const error = toBinary(
      ExecutionErrorSchema,
      create(ExecutionErrorSchema, { code: "Boom", message: "bad", kind: ExecutionError_Kind.USER }),
    );
    const messages = messagesForPhaseChange(record(list), W.RUNNING, state(W.FAILED, { error }));
    assert.deepEqual(
      messages.map((m) => [m.idempotencyKey, m.target]),
      [
        ["p/d/n/FAILED/0", { channel: "webhook", url: "https://x.example/a" }],
        ["p/d/n/FAILED/1", { channel: "slack", slackChannel: "#a" }],
      ],
    );
    assert.deepEqual(messages[0].facts, {
      execution: { project: "p", domain: "d", name: "n" },
      phase: "FAILED",
      occurredAt: "2026-01-02T03:05:00.000Z",
      workflow: { name: "wf", version: "v1" },
      launchPlan: { name: "lp", version: "v1" },
      cluster: "alpha",
      error: { code: "Boom", message: "bad", kind: "USER" },
    });
    assert.deepEqual(
      messagesForPhaseChange(record(list), W.ABORTING, state(W.ABORTED, { abortCause: "stop" })).map((m) => [
        m.idempotencyKey,
        m.facts.abortCause,
      ]),
      [["p/d/n/ABORTED/2", "stop"]],
    );
  });

  it("nothing for non-terminal phases, for an unchanged phase, or without notifications", () => {
    assert.deepEqual(messagesForPhaseChange(record(list), W.QUEUED, state(W.RUNNING)), []);
    assert.deepEqual(messagesForPhaseChange(record(list), W.FAILED, state(W.FAILED)), []);
    assert.deepEqual(messagesForPhaseChange(record([]), W.RUNNING, state(W.SUCCEEDED)), []);
    assert.deepEqual(messagesForPhaseChange(record(list), W.RUNNING, state(W.TIMED_OUT)), []);
  });
});
