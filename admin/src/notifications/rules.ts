import { fromBinary } from "@bufbuild/protobuf";
import {
  ExecutionErrorSchema,
  ExecutionError_Kind,
  ExecutionSpecSchema,
  WorkflowExecution_Phase,
  type Notification,
} from "@flotilla/proto";
import { InvalidArgumentError } from "../errors.js";
import { TERMINAL_WORKFLOW_PHASES } from "../events/phases.js";
import type { ExecutionState } from "../events/state.js";
import type { ExecutionRecord } from "../repository/execution-repository.js";
import type { NotificationsConfig } from "./config.js";
import type { NotificationFacts } from "./payloads.js";

/** Most notifications a launch plan or an execution may carry. */
export const MAX_NOTIFICATIONS = 16;

/** The delivery channels, as stored in the outbox. */
export const Channel = { Webhook: "webhook", Slack: "slack", Email: "email" } as const;
/** A delivery channel. */
export type Channel = (typeof Channel)[keyof typeof Channel];

/** Where a message goes, by channel (stored as the outbox row's `target`). */
export type NotificationTarget =
  | { channel: typeof Channel.Webhook; url: string }
  | { channel: typeof Channel.Slack; slackChannel: string }
  | { channel: typeof Channel.Email; recipients: string[] };

/** One outbox message a phase change produces. */
export interface NewNotificationMessage {
  idempotencyKey: string;
  executionPk: number;
  execution: { project: string; domain: string; name: string };
  phase: WorkflowExecution_Phase;
  notificationIndex: number;
  target: NotificationTarget;
  facts: NotificationFacts;
}

/** Which channels this admin can deliver, from its `notifications` configuration. */
export interface ChannelPolicy {
  /** http:// webhook URLs are accepted (https:// always is). */
  allowHttp: boolean;
  /** A webhook signing secret is configured. */
  webhook: boolean;
  /** A Slack webhook URL is configured. */
  slack: boolean;
  /** An SMTP host and a sender are configured. */
  email: boolean;
}

/** The channel policy of a `notifications` configuration. */
export function channelPolicy(config: NotificationsConfig): ChannelPolicy {
  return {
    allowHttp: config.webhook.allowHttp,
    webhook: config.webhook.signingSecret !== undefined,
    slack: config.slack.webhookUrl !== undefined,
    email: config.email.smtp.host !== undefined && config.email.from !== undefined,
  };
}

