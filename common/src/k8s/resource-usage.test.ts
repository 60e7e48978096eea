import assert from "node:assert/strict";
import { test } from "node:test";
import { formatResourceUsage, parseResourceUsage } from "./resource-usage.js";

test("resource usage annotation round-trips and rejects malformed values", () => {
  const text = formatResourceUsage({ cpuCores: 0.25, memoryBytes: 300 * 2 ** 20, gpus: 1 });
  assert.equal(text, '{"cpu":"250m","memory":"314572800","gpu":"1"}');
  assert.deepEqual(parseResourceUsage(text), { cpuCores: 0.25, memoryBytes: 314572800, gpus: 1 });
  assert.deepEqual(parseResourceUsage('{"cpu":"1.5","memory":"1Gi"}'), {
    cpuCores: 1.5,
    memoryBytes: 2 ** 30,
    gpus: 0,
  });
  assert.equal(parseResourceUsage(undefined), undefined);
  assert.equal(parseResourceUsage("not json"), undefined);
  assert.equal(parseResourceUsage("[1]"), undefined);
  assert.equal(parseResourceUsage('{"cpu":"lots"}'), undefined);
  assert.equal(parseResourceUsage('{"cpu":"-1"}'), undefined);
});
