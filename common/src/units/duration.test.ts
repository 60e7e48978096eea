import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatDuration, InvalidDurationError, parseDuration, tryParseDuration } from "./duration.js";

describe("durations", () => {
  it("parses every unit and compound durations", () => {
    const table: [string, number][] = [
      ["250ms", 250],
      ["30s", 30_000],
      ["1.5s", 1500],
      ["5m", 300_000],
      ["1h30m", 5_400_000],
      ["1.5h", 5_400_000],
      ["1d", 86_400_000],
      [" 2m10s ", 130_000],
    ];
    for (const [text, ms] of table) assert.equal(parseDuration(text), ms, text);
  });

  it("reads a bare number as seconds only when asked", () => {
    assert.equal(parseDuration("90", { bareSeconds: true }), 90_000);
    assert.equal(tryParseDuration("90"), undefined);
    assert.throws(() => parseDuration("90"), InvalidDurationError);
  });

  it("reads the sandbox kubelet's duration annotations (bare seconds allowed)", () => {
    const table: [string, number][] = [
      ["2s", 2000],
      ["500ms", 500],
      ["1m30s", 90_000],
      ["1.5h", 5_400_000],
      ["3", 3000],
    ];
    for (const [text, ms] of table) assert.equal(parseDuration(text, { bareSeconds: true }), ms, text);
    for (const bad of ["", "2 s", "soon", "1x"]) {
      assert.throws(() => parseDuration(bad, { bareSeconds: true }), InvalidDurationError, bad);
    }
  });

  it("rejects malformed text with the expected syntax and a short quote of the value", () => {
    for (const bad of ["", "s", "5", "5 m", "5x", "-5s", "5m3", "1e3s"]) {
      assert.equal(tryParseDuration(bad), undefined, bad);
    }
    assert.throws(
      () => parseDuration("x".repeat(10_000)),
      (e: Error) => e instanceof InvalidDurationError && e.message.length < 200 && /"30s"/.test(e.message),
    );
  });

  it("formats exactly and round-trips", () => {
    assert.equal(formatDuration(0), "0s");
    assert.equal(formatDuration(30_000), "30s");
    assert.equal(formatDuration(5_400_000), "1h30m");
    assert.equal(formatDuration(1500), "1s500ms");
    for (const ms of [1, 999, 1000, 61_001, 3_600_000, 90_061_001]) {
      assert.equal(parseDuration(formatDuration(ms)), ms);
    }
  });
});
