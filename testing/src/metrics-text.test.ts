import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { metricSum } from "./metrics-text.js";

const TEXT = `# HELP flotilla_x_total Things.
# TYPE flotilla_x_total counter
flotilla_x_total{cluster="a",outcome="accepted"} 5
flotilla_x_total{cluster="a",outcome="rejected"} 2
flotilla_x_total{cluster="b",outcome="accepted"} 7
flotilla_x_total_extra{cluster="a"} 100
flotilla_y 1.5
`;

describe("metricSum", () => {
  it("sums the samples whose labels include the given ones, and only of that exact name", () => {
    assert.equal(metricSum(TEXT, "flotilla_x_total"), 14);
    assert.equal(metricSum(TEXT, "flotilla_x_total", { outcome: "accepted" }), 12);
    assert.equal(metricSum(TEXT, "flotilla_x_total", { cluster: "a", outcome: "rejected" }), 2);
    assert.equal(metricSum(TEXT, "flotilla_y"), 1.5);
  });

  it("is 0 for a metric or label set that is not there", () => {
    assert.equal(metricSum(TEXT, "flotilla_missing"), 0);
    assert.equal(metricSum(TEXT, "flotilla_x_total", { outcome: "duplicate" }), 0);
  });

  it("throws on a sample value that is not a number", () => {
    assert.throws(() => metricSum("flotilla_z 1x\n", "flotilla_z"), /not a number/);
  });
});
