import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  WEBHOOK_EVENT_TYPE,
  emailContent,
  emailMessageId,
  slackPayload,
  summaryLine,
  webhookBody,
  type NotificationFacts,
} from "./payloads.js";

const failed: NotificationFacts = {
  execution: { project: "flotilla", domain: "development", name: "run-1" },
  phase: "FAILED",
  occurredAt: "2026-01-02T03:04:05.000Z",
  startedAt: "2026-01-02T03:00:00.000Z",
  workflow: { name: "train", version: "v3" },
  launchPlan: { name: "train-lp", version: "v3" },
  cluster: "gpu-a",
  error: { code: "OOMKilled", message: "x < y & z > w", kind: "USER" },
};

describe("notification payloads", () => {
  it("webhook body: the facts with its type and idempotency key, identical for every attempt", () => {
    const body = webhookBody("flotilla/development/run-1/FAILED/0", failed);
    assert.equal(body, webhookBody("flotilla/development/run-1/FAILED/0", failed));
    assert.deepEqual(JSON.parse(body), {
      type: WEBHOOK_EVENT_TYPE,
      idempotencyKey: "flotilla/development/run-1/FAILED/0",
      ...failed,
    });
  });

  it("summary names the execution, phase, launch plan (or workflow) and cluster", () => {
    assert.equal(
      summaryLine(failed),
      "Execution flotilla/development/run-1 FAILED (launch plan train-lp v3) on cluster gpu-a",
    );
    const { launchPlan: _lp, cluster: _c, ...direct } = failed;
    assert.equal(summaryLine(direct), "Execution flotilla/development/run-1 FAILED (workflow train v3)");
  });

  it("Slack payload: channel, plain-text fallback, mrkdwn blocks with &, < and > escaped", () => {
    const p = slackPayload("k/1", "#ml-alerts", failed);
    assert.equal(p.channel, "#ml-alerts");
    assert.equal(p.text, summaryLine(failed));
    const texts = p.blocks.flatMap((b) =>
      b.type === "section" ? [b.text.text] : b.elements.map((e) => e.text),
    );
    assert.match(texts[1], /Error OOMKilled \(USER\): x &lt; y &amp; z &gt; w/);
    assert.match(texts[2], /k\/1/);
    assert.ok(!texts.join("").includes("x < y"));
  });

  it("email: subject with execution and phase, text with error and key; Message-ID stable per key", () => {
    const e = emailContent("k/1", failed);
    assert.equal(e.subject, "[flotilla] flotilla/development/run-1 FAILED");
    assert.match(e.text, /Error OOMKilled \(USER\): x < y & z > w/);
    assert.match(e.text, /Idempotency key: k\/1/);
    const id = emailMessageId("k/1", "Flotilla <flotilla@example.com>");
    assert.equal(id, emailMessageId("k/1", "Flotilla <flotilla@example.com>"));
    assert.match(id, /^<[A-Za-z0-9_-]+@example\.com>$/);
    assert.notEqual(id, emailMessageId("k/2", "flotilla@example.com"));
  });
});
