import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  InvalidQuantityError,
  parseCpuMillis,
  parseDurationMs,
  parseQuantity,
  parseResource,
} from "./quantity.js";

describe("parseQuantity", () => {
  it("reads decimal, binary and exponent forms", () => {
    assert.equal(parseQuantity("100m"), 0.1);
    assert.equal(parseQuantity("2Gi"), 2 * 2 ** 30);
    assert.equal(parseQuantity("500Mi"), 500 * 2 ** 20);
    assert.equal(parseQuantity("1k"), 1000);
    assert.equal(parseQuantity("1e3"), 1000);
    assert.equal(parseQuantity("1.5"), 1.5);
    assert.equal(parseQuantity(4), 4);
  });
  it("rejects malformed text with a typed error", () => {
    for (const bad of ["", "abc", "1Zi", "1.2.3", "--1"]) {
      assert.throws(
        () => parseQuantity(bad),
        (e: unknown) => e instanceof InvalidQuantityError && e.value === bad,
      );
    }
  });
  it("rounds cpu up to whole millicores and other resources up to whole units", () => {
    assert.equal(parseCpuMillis("1.5"), 1500);
    assert.equal(parseCpuMillis("250m"), 250);
    assert.equal(parseCpuMillis("0.0001"), 1);
    assert.equal(parseResource("memory", "1Ki"), 1024);
    assert.equal(parseResource("nvidia.com/gpu", "2"), 2);
  });
});

describe("parseDurationMs", () => {
  it("reads Go durations and bare seconds", () => {
    assert.equal(parseDurationMs("2s"), 2000);
    assert.equal(parseDurationMs("500ms"), 500);
    assert.equal(parseDurationMs("1m30s"), 90_000);
    assert.equal(parseDurationMs("1.5h"), 5_400_000);
    assert.equal(parseDurationMs("3"), 3000);
  });
  it("rejects text that is not a duration", () => {
    for (const bad of ["", "2 s", "soon", "1x"]) {
      assert.throws(() => parseDurationMs(bad), InvalidQuantityError);
    }
  });
});
