import { durationMs, port, secret } from "@flotilla/runtime";
import { z } from "zod";

/**
 * The `notifications` section of the admin's configuration: the outbox dispatcher (polling,
 * batching, retries with the common backoff) and the three channels. A channel that is not
 * configured is refused when a launch plan or execution names it (InvalidArgument), so nothing
 * is queued that could never be sent.
 */
export const notificationsSection = z
  .strictObject({
    /** Whether this admin runs a dispatcher; the outbox is written either way. */
    enabled: z.boolean().default(true),
    /** How often an idle dispatcher looks for due messages. */
    pollInterval: durationMs("1s"),
    /** Most messages one dispatcher claims per round. */
    batchSize: z.number().int().min(1).max(1000).default(20),
    /** Delivery attempts before a message is kept as FAILED with its last error. */
    maxAttempts: z.number().int().min(1).max(100).default(8),
    /** Backoff between attempts (full jitter, growing x2 from `initial` up to `max`). */
    backoff: z
      .strictObject({
        initial: durationMs("5s"),
        max: durationMs("10m"),
      })
      .prefault({}),
    /** How long one delivery (HTTP request or SMTP transaction) may take. */
    requestTimeout: durationMs("10s"),
    /**
     * How long a claimed message stays invisible to other dispatchers; a dispatcher that dies
     * mid-delivery leaves it to be retried after this. Must exceed `requestTimeout`.
     */
    lease: durationMs("1m"),
    /**
     * How long DELIVERED messages are kept (then deleted by the dispatchers); FAILED ones stay
     * with their last error, and every message goes with its execution.
     */
    retention: durationMs("30d"),
    webhook: z
      .strictObject({
        /** HMAC-SHA256 key of `X-Flotilla-Signature`; webhook notifications need it. */
        signingSecret: secret(z.string().min(16)).optional(),
        /** Accept http:// webhook URLs (local receivers, tests); https:// only by default. */
        allowHttp: z.boolean().default(false),
      })
      .prefault({}),
    slack: z
      .strictObject({
        /** Slack incoming-webhook URL (or a compatible one); Slack notifications need it. */
        webhookUrl: secret(z.url()).optional(),
      })
      .prefault({}),
    email: z
      .strictObject({
        /** Sender address; email notifications need it and `smtp.host`. */
        from: z.string().min(3).optional(),
        smtp: z
          .strictObject({
            host: z.string().min(1).optional(),
            port: port().default(587),
            /** TLS from the start (port 465); otherwise STARTTLS when the server offers it. */
            secure: z.boolean().default(false),
            user: z.string().min(1).optional(),
            password: secret(z.string().min(1)).optional(),
          })
          .prefault({}),
      })
      .prefault({}),
  })
  .refine((n) => n.lease > n.requestTimeout, {
    message: "lease must be longer than requestTimeout",
    path: ["lease"],
  })
  .refine((n) => n.backoff.max >= n.backoff.initial, {
    message: "backoff.max must be at least backoff.initial",
    path: ["backoff", "max"],
  })
  .prefault({});

/** The parsed `notifications` section. */
export type NotificationsConfig = z.output<typeof notificationsSection>;
