import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { RoutingConfigError, validateRoutingSection } from "./config.js";

function fails(input: Parameters<typeof validateRoutingSection>[0], path: string): void {
  assert.throws(
    () => validateRoutingSection(input),
    (err: unknown) => err instanceof RoutingConfigError && err.path === path,
    `expected an error at ${path}`,
  );
}

describe("validateRoutingSection", () => {
  test("fills defaults", () => {
    const { clusters, settings } = validateRoutingSection({});
    assert.deepEqual(clusters, []);
    assert.equal(settings.heartbeatTimeoutMs, 60_000);
    assert.equal(settings.reevaluateIntervalMs, 5_000);
    assert.equal(settings.crBudgetBytes, 512 * 1024);
    assert.equal(settings.installCrd, true);
    assert.equal(settings.resourceQuota, undefined);
  });

  test("accepts clusters with kubeconfig, inline kubeconfig or endpoint, and a quota template", () => {
    const { clusters, settings } = validateRoutingSection({
      clusters: [
        {
          name: "a",
          kubeconfig: "/etc/kube/a",
          context: "prod",
          labels: { region: "eu", tier: 1 },
          priority: 10,
        },
        { name: "b", kubeconfigInline: "apiVersion: v1", state: "cordoned" },
        { name: "c", apiEndpoint: "http://127.0.0.1:6443" },
      ],
      routing: { defaultLabel: "batch", heartbeatTimeout: "30s" },
      dataPlane: {
        resourceQuota: { hard: { pods: "{{ pods }}" }, values: { pods: 10 }, overrides: [{ project: "p" }] },
      },
    });
    assert.deepEqual(
      clusters.map((c) => [c.name, c.state]),
      [
        ["a", undefined],
        ["b", "cordoned"],
        ["c", undefined],
      ],
    );
    assert.equal(clusters[0]?.labels?.tier, "1");
    assert.equal(settings.defaultLabel, "batch");
    assert.equal(settings.heartbeatTimeoutMs, 30_000);
    assert.deepEqual(settings.resourceQuota?.values, { pods: "10" });
  });

  test("reads a cluster's price table", () => {
    const { clusters } = validateRoutingSection({
      clusters: [
        {
          name: "a",
          apiEndpoint: "http://x",
          prices: { cpuCoreHour: 0.0425, memoryGibHour: 0.0057, gpuHour: 2.48, currency: "USD" },
        },
        { name: "b", apiEndpoint: "http://y" },
      ],
    });
    assert.deepEqual(clusters[0]?.prices, {
      currency: "USD",
      cpuCoreHour: 0.0425,
      memoryGibHour: 0.0057,
      gpuHour: 2.48,
    });
    assert.equal(clusters[1]?.prices, undefined);
  });

  test("names the offending value", () => {
    fails({ clusters: {} }, "clusters");
    fails({ clusters: [{ name: "Bad", apiEndpoint: "http://x" }] }, "clusters[0].name");
    fails({ clusters: [{ name: "a" }] }, "clusters[0]");
    fails({ clusters: [{ name: "a", kubeconfig: "/k", kubeconfigInline: "x" }] }, "clusters[0]");
    fails({ clusters: [{ name: "a", apiEndpoint: "http://x", priority: 5000 }] }, "clusters[0].priority");
    fails({ clusters: [{ name: "a", apiEndpoint: "http://x", state: "gone" }] }, "clusters[0].state");
    fails({ clusters: [{ name: "a", apiEndpoint: "http://x", colour: "red" }] }, "clusters[0].colour");
    fails(
      {
        clusters: [
          { name: "a", apiEndpoint: "http://x" },
          { name: "a", apiEndpoint: "http://y" },
        ],
      },
      "clusters[1].name",
    );
    const priced = (prices: unknown) => ({ clusters: [{ name: "a", apiEndpoint: "http://x", prices }] });
    fails(priced({ cpuCoreHour: -1 }), "clusters[0].prices.cpuCoreHour");
    fails(priced({ memoryGibHour: "cheap" }), "clusters[0].prices.memoryGibHour");
    fails(priced({ gpuHour: 2e6 }), "clusters[0].prices.gpuHour");
    fails(priced({ currency: "EUR", cpuCoreHour: 1 }), "clusters[0].prices.currency");
    fails(priced({ cpuHour: 1 }), "clusters[0].prices.cpuHour");
    fails({ routing: { heartbeatTimeout: "0s" } }, "routing.heartbeatTimeout");
    fails({ routing: { heartbeatTimeout: 30 } }, "routing.heartbeatTimeout");
    fails({ routing: { defaultLabel: "Not A Label" } }, "routing.defaultLabel");
    fails({ dataPlane: { installCrd: "yes" } }, "dataPlane.installCrd");
    fails(
      { dataPlane: { resourceQuota: { hard: {}, overrides: [{}] } } },
      "dataPlane.resourceQuota.overrides[0].project",
    );
  });
});
