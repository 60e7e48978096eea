// Routing + data plane against three sandbox API servers (no kubelets: CR creation only),
// through the real migrations on PGlite, the routing subsystem and its RPC handlers.
import { recordingLogger } from "@flotilla/common";
import assert from "node:assert/strict";
import { after, afterEach, before, describe, test } from "node:test";
import { createClient, createRouterTransport } from "@connectrpc/connect";
import { ApiextensionsV1Api, KubeConfig } from "@kubernetes/client-node";
import { WorkflowExecutionResource, openBlobStore, sha256Hex, type BlobStore } from "@flotilla/common";
import { AdminService } from "@flotilla/proto";
import { startCluster, type SandboxCluster } from "@flotilla/sandbox";
import { eachDatabase, eventually, freePort, tempDir, Timeouts } from "@flotilla/testing";
import { Registry } from "prom-client";
import { connectCluster } from "../dataplane/connection.js";
import { RESOURCE_QUOTA_NAME } from "../dataplane/quota.js";
import { countWorkflowExecutions } from "../dataplane/workflow-executions.js";
import { createRoutingSubsystem, type RoutingSubsystem } from "../routing-subsystem.js";
import type { RoutingSectionInput } from "../routing/config.js";
import { CLUSTER_LABEL_KEY, ISOLATION_LABEL_KEY } from "../routing/router.js";
import { chiSquare } from "../routing/stats.js";
import { RecordingPlacements, aPlacementRequest } from "../testing/routing.js";

const MIGRATIONS = new URL("../../migrations/", import.meta.url);
const CALL = { timeoutMs: 10_000 };

/** Isolation of the test projects: "secure" is bound to "regulated". */
const isolation = {
  isolationLabel: (project: string) => Promise.resolve(project === "secure" ? "regulated" : undefined),
};

async function runPool<T>(
  items: readonly T[],
  concurrency: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) {
        const item = items[next++];
        await fn(item);
      }
    }),
  );
}

