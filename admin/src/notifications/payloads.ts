/**
 * What a notification says, rendered for each channel. Pure: the outbox stores the
 * {@link NotificationFacts} once, at the phase change, and every attempt renders the same
 * payload from them, so retries carry identical bodies (only the signature's time changes).
 */

/** The facts of a phase change that every channel renders. */
export interface NotificationFacts {
  execution: { project: string; domain: string; name: string };
  /** Workflow phase name without prefix, e.g. "SUCCEEDED". */
  phase: string;
  /** When the execution reached the phase (ISO 8601). */
  occurredAt: string;
  /** When it started running (ISO 8601), if it did. */
  startedAt?: string;
  workflow: { name: string; version: string };
  launchPlan?: { name: string; version: string };
  /** The cluster it ran on, if it was placed. */
  cluster?: string;
  /** The execution's error (FAILED, TIMED_OUT). */
  error?: { code: string; message: string; kind: string };
  /** Why it was terminated (ABORTED). */
  abortCause?: string;
}

/** The `type` of every webhook body. */
export const WEBHOOK_EVENT_TYPE = "flotilla.execution.phase";

/** The JSON body of a webhook delivery: `{type, idempotencyKey, ...facts}`. */
export interface WebhookBody extends NotificationFacts {
  type: typeof WEBHOOK_EVENT_TYPE;
  idempotencyKey: string;
}

/** Renders the webhook body (the exact bytes that are signed). Pure. */
export function webhookBody(idempotencyKey: string, facts: NotificationFacts): string {
  const body: WebhookBody = { type: WEBHOOK_EVENT_TYPE, idempotencyKey, ...facts };
  return JSON.stringify(body);
}

/** One line saying what happened, e.g. `Execution p/d/n SUCCEEDED (workflow wf v1) on cluster a`. */
export function summaryLine(facts: NotificationFacts): string {
  const { project, domain, name } = facts.execution;
  const of = facts.launchPlan
    ? `launch plan ${facts.launchPlan.name} ${facts.launchPlan.version}`
    : `workflow ${facts.workflow.name} ${facts.workflow.version}`;
  const where = facts.cluster ? ` on cluster ${facts.cluster}` : "";
  return `Execution ${project}/${domain}/${name} ${facts.phase} (${of})${where}`;
}

/** The detail lines after the summary: error, abort cause, timing. */
function detailLines(facts: NotificationFacts): string[] {
  const lines: string[] = [];
  if (facts.error) lines.push(`Error ${facts.error.code} (${facts.error.kind}): ${facts.error.message}`);
  if (facts.abortCause) lines.push(`Terminated: ${facts.abortCause}`);
  if (facts.startedAt) lines.push(`Started ${facts.startedAt}, ended ${facts.occurredAt}`);
  else lines.push(`Ended ${facts.occurredAt}`);
  return lines;
}

/** A Slack incoming-webhook payload (`text` as the fallback, Block Kit `blocks`, `channel`). */
export interface SlackPayload {
  channel: string;
  text: string;
  blocks: Array<
    | { type: "section"; text: { type: "mrkdwn"; text: string } }
    | { type: "context"; elements: Array<{ type: "mrkdwn"; text: string }> }
  >;
}

/** Escapes the three characters Slack's mrkdwn reserves. */
function slackEscape(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** Renders the Slack-compatible payload for `channel`. Pure. */
export function slackPayload(
  idempotencyKey: string,
  channel: string,
  facts: NotificationFacts,
): SlackPayload {
  const summary = summaryLine(facts);
  const details = detailLines(facts);
  return {
    channel,
    text: summary,
    blocks: [
      { type: "section", text: { type: "mrkdwn", text: `*${slackEscape(summary)}*` } },
      { type: "section", text: { type: "mrkdwn", text: details.map(slackEscape).join("\n") } },
      {
        type: "context",
        elements: [{ type: "mrkdwn", text: `idempotency key \`${slackEscape(idempotencyKey)}\`` }],
      },
    ],
  };
}

/** An email's subject and plain-text body. */
export interface EmailContent {
  subject: string;
  text: string;
}

/** Renders the email. Pure. */
export function emailContent(idempotencyKey: string, facts: NotificationFacts): EmailContent {
  const { project, domain, name } = facts.execution;
  return {
    subject: `[flotilla] ${project}/${domain}/${name} ${facts.phase}`,
    text: [summaryLine(facts), "", ...detailLines(facts), "", `Idempotency key: ${idempotencyKey}`, ""].join(
      "\n",
    ),
  };
}

/**
 * The RFC 5322 Message-ID of an email, derived from the idempotency key so that every attempt
 * of one message carries the same id and a receiving system can drop duplicates. Pure.
 */
export function emailMessageId(idempotencyKey: string, fromAddress: string): string {
  const domain = /@([^>\s]+)>?\s*$/.exec(fromAddress)?.[1] ?? "flotilla.local";
  return `<${Buffer.from(idempotencyKey).toString("base64url")}@${domain}>`;
}