const EMAIL = /^[^\s@<>(),;:"[\]]+@[^\s@<>(),;:"[\]]+\.[^\s@<>(),;:"[\]]+$/;
const SLACK_CHANNEL = /^#[a-z0-9_.-]{1,79}$/;

/**
 * Checks the notifications of a launch plan or execution spec (`field` names the list, e.g.
 * `spec.notifications`): at most 16; each with 1-10 terminal phases and exactly one channel
 * this admin can deliver (a webhook https:// URL, or http:// when `allowHttp`; a Slack channel
 * `#name`; 1-50 email addresses). Throws {@link InvalidArgumentError} naming the field. Pure.
 */
export function validateNotifications(field: string, list: Notification[], policy: ChannelPolicy): void {
  if (list.length > MAX_NOTIFICATIONS) throw new InvalidArgumentError(field, `at most ${MAX_NOTIFICATIONS}`);
  for (const [i, n] of list.entries()) {
    const at = `${field}[${i}]`;
    if (n.phases.length < 1 || n.phases.length > 10)
      throw new InvalidArgumentError(`${at}.phases`, "must name 1-10 phases");
    for (const p of n.phases) {
      if (!TERMINAL_WORKFLOW_PHASES.has(p))
        throw new InvalidArgumentError(
          `${at}.phases`,
          `${WorkflowExecution_Phase[p] ?? p} is not a terminal phase (SUCCEEDED, FAILED, ABORTED, TIMED_OUT)`,
        );
    }
    const t = n.type;
    if (t.case === "webhook") {
      const url = t.value.url;
      if (!url || url.length > 2048)
        throw new InvalidArgumentError(
          `${at}.webhook.url`,
          "must be an absolute URL of at most 2048 characters",
        );
      let parsed: URL;
      try {
        parsed = new URL(url);
      } catch {
        throw new InvalidArgumentError(`${at}.webhook.url`, `${JSON.stringify(url)} is not an absolute URL`);
      }
      const schemes = policy.allowHttp ? ["https:", "http:"] : ["https:"];
      if (!schemes.includes(parsed.protocol))
        throw new InvalidArgumentError(
          `${at}.webhook.url`,
          policy.allowHttp
            ? "must be an http:// or https:// URL"
            : "must be an https:// URL (http:// only when the admin sets notifications.webhook.allowHttp)",
        );
      if (parsed.username || parsed.password)
        throw new InvalidArgumentError(`${at}.webhook.url`, "must not carry credentials");
      if (!policy.webhook)
        throw new InvalidArgumentError(
          `${at}.webhook`,
          "this admin has no webhook signing secret (notifications.webhook.signingSecret)",
        );
    } else if (t.case === "slack") {
      if (!SLACK_CHANNEL.test(t.value.channel))
        throw new InvalidArgumentError(
          `${at}.slack.channel`,
          `${JSON.stringify(t.value.channel)} must be '#' and 1-79 of [a-z0-9_.-]`,
        );
      if (!policy.slack)
        throw new InvalidArgumentError(
          `${at}.slack`,
          "this admin has no Slack webhook configured (notifications.slack.webhookUrl)",
        );
    } else if (t.case === "email") {
      const r = t.value.recipients;
      if (r.length < 1 || r.length > 50)
        throw new InvalidArgumentError(`${at}.email.recipients`, "must list 1-50 addresses");
      for (const [j, address] of r.entries()) {
        if (address.length > 254 || !EMAIL.test(address))
          throw new InvalidArgumentError(
            `${at}.email.recipients[${j}]`,
            `${JSON.stringify(address)} is not an email address`,
          );
      }
      if (!policy.email)
        throw new InvalidArgumentError(
          `${at}.email`,
          "this admin has no SMTP server configured (notifications.email.smtp.host and notifications.email.from)",
        );
    } else {
      throw new InvalidArgumentError(`${at}.type`, "exactly one of email, slack and webhook is required");
    }
  }
}

/** The idempotency key of one message: `project/domain/name/PHASE/index`. */
export function idempotencyKey(
  execution: { project: string; domain: string; name: string },
  phase: WorkflowExecution_Phase,
  index: number,
): string {
  return `${execution.project}/${execution.domain}/${execution.name}/${WorkflowExecution_Phase[phase] ?? phase}/${index}`;
}

/**
 * The outbox messages of an execution whose phase changed from `before` to `after.phase`: one
 * per notification of its resolved spec (the execution's own, or its launch plan's) that names
 * the new phase, when the execution just became terminal. Returns none otherwise. Pure.
 */
export function messagesForPhaseChange(
  record: ExecutionRecord,
  before: WorkflowExecution_Phase,
  after: ExecutionState,
): NewNotificationMessage[] {
  const phase = after.phase;
  if (before === phase || !TERMINAL_WORKFLOW_PHASES.has(phase)) return [];
  const notifications = fromBinary(ExecutionSpecSchema, record.spec).notifications;
  if (notifications.length === 0) return [];
  const facts = factsOf(record, after);
  const messages: NewNotificationMessage[] = [];
  for (const [index, n] of notifications.entries()) {
    if (!n.phases.includes(phase)) continue;
    const target = targetOf(n);
    if (!target) continue;
    messages.push({
      idempotencyKey: idempotencyKey(record.key, phase, index),
      executionPk: record.pk,
      execution: record.key,
      phase,
      notificationIndex: index,
      target,
      facts,
    });
  }
  return messages;
}

function targetOf(n: Notification): NotificationTarget | undefined {
  const t = n.type;
  if (t.case === "webhook") return { channel: Channel.Webhook, url: t.value.url };
  if (t.case === "slack") return { channel: Channel.Slack, slackChannel: t.value.channel };
  if (t.case === "email") return { channel: Channel.Email, recipients: [...t.value.recipients] };
  return undefined;
}

function factsOf(record: ExecutionRecord, state: ExecutionState): NotificationFacts {
  const facts: NotificationFacts = {
    execution: { ...record.key },
    phase: WorkflowExecution_Phase[state.phase] ?? String(state.phase),
    occurredAt: (state.stoppedAt ?? state.updatedAt).toISOString(),
    workflow: { ...record.workflow },
  };
  if (state.startedAt) facts.startedAt = state.startedAt.toISOString();
  if (record.launchPlan) facts.launchPlan = { ...record.launchPlan };
  if (record.cluster) facts.cluster = record.cluster;
  if (state.error) {
    const e = fromBinary(ExecutionErrorSchema, state.error);
    facts.error = { code: e.code, message: e.message, kind: ExecutionError_Kind[e.kind] ?? String(e.kind) };
  }
  if (state.abortCause) facts.abortCause = state.abortCause;
  return facts;
}
