import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { signWebhook, verifyWebhookSignature } from "./signing.js";

const SECRET = "whsec_test_secret_0123456789";
const AT = new Date(1_700_000_000_000);

describe("webhook signatures", () => {
  it("is HMAC-SHA256 over '<t>.<body>' in the t=...,v1=... header (vector computed with Python's hmac)", () => {
    assert.equal(
      signWebhook(SECRET, '{"a":1}', AT),
      "t=1700000000,v1=10fb0e5eb2c2204d471e7d252958fb5af663638b8d24fc8dc03090a74bcc366c",
    );
  });

  it("verifies its own signature and refuses a changed body, another secret, an old time or garbage", () => {
    const body = '{"idempotencyKey":"p/d/n/SUCCEEDED/0"}';
    const header = signWebhook(SECRET, body, AT);
    assert.equal(verifyWebhookSignature(SECRET, header, body, { now: AT }), "ok");
    assert.equal(verifyWebhookSignature(SECRET, header, body + " ", { now: AT }), "mismatch");
    assert.equal(verifyWebhookSignature(`${SECRET}x`, header, body, { now: AT }), "mismatch");
    assert.equal(
      verifyWebhookSignature(SECRET, header, body, { now: new Date(AT.getTime() + 301_000) }),
      "expired",
    );
    assert.equal(
      verifyWebhookSignature(SECRET, header, body, { now: new Date(AT.getTime() + 299_000) }),
      "ok",
    );
    assert.equal(verifyWebhookSignature(SECRET, undefined, body), "malformed");
    assert.equal(verifyWebhookSignature(SECRET, "v1=abc", body), "malformed");
    assert.equal(verifyWebhookSignature(SECRET, "t=1700000000", body), "malformed");
  });

  it("accepts any of several v1 signatures (a receiver rotating secrets)", () => {
    const body = "{}";
    const good = signWebhook(SECRET, body, AT).split(",")[1];
    const header = `t=1700000000,v1=${"0".repeat(64)},${good}`;
    assert.equal(verifyWebhookSignature(SECRET, header, body, { now: AT }), "ok");
  });
});
