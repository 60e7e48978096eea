import { Code } from "@connectrpc/connect";
import { createTransport, type Transporter } from "nodemailer";
import { AdminError } from "../errors.js";
import type { OutboxMessage } from "../repository/notification-repository.js";
import type { NotificationsConfig } from "./config.js";
import { emailContent, emailMessageId, slackPayload, webhookBody } from "./payloads.js";
import { IDEMPOTENCY_HEADER, SIGNATURE_HEADER, signWebhook } from "./signing.js";

/**
 * A delivery attempt that did not succeed. `permanent` means another attempt cannot help
 * (the receiver refused the request itself: a 4xx other than 408/425/429, or an SMTP 5xx), so
 * the message is kept as FAILED at once instead of being retried. It is recorded on the outbox
 * row and never answers an RPC; its code says what it would be: the receiver is unavailable.
 */
export class DeliveryError extends AdminError {
  readonly code = Code.Unavailable;
  constructor(
    message: string,
    readonly permanent: boolean,
  ) {
    super(message, { reason: permanent ? "NotificationRefused" : "NotificationUndelivered" });
  }
}

/** Delivers one outbox message over its channel; resolves once the receiver accepted it. */
export interface NotificationSender {
  /** Sends `message`; throws {@link DeliveryError} (or any error, treated as transient). */
  send(message: OutboxMessage): Promise<void>;
  /** Releases connections (SMTP). */
  close(): void;
}

const USER_AGENT = "flotilla-admin";
const TRANSIENT_STATUS = new Set([408, 425, 429]);

/**
 * Creates the sender of the configured channels: webhooks (JSON, `Idempotency-Key`, HMAC
 * signature), Slack incoming-webhook payloads, and email through nodemailer's SMTP transport.
 * Every request is bounded by `requestTimeout`; redirects are not followed (a webhook must
 * answer at the URL it was registered with). Returns the sender; opens SMTP connections lazily.
 */
export function createNotificationSender(
  config: NotificationsConfig,
  now: () => Date = () => new Date(),
): NotificationSender {
  const timeout = config.requestTimeout;
  let mailer: Transporter | undefined;
  const smtp = config.email.smtp;
  const getMailer = (): Transporter => {
    if (!smtp.host || !config.email.from)
      throw new DeliveryError(
        "email is not configured on this admin (notifications.email.smtp.host and notifications.email.from)",
        false,
      );
    mailer ??= createTransport({
      host: smtp.host,
      port: smtp.port,
      secure: smtp.secure,
      ...(smtp.user !== undefined ? { auth: { user: smtp.user, pass: smtp.password ?? "" } } : {}),
      connectionTimeout: timeout,
      greetingTimeout: timeout,
      socketTimeout: timeout,
    });
    return mailer;
  };

  return {
    async send(message) {
      const key = message.idempotencyKey;
      const target = message.target;
      if (target.channel === "webhook") {
        const secret = config.webhook.signingSecret;
        if (!secret)
          throw new DeliveryError(
            "webhooks are not configured on this admin (notifications.webhook.signingSecret)",
            false,
          );
        const body = webhookBody(key, message.facts);
        await postJson(target.url, body, timeout, {
          [IDEMPOTENCY_HEADER]: key,
          [SIGNATURE_HEADER]: signWebhook(secret, body, now()),
          "X-Flotilla-Event": "execution.phase",
        });
      } else if (target.channel === "slack") {
        const url = config.slack.webhookUrl;
        if (!url)
          throw new DeliveryError(
            "Slack is not configured on this admin (notifications.slack.webhookUrl)",
            false,
          );
        await postJson(url, JSON.stringify(slackPayload(key, target.slackChannel, message.facts)), timeout, {
          [IDEMPOTENCY_HEADER]: key,
        });
      } else {
        const from = config.email.from!;
        const transport = getMailer();
        const content = emailContent(key, message.facts);
        try {
          await transport.sendMail({
            from,
            to: target.recipients,
            subject: content.subject,
            text: content.text,
            messageId: emailMessageId(key, from),
            headers: { [IDEMPOTENCY_HEADER]: key },
          });
        } catch (err) {
          const code = (err as { responseCode?: number }).responseCode;
          throw new DeliveryError(
            `SMTP ${smtp.host}:${smtp.port}: ${(err as Error).message}`,
            code !== undefined && code >= 500,
          );
        }
      }
    },
    close() {
      mailer?.close();
      mailer = undefined;
    },
  };
}

/** POSTs a JSON body; resolves on 2xx, throws {@link DeliveryError} otherwise. */
async function postJson(
  url: string,
  body: string,
  timeoutMs: number,
  headers: Record<string, string>,
): Promise<void> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: "POST",
      body,
      redirect: "manual",
      headers: { "Content-Type": "application/json", "User-Agent": USER_AGENT, ...headers },
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const why =
      (err as Error).name === "TimeoutError"
        ? `no answer within ${timeoutMs} ms`
        : (cause?.code ?? cause?.message ?? (err as Error).message);
    throw new DeliveryError(`POST ${redact(url)}: ${why}`, false);
  }
  if (res.status >= 200 && res.status < 300) {
    await res.body?.cancel();
    return;
  }
  const text = (await res.text().catch(() => "")).slice(0, 200).replace(/\s+/g, " ").trim();
  const permanent = res.status >= 400 && res.status < 500 && !TRANSIENT_STATUS.has(res.status);
  throw new DeliveryError(`POST ${redact(url)}: HTTP ${res.status}${text ? `: ${text}` : ""}`, permanent);
}

/** The URL without its path and query (Slack webhook URLs carry their secret in the path). */
function redact(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname === "/" ? "" : "/…"}`;
  } catch {
    return "(invalid URL)";
  }
}
