import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { QuotaTemplateError, renderResourceQuota, type ResourceQuotaConfig } from "./quota.js";

const config: ResourceQuotaConfig = {
  hard: { "requests.cpu": "{{ cpu }}", "requests.memory": "{{ memory }}Gi", pods: "{{pods}}" },
  values: { cpu: "8", memory: "32", pods: "100" },
  overrides: [
    { project: "ml", values: { cpu: "64" } },
    {
      project: "ml",
      domain: "production",
      values: { memory: "256" },
      hard: { pods: "", "requests.nvidia.com/gpu": "8" },
    },
  ],
};

describe("renderResourceQuota", () => {
  test("applies defaults, then project, then project-domain overrides, then matchable attributes", () => {
    assert.deepEqual(renderResourceQuota(config, "flights", "production", "flights-production"), {
      "requests.cpu": "8",
      "requests.memory": "32Gi",
      pods: "100",
    });
    assert.deepEqual(renderResourceQuota(config, "ml", "development", "ml-development"), {
      "requests.cpu": "64",
      "requests.memory": "32Gi",
      pods: "100",
    });
    assert.deepEqual(renderResourceQuota(config, "ml", "production", "ml-production", { cpu: "96" }), {
      "requests.cpu": "96",
      "requests.memory": "256Gi",
      "requests.nvidia.com/gpu": "8",
    });
  });

  test("names the entry and variable that has no value", () => {
    assert.throws(
      () => renderResourceQuota({ hard: { pods: "{{ missing }}" } }, "p", "d", "p-d"),
      (err: unknown) =>
        err instanceof QuotaTemplateError && err.key === "pods" && /missing/.test(err.message),
    );
  });

  test("built-in variables name the project, domain and namespace", () => {
    assert.deepEqual(
      renderResourceQuota({ hard: { x: "{{project}}.{{domain}}.{{namespace}}" } }, "p", "d", "p-d"),
      {
        x: "p.d.p-d",
      },
    );
  });
});