describe("routing across three sandbox clusters", () => {
  let a: SandboxCluster;
  let b: SandboxCluster;
  let r: SandboxCluster;
  const blobs = tempDir({ prefix: "flotilla-routing-blobs-" });
  let blobStore: BlobStore;

  before(() => {
    blobStore = openBlobStore(blobs.path);
  });
  after(() => blobs.cleanup());

  function config(extra: Partial<RoutingSectionInput> = {}): RoutingSectionInput {
    return {
      clusters: [
        { name: "a", kubeconfigInline: a.kubeconfig, labels: { [CLUSTER_LABEL_KEY]: "batch", region: "us" } },
        { name: "b", kubeconfigInline: b.kubeconfig, labels: { [CLUSTER_LABEL_KEY]: "batch", region: "eu" } },
        {
          name: "r",
          kubeconfigInline: r.kubeconfig,
          labels: { [CLUSTER_LABEL_KEY]: "regulated-pool", [ISOLATION_LABEL_KEY]: "regulated" },
        },
      ],
      routing: {
        reevaluateInterval: "200ms",
        retryInitialBackoff: "50ms",
        retryMaxBackoff: "200ms",
      },
      ...extra,
    };
  }

  async function count(cluster: SandboxCluster, project: string, name?: string): Promise<number> {
    const selector = `flotilla.io/project=${project}${name ? `,flotilla.io/execution=${name}` : ""}`;
    return countWorkflowExecutions(
      connectCluster(cluster.name, { kind: "kubeconfigInline", kubeconfig: cluster.kubeconfig }),
      {
        ...CALL,
        labelSelector: selector,
      },
    );
  }

  eachDatabase("routing subsystem", { migrations: MIGRATIONS }, (ctx) => {
    // Fresh clusters per backend: the CRs one backend's tests leave behind must not be counted by
    // the other's.
    before(async () => {
      [a, b, r] = await Promise.all([
        startCluster({ name: "a", kubelet: false }),
        startCluster({ name: "b", kubelet: false }),
        startCluster({ name: "r", kubelet: false }),
      ]);
    });
    after(async () => {
      await Promise.all([a?.stop(), b?.stop(), r?.stop()]);
    });
    let subsystem: RoutingSubsystem | undefined;
    // Before eachDatabase's own afterEach closes the test database.
    afterEach(async () => {
      await subsystem?.stop();
      subsystem = undefined;
    });

    async function start(
      extra: Partial<RoutingSectionInput> = {},
    ): Promise<{ s: RoutingSubsystem; placements: RecordingPlacements; registry: Registry }> {
      await subsystem?.stop();
      const placements = new RecordingPlacements();
      const registry = new Registry();
      subsystem = createRoutingSubsystem({
        db: ctx.db(),
        executions: placements,
        blobStore,
        config: config(extra),
        registry,
        logger: recordingLogger(),
        isolation,
      });
      await subsystem.start();
      return { s: subsystem, placements, registry };
    }

    function client(s: RoutingSubsystem) {
      return createClient(
        AdminService,
        createRouterTransport(({ service }) => service(AdminService, s.handlers)),
      );
    }

    test("start installs the WorkflowExecution CRD into every configured cluster before any placement", async () => {
      const fresh = await startCluster({ name: "fresh", kubelet: false });
      try {
        const kc = new KubeConfig();
        kc.loadFromString(fresh.kubeconfig);
        const crds = kc.makeApiClient(ApiextensionsV1Api);
        const crdName = "workflowexecutions.flotilla.io";
        await assert.rejects(crds.readCustomResourceDefinition({ name: crdName }), /404|not found/i);
        await start({ clusters: [{ name: "fresh", kubeconfigInline: fresh.kubeconfig }] });
        const crd = await eventually(() => crds.readCustomResourceDefinition({ name: crdName }), {
          timeout: Timeouts.eventually,
        });
        assert.equal(crd.spec.names.kind, "WorkflowExecution");
      } finally {
        await subsystem?.stop();
        subsystem = undefined;
        await fresh.stop();
      }
    });

    test("1,000 executions spread by weight, sticky on retried creates, isolation holds", async () => {
      const { s, placements } = await start();
      const api = client(s);
      await api.createRoutingRule({
        rule: {
          scope: {},
          clusterLabel: "batch",
          targets: [
            { target: { case: "cluster", value: "a" }, weight: 3 },
            { target: { case: "cluster", value: "b" }, weight: 1 },
          ],
        },
      });
      await api.createRoutingRule({ rule: { scope: { project: "secure" }, clusterLabel: "regulated-pool" } });

      const shared = Array.from({ length: 900 }, (_, i) => ({
        project: "flights",
        domain: "production",
        name: `f-${i}`,
      }));
      const dedicated = Array.from({ length: 100 }, (_, i) => ({
        project: "secure",
        domain: "production",
        name: `s-${i}`,
      }));
      const chosen = new Map<string, string>();
      await runPool([...shared, ...dedicated], 16, async (e) => {
        const outcome = await s.placer.place(aPlacementRequest(e, { blobRoot: blobStore.root }));
        assert.equal(
          outcome.state,
          "placed",
          `${e.name}: ${outcome.state === "queued" ? outcome.reason : ""}`,
        );
        if (outcome.state === "placed") chosen.set(`${e.project}/${e.name}`, outcome.cluster);
      });

      const [fa, fb, fr, sa, sb, sr] = await Promise.all([
        count(a, "flights"),
        count(b, "flights"),
        count(r, "flights"),
        count(a, "secure"),
        count(b, "secure"),
        count(r, "secure"),
      ]);
      assert.equal(fr, 0, "no shared execution on the dedicated cluster");
      assert.equal(sa + sb, 0, "no dedicated execution on a shared cluster");
      assert.equal(sr, 100);
      assert.equal(fa + fb, 900);
      const stat = chiSquare([fa, fb], [675, 225]);
      // Critical value of chi-square with 1 degree of freedom at p = 0.001.
      assert.ok(stat < 10.83, `a=${fa} b=${fb}: chi-square ${stat.toFixed(2)}`);
      assert.equal(placements.of("flights", "production", "f-0")?.cluster, chosen.get("flights/f-0"));

      // Retried creates land on the same cluster and create nothing new.
      await runPool(shared.slice(0, 100), 8, async (e) => {
        const again = await s.placer.place(aPlacementRequest(e, { blobRoot: blobStore.root }));
        assert.equal(again.state, "placed");
        if (again.state === "placed") assert.equal(again.cluster, chosen.get(`${e.project}/${e.name}`));
      });
      assert.equal((await count(a, "flights")) + (await count(b, "flights")), 900);

      const explained = await api.explainExecution({
        id: { project: "secure", domain: "production", name: "s-7" },
      });
      const last = explained.decisions.at(-1);
      assert.equal(last?.chosenCluster, "r");
      assert.equal(last?.isolationLabel, "regulated");
      assert.deepEqual(
        last?.candidates.map((c) => [c.cluster, c.reason]),
        [
          ["a", "IsolationRequired"],
          ["b", "IsolationRequired"],
          ["r", "Eligible"],
        ],
      );
    });

    test("a dedicated project with its cluster cordoned stays QUEUED with a reason, then runs once uncordoned", async () => {
      const { s, placements } = await start();
      const api = client(s);
      await api.cordonCluster({ name: "r", reason: "kernel upgrade" });
      const e = { project: "secure", domain: "staging", name: "held-1" };
      const outcome = await s.placer.place(aPlacementRequest(e, { blobRoot: blobStore.root }));
      assert.equal(outcome.state, "queued");
      assert.match(outcome.state === "queued" ? outcome.reason : "", /^NoEligibleCluster: .*r: Cordoned/);
      assert.match(placements.of(e.project, e.domain, e.name)?.queueReason ?? "", /NoEligibleCluster/);
      const queued = await api.explainExecution({ id: e });
      assert.equal(queued.decisions.at(-1)?.chosenCluster, "");
      assert.match(queued.decisions.at(-1)?.queueReason ?? "", /Cordoned/);
      assert.equal((await api.getCluster({ name: "r" })).cluster?.stateReason, "kernel upgrade");

      await api.uncordonCluster({ name: "r" });
      await eventually(() => assert.equal(placements.of(e.project, e.domain, e.name)?.cluster, "r"), {
        timeout: Timeouts.eventually,
        message: "queued execution placed after uncordon",
      });
      assert.equal(await count(r, "secure", "held-1"), 1);
      assert.equal((await count(a, "secure", "held-1")) + (await count(b, "secure", "held-1")), 0);
      const after = await api.explainExecution({ id: e });
      assert.equal(after.decisions.at(-1)?.chosenCluster, "r");
    });

    test("an unreachable cluster keeps the execution QUEUED with the error and is retried until it answers", async () => {
      const port = await freePort();
      const { s, placements, registry } = await start({
        clusters: [
          ...(config().clusters as unknown[]),
          {
            name: "late",
            apiEndpoint: `http://127.0.0.1:${port}`,
            labels: { [CLUSTER_LABEL_KEY]: "late-pool" },
          },
        ],
        dataPlane: { requestTimeout: "2s" },
      });
      const e = { project: "flights", domain: "development", name: "late-1" };
      const outcome = await s.placer.place(
        aPlacementRequest(e, { blobRoot: blobStore.root, clusterLabel: "late-pool" }),
      );
      assert.equal(outcome.state, "queued");
      assert.match(
        outcome.state === "queued" ? outcome.reason : "",
        /^ClusterUnreachable: cluster late unreachable/,
      );
      // The attempt count is stored and the failure counted in separate steps: wait for both.
      await eventually(async () => {
        const pending = await s.pending.get(e);
        assert.ok(pending && pending.attempts >= 3, `attempts ${pending?.attempts}`);
        const failures =
          (await registry.getSingleMetric("flotilla_admin_cr_create_failures_total")?.get())?.values ?? [];
        assert.ok(
          failures.some(
            (v) => v.labels.cluster === "late" && v.labels.reason === "ClusterUnreachable" && v.value >= 3,
          ),
          `failures counted: ${JSON.stringify(failures)}`,
        );
      });

      const late = await startCluster({ name: "late", kubelet: false, port });
      try {
        await eventually(() => assert.equal(placements.of(e.project, e.domain, e.name)?.cluster, "late"), {
          timeout: Timeouts.eventually,
          message: "placed once the cluster answers",
        });
        assert.equal(await count(late, "flights", "late-1"), 1);
        assert.equal(await s.pending.get(e), undefined);
        // Its placement latency covers the retries: observed once, after at least two attempts.
        const latency = (
          (await registry.getSingleMetric("flotilla_admin_placement_duration_seconds")?.get())?.values ?? []
        ).map((v) => ({ ...v, metricName: (v as { metricName?: string }).metricName }));
        const count1 = latency.find(
          (v) =>
            v.metricName === "flotilla_admin_placement_duration_seconds_count" &&
            v.labels.project === "flights" &&
            v.labels.domain === "development" &&
            v.labels.cluster === "late",
        );
        assert.equal(count1?.value, 1);
        const sum = latency.find(
          (v) =>
            v.metricName === "flotilla_admin_placement_duration_seconds_sum" && v.labels.cluster === "late",
        );
        assert.ok((sum?.value ?? 0) > 0.1, `placement latency ${sum?.value}`);
      } finally {
        await s.stop();
        await late.stop();
      }
    });

    test("large closures are offloaded, namespaces get their quota, terminate deletes the CR", async () => {
      const { s } = await start({
        dataPlane: {
          crBudgetBytes: 4096,
          resourceQuota: {
            hard: { pods: "{{ maxPods }}" },
            values: { maxPods: "50" },
            overrides: [{ project: "big", values: { maxPods: "7" } }],
          },
        },
      });
      const e = { project: "big", domain: "production", name: "huge-1" };
      const outcome = await s.placer.place(
        aPlacementRequest(e, { blobRoot: blobStore.root, descriptionBytes: 20_000 }),
      );
      assert.equal(outcome.state, "placed");
      const cluster = outcome.state === "placed" ? outcome.cluster : "";
      const sandbox = cluster === "a" ? a : b;
      const conn = connectCluster(cluster, { kind: "kubeconfigInline", kubeconfig: sandbox.kubeconfig });

      const cr = (await conn.custom.getNamespacedCustomObject({
        group: WorkflowExecutionResource.group,
        version: WorkflowExecutionResource.version,
        plural: WorkflowExecutionResource.plural,
        namespace: "big-production",
        name: "huge-1",
      })) as {
        spec: { closure?: unknown; closureRef?: { uri: string; digest: string; sizeBytes: string } };
        metadata: { annotations: Record<string, string> };
      };
      assert.equal(cr.spec.closure, undefined);
      const ref = cr.spec.closureRef;
      assert.ok(ref, "closureRef set");
      const bytes = await blobStore.get(ref.uri);
      assert.equal(ref.digest, `sha256:${sha256Hex(bytes)}`);
      assert.equal(Number(ref.sizeBytes), bytes.length);
      assert.ok(cr.metadata.annotations["flotilla.io/traceparent"]);

      const quota = await conn.core.readNamespacedResourceQuota({
        name: RESOURCE_QUOTA_NAME,
        namespace: "big-production",
      });
      assert.equal(quota.spec?.hard?.pods, "7");
      const crd = await conn.extensions.readCustomResourceDefinition({
        name: "workflowexecutions.flotilla.io",
      });
      assert.equal(crd.spec.names.kind, "WorkflowExecution");

      await s.placer.terminate(e, cluster);
      assert.equal(await count(sandbox, "big", "huge-1"), 0);
      // Terminating again (NotFound) is success.
      await s.placer.terminate(e, cluster);
    });
  });
});
