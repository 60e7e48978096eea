import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  formatMilli,
  InvalidQuantityError,
  parseMilli,
  parseQuantity,
  parseResourceUnits,
  tryParseQuantity,
} from "./quantity.js";

describe("quantities", () => {
  it("reads decimal, binary, milli and exponent forms into base units", () => {
    const table: [string | number, number][] = [
      ["100m", 0.1],
      ["2Gi", 2 * 2 ** 30],
      ["1.5Gi", 1.5 * 2 ** 30],
      ["500Mi", 500 * 2 ** 20],
      ["1Ki", 1024],
      ["128M", 128e6],
      ["1k", 1000],
      ["2k", 2000],
      ["1e3", 1000],
      ["1E3", 1000],
      ["1E", 1e18],
      ["1.5", 1.5],
      [".5", 0.5],
      ["-2", -2],
      [" 3 ", 3],
      [4, 4],
    ];
    for (const [text, value] of table) assert.equal(parseQuantity(text), value, String(text));
  });

  it("rejects malformed text and non-finite numbers with a typed error naming the value", () => {
    for (const bad of ["", "abc", "1Zi", "1.2.3", "--1", "12 cores", "1KB", "1e", "1e3Mi", "1e999"]) {
      assert.throws(
        () => parseQuantity(bad),
        (e: unknown) => e instanceof InvalidQuantityError && e.value === bad && /"500m"/.test(e.message),
        bad,
      );
      assert.equal(tryParseQuantity(bad), undefined, bad);
    }
    assert.throws(() => parseQuantity(Number.POSITIVE_INFINITY), InvalidQuantityError);
    assert.equal(tryParseQuantity(undefined), undefined);
  });

  it("converts to milli-units rounding to nearest for quotas and up for the scheduler", () => {
    assert.equal(parseMilli("500m"), 500);
    assert.equal(parseMilli("2"), 2000);
    assert.equal(parseMilli("0.5"), 500);
    assert.equal(parseMilli("0.3"), 300);
    assert.equal(parseMilli("0.0001"), 0);
    assert.equal(parseMilli("1.5", "up"), 1500);
    assert.equal(parseMilli("250m", "up"), 250);
    assert.equal(parseMilli("0.3", "up"), 300);
    assert.equal(parseMilli("0.0001", "up"), 1);
  });

  it("gives the scheduler millicores for cpu and whole units, rounded up, for the rest", () => {
    assert.equal(parseResourceUnits("cpu", "1.5"), 1500);
    assert.equal(parseResourceUnits("memory", "1Ki"), 1024);
    assert.equal(parseResourceUnits("memory", "0.5"), 1);
    assert.equal(parseResourceUnits("nvidia.com/gpu", "2"), 2);
  });

  it("formats milli-units canonically and round-trips", () => {
    assert.equal(formatMilli(1500), "1500m");
    assert.equal(formatMilli(2000), "2");
    assert.equal(formatMilli(768 * 2 ** 20 * 1000, true), "768Mi");
    assert.equal(formatMilli(2 ** 30 * 1000, true), "1Gi");
    assert.equal(formatMilli(1000 * 1000, true), "1000");
    for (const milli of [1, 999, 1000, 1500, 2 ** 30 * 1000, 3 * 2 ** 20 * 1000]) {
      assert.equal(parseMilli(formatMilli(milli, true)), milli);
    }
  });
});
