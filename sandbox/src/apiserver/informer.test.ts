import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  type V1Pod,
  Watch,
  makeInformer,
} from "@kubernetes/client-node";
import { kubeconfigFor } from "../cluster.js";
import { type ApiServerHandle, startApiServer } from "./server.js";
import { aPod, eventually, widgetCrd } from "./test-support.js";

describe("client-node informers against the sandbox", () => {
  let server: ApiServerHandle;
  let kc: KubeConfig;
  let core: CoreV1Api;
  before(async () => {
    server = await startApiServer({ bookmarkIntervalMs: 50 });
    kc = new KubeConfig();
    kc.loadFromString(kubeconfigFor([{ name: "informers", url: server.url }]));
    core = kc.makeApiClient(CoreV1Api);
  });
  after(async () => {
    await server.stop();
  });

  function record(informer: ReturnType<typeof makeInformer<V1Pod>>): string[] {
    const events: string[] = [];
    informer.on("add", (p) => events.push(`add ${p.metadata!.name}`));
    informer.on("update", (p) => events.push(`update ${p.metadata!.name} ${p.metadata!.labels?.v ?? ""}`));
    informer.on("delete", (p) => events.push(`delete ${p.metadata!.name}`));
    return events;
  }

  it("delivers add, update and delete through list+watch", async () => {
    await core.createNamespace({ body: { metadata: { name: "inf1" } } });
    await core.createNamespacedPod({ namespace: "inf1", body: aPod("existing") });
    const informer = makeInformer<V1Pod>(kc, "/api/v1/namespaces/inf1/pods", () =>
      core.listNamespacedPod({ namespace: "inf1" }),
    );
    const events = record(informer);
    await informer.start();
    try {
      await eventually(() => assert.deepEqual(events, ["add existing"]));
      await core.createNamespacedPod({ namespace: "inf1", body: aPod("fresh") });
      await core.patchNamespacedPod({
        namespace: "inf1",
        name: "fresh",
        body: [{ op: "add", path: "/metadata/labels", value: { v: "2" } }],
      });
      await core.deleteNamespacedPod({ namespace: "inf1", name: "existing" });
      await eventually(() =>
        assert.deepEqual(events, ["add existing", "add fresh", "update fresh 2", "delete existing"]),
      );
      assert.deepEqual(
        informer.list("inf1").map((p) => p.metadata!.name),
        ["fresh"],
      );
    } finally {
      await informer.stop();
    }
  });

  it("relists after compaction and a dropped watch without losing or duplicating events", async () => {
    await core.createNamespace({ body: { metadata: { name: "inf2" } } });
    for (const name of ["keep", "change", "remove"])
      await core.createNamespacedPod({ namespace: "inf2", body: aPod(name) });
    const informer = makeInformer<V1Pod>(kc, "/api/v1/namespaces/inf2/pods", () =>
      core.listNamespacedPod({ namespace: "inf2" }),
    );
    const events = record(informer);
    await informer.start();
    try {
      await eventually(() => assert.equal(events.length, 3));
      const listsBefore = server.counters.requests("list", "pods");
      const podType = server.api.types.get("", "v1", "pods")!;
      // Delay the informer's reconnect so the changes below happen while it is disconnected,
      // then compact so its resourceVersion is too old: it must get 410 and relist.
      server.faults.setLatency(200);
      assert.ok(server.faults.dropWatches() >= 1);
      server.api.create(podType, "inf2", aPod("added"));
      server.api.delete(podType, "inf2", "remove");
      const change = structuredClone(server.api.get(podType, "inf2", "change").obj);
      change.metadata.labels = { v: "2" };
      server.api.update(podType, "inf2", "change", change);
      server.faults.compact();
      await eventually(() => assert.equal(server.counters.requests("list", "pods"), listsBefore + 1), {
        timeout: 5000,
      });
      server.faults.setLatency(0);
      await eventually(() =>
        assert.deepEqual([...events].sort(), [
          "add added",
          "add change",
          "add keep",
          "add remove",
          "delete remove",
          "update change 2",
        ]),
      );
      assert.deepEqual(
        informer
          .list("inf2")
          .map((p) => p.metadata!.name)
          .sort(),
        ["added", "change", "keep"],
      );
      // The informer is live again: a new change arrives through the new watch.
      await core.deleteNamespacedPod({ namespace: "inf2", name: "keep" });
      await eventually(() => assert.equal(events.at(-1), "delete keep"));
      assert.equal(events.filter((e) => e === "delete keep").length, 1);
    } finally {
      server.faults.reset();
      await informer.stop();
    }
  });

  it("answers a watch from a compacted resourceVersion with a 410 Expired ERROR event", async () => {
    const list = await core.listNamespacedPod({ namespace: "default" });
    await core.createNamespacedPod({ namespace: "default", body: aPod("after-list") });
    server.faults.compact();
    const expiredBefore = server.counters.expiredWatches("pods");
    const seen: { type: string; code?: number; message?: string }[] = [];
    const done = new Promise<void>((resolve) => {
      void new Watch(kc).watch(
        "/api/v1/namespaces/default/pods",
        { resourceVersion: list.metadata!.resourceVersion },
        (type, obj) => seen.push({ type, code: obj.code, message: obj.message }),
        () => resolve(),
      );
    });
    await done;
    assert.equal(seen.length, 1);
    assert.equal(seen[0].type, "ERROR");
    assert.equal(seen[0].code, 410);
    assert.match(seen[0].message!, /^too old resource version: \d+ \(\d+\)$/);
    assert.equal(server.counters.expiredWatches("pods"), expiredBefore + 1, "the 410 is counted");
  });

  it("sends bookmarks with the current resourceVersion when asked", async () => {
    const bookmarks: string[] = [];
    const controller = await new Watch(kc).watch(
      "/api/v1/namespaces/default/configmaps",
      { allowWatchBookmarks: true },
      (type, obj) => {
        if (type === "BOOKMARK") bookmarks.push(obj.metadata.resourceVersion);
      },
      () => undefined,
    );
    try {
      await core.createNamespacedConfigMap({ namespace: "default", body: { metadata: { name: "bm" } } });
      await eventually(() => {
        assert.ok(bookmarks.length >= 2);
        assert.ok(Number(bookmarks.at(-1)) >= Number(bookmarks[0]));
      });
    } finally {
      controller.abort();
    }
  });

  it("serves custom objects through CustomObjectsApi", async () => {
    const ext = kc.makeApiClient(CustomObjectsApi);
    await fetch(`${server.url}/apis/apiextensions.k8s.io/v1/customresourcedefinitions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(widgetCrd()),
    });
    await ext.createNamespacedCustomObject({
      group: "example.com",
      version: "v1",
      namespace: "default",
      plural: "widgets",
      body: { apiVersion: "example.com/v1", kind: "Widget", metadata: { name: "w" }, spec: { size: 1 } },
    });
    const got = (await ext.getNamespacedCustomObject({
      group: "example.com",
      version: "v1",
      namespace: "default",
      plural: "widgets",
      name: "w",
    })) as {
      spec: { size: number };
    };
    assert.equal(got.spec.size, 1);
    await assert.rejects(
      ext.createNamespacedCustomObject({
        group: "example.com",
        version: "v1",
        namespace: "default",
        plural: "widgets",
        body: { apiVersion: "example.com/v1", kind: "Widget", metadata: { name: "w" }, spec: { size: 1 } },
      }),
      (err: { code?: number }) => err.code === 409,
    );
  });
});
