import { createHmac, timingSafeEqual } from "node:crypto";

/** The header carrying a webhook's signature. */
export const SIGNATURE_HEADER = "X-Flotilla-Signature";

/** The header carrying a message's idempotency key (also in the body as `idempotencyKey`). */
export const IDEMPOTENCY_HEADER = "Idempotency-Key";

/**
 * Signs a webhook body the way Stripe and GitHub do: HMAC-SHA256 with the shared secret over
 * `"<t>.<body>"`, where `t` is the sending time in Unix seconds, sent as
 * `X-Flotilla-Signature: t=<t>,v1=<hex>`. Signing the time lets a receiver refuse replays of an
 * old request; every attempt is signed afresh. Returns the header value; pure.
 */
export function signWebhook(secret: string, body: string, at: Date): string {
  const t = Math.floor(at.getTime() / 1000);
  return `t=${t},v1=${hmacHex(secret, `${t}.${body}`)}`;
}

/** Why {@link verifyWebhookSignature} refused a request, or `ok`. */
export type SignatureCheck = "ok" | "malformed" | "mismatch" | "expired";

/**
 * Checks a `X-Flotilla-Signature` header against the raw body: some `v1` signature must equal
 * the HMAC of `"<t>.<body>"` (compared in constant time) and `t` must be within
 * `toleranceSeconds` (default 300) of `now`. What a receiver runs; returns the verdict; pure.
 */
export function verifyWebhookSignature(
  secret: string,
  header: string | undefined,
  body: string,
  options: { now?: Date; toleranceSeconds?: number } = {},
): SignatureCheck {
  if (!header) return "malformed";
  let t: number | undefined;
  const signatures: string[] = [];
  for (const part of header.split(",")) {
    const [k, v] = part.trim().split("=", 2);
    if (k === "t" && v && /^\d{1,12}$/.test(v)) t = Number(v);
    else if (k === "v1" && v && /^[0-9a-f]{64}$/.test(v)) signatures.push(v);
  }
  if (t === undefined || signatures.length === 0) return "malformed";
  const expected = Buffer.from(hmacHex(secret, `${t}.${body}`), "hex");
  if (!signatures.some((s) => timingSafeEqual(Buffer.from(s, "hex"), expected))) return "mismatch";
  const now = Math.floor((options.now ?? new Date()).getTime() / 1000);
  return Math.abs(now - t) > (options.toleranceSeconds ?? 300) ? "expired" : "ok";
}

function hmacHex(secret: string, data: string): string {
  return createHmac("sha256", secret).update(data, "utf8").digest("hex");
}
