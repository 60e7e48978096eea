import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type ApiServerHandle, startApiServer } from "./server.js";
import { type Json, aPod, call, eventually, widgetCrd } from "./test-support.js";

const CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";

describe("object lifecycle: finalizers, garbage collection, namespaces, quota", () => {
  let server: ApiServerHandle;
  let url: string;
  before(async () => {
    server = await startApiServer();
    url = server.url;
    assert.equal((await call(url, "POST", CRDS, widgetCrd())).status, 201);
  });
  after(async () => {
    await server.stop();
  });

  async function namespace(name: string): Promise<void> {
    assert.equal((await call(url, "POST", "/api/v1/namespaces", { metadata: { name } })).status, 201);
  }

  async function widget(ns: string, name: string, extra: Json = {}): Promise<Json> {
    const res = await call(url, "POST", `/apis/example.com/v1/namespaces/${ns}/widgets`, {
      apiVersion: "example.com/v1",
      kind: "Widget",
      metadata: { name, ...extra },
      spec: { size: 1 },
    });
    assert.equal(res.status, 201, res.text);
    return res.body;
  }

  async function ownedPod(ns: string, name: string, owner: Json): Promise<void> {
    const pod = aPod(name);
    pod.metadata.ownerReferences = [
      {
        apiVersion: "example.com/v1",
        kind: "Widget",
        name: owner.metadata.name,
        uid: owner.metadata.uid,
        controller: true,
        blockOwnerDeletion: true,
      },
    ];
    assert.equal((await call(url, "POST", `/api/v1/namespaces/${ns}/pods`, pod)).status, 201);
  }

  const exists = async (path: string): Promise<boolean> => (await call(url, "GET", path)).status === 200;

  it("keeps an object with finalizers until the last one is removed", async () => {
    await namespace("fin");
    await call(url, "POST", "/api/v1/namespaces/fin/configmaps", {
      metadata: { name: "held", finalizers: ["example.com/hold", "example.com/other"] },
    });
    const del = await call(url, "DELETE", "/api/v1/namespaces/fin/configmaps/held");
    assert.equal(del.status, 202);
    assert.ok(del.body.metadata.deletionTimestamp);
    const held = (await call(url, "GET", "/api/v1/namespaces/fin/configmaps/held")).body;
    const add = await call(
      url,
      "PATCH",
      "/api/v1/namespaces/fin/configmaps/held",
      { metadata: { finalizers: ["example.com/hold", "example.com/other", "new"] } },
      "application/merge-patch+json",
    );
    assert.equal(add.status, 422);
    assert.match(add.body.message, /no new finalizers can be added if the object is being deleted/);
    held.metadata.finalizers = ["example.com/other"];
    assert.equal((await call(url, "PUT", "/api/v1/namespaces/fin/configmaps/held", held)).status, 200);
    assert.ok(await exists("/api/v1/namespaces/fin/configmaps/held"));
    const last = await call(
      url,
      "PATCH",
      "/api/v1/namespaces/fin/configmaps/held",
      { metadata: { finalizers: null } },
      "application/merge-patch+json",
    );
    assert.equal(last.status, 200);
    assert.equal(await exists("/api/v1/namespaces/fin/configmaps/held"), false);
  });

  it("checks delete preconditions", async () => {
    await call(url, "POST", "/api/v1/namespaces/default/configmaps", { metadata: { name: "pre" } });
    const res = await call(url, "DELETE", "/api/v1/namespaces/default/configmaps/pre", {
      preconditions: { uid: "not-the-uid" },
    });
    assert.equal(res.status, 409);
    assert.match(
      res.body.message,
      /^Operation cannot be fulfilled on configmaps "pre": Precondition failed: UID in precondition: not-the-uid, UID in object meta: /,
    );
  });

  it("collects dependents in the background once their owner is gone", async () => {
    await namespace("gc-bg");
    const owner = await widget("gc-bg", "owner");
    await ownedPod("gc-bg", "dep-1", owner);
    await ownedPod("gc-bg", "dep-2", owner);
    const del = await call(url, "DELETE", "/apis/example.com/v1/namespaces/gc-bg/widgets/owner", {
      propagationPolicy: "Background",
    });
    assert.equal(del.status, 200);
    assert.equal(await exists("/apis/example.com/v1/namespaces/gc-bg/widgets/owner"), false);
    await eventually(async () =>
      assert.equal((await call(url, "GET", "/api/v1/namespaces/gc-bg/pods")).body.items.length, 0),
    );
  });

  it("deletes the owner last in foreground deletion", async () => {
    await namespace("gc-fg");
    const owner = await widget("gc-fg", "owner");
    await ownedPod("gc-fg", "dep", owner);
    await call(
      url,
      "PATCH",
      "/api/v1/namespaces/gc-fg/pods/dep",
      { metadata: { finalizers: ["example.com/slow"] } },
      "application/merge-patch+json",
    );
    const del = await call(url, "DELETE", "/apis/example.com/v1/namespaces/gc-fg/widgets/owner", {
      propagationPolicy: "Foreground",
    });
    assert.equal(del.status, 202);
    assert.deepEqual(del.body.metadata.finalizers, ["foregroundDeletion"]);
    await eventually(async () =>
      assert.ok(
        (await call(url, "GET", "/api/v1/namespaces/gc-fg/pods/dep")).body.metadata.deletionTimestamp,
      ),
    );
    assert.ok(
      await exists("/apis/example.com/v1/namespaces/gc-fg/widgets/owner"),
      "owner waits for its dependent",
    );
    await call(
      url,
      "PATCH",
      "/api/v1/namespaces/gc-fg/pods/dep",
      { metadata: { finalizers: null } },
      "application/merge-patch+json",
    );
    await eventually(async () =>
      assert.equal(await exists("/apis/example.com/v1/namespaces/gc-fg/widgets/owner"), false),
    );
    assert.equal(await exists("/api/v1/namespaces/gc-fg/pods/dep"), false);
  });

  it("orphans dependents with the Orphan policy", async () => {
    await namespace("gc-orphan");
    const owner = await widget("gc-orphan", "owner");
    await ownedPod("gc-orphan", "dep", owner);
    await call(url, "DELETE", "/apis/example.com/v1/namespaces/gc-orphan/widgets/owner", {
      propagationPolicy: "Orphan",
    });
    await eventually(async () =>
      assert.equal(await exists("/apis/example.com/v1/namespaces/gc-orphan/widgets/owner"), false),
    );
    const dep = (await call(url, "GET", "/api/v1/namespaces/gc-orphan/pods/dep")).body;
    assert.equal(dep.metadata.ownerReferences, undefined);
  });

  it("cascades namespace deletion and refuses new content while terminating", async () => {
    await namespace("doomed");
    await widget("doomed", "w");
    await call(url, "POST", "/api/v1/namespaces/doomed/configmaps", {
      metadata: { name: "cm", finalizers: ["example.com/hold"] },
    });
    await call(url, "POST", "/api/v1/namespaces/doomed/pods", aPod("p"));
    const del = await call(url, "DELETE", "/api/v1/namespaces/doomed");
    assert.equal(del.status, 202);
    assert.equal(del.body.status.phase, "Terminating");
    await eventually(async () => {
      assert.equal((await call(url, "GET", "/api/v1/namespaces/doomed/pods")).body.items.length, 0);
      assert.equal(
        (await call(url, "GET", "/apis/example.com/v1/namespaces/doomed/widgets")).body.items.length,
        0,
      );
    });
    const refused = await call(url, "POST", "/api/v1/namespaces/doomed/pods", aPod("late"));
    assert.equal(refused.status, 403);
    assert.equal(
      refused.body.message,
      'pods "late" is forbidden: unable to create new content in namespace doomed because it is being terminated',
    );
    assert.equal((await call(url, "GET", "/api/v1/namespaces/doomed")).body.status.phase, "Terminating");
    await call(
      url,
      "PATCH",
      "/api/v1/namespaces/doomed/configmaps/cm",
      { metadata: { finalizers: null } },
      "application/merge-patch+json",
    );
    await eventually(async () => assert.equal(await exists("/api/v1/namespaces/doomed"), false));
    const missing = await call(url, "POST", "/api/v1/namespaces/doomed/pods", aPod("later"));
    assert.equal(missing.status, 404);
    assert.equal(missing.body.message, 'namespaces "doomed" not found');
  });

  it("deletes scheduled pods gracefully and removes them on a zero-grace delete", async () => {
    await namespace("grace");
    await call(url, "POST", "/api/v1/namespaces/grace/pods", aPod("running"));
    const bind = await call(url, "POST", "/api/v1/namespaces/grace/pods/running/binding", {
      apiVersion: "v1",
      kind: "Binding",
      metadata: { name: "running" },
      target: { kind: "Node", name: "node-a" },
    });
    assert.equal(bind.status, 201);
    const rebind = await call(url, "POST", "/api/v1/namespaces/grace/pods/running/binding", {
      target: { kind: "Node", name: "node-b" },
    });
    assert.equal(rebind.status, 409);
    const first = await call(url, "DELETE", "/api/v1/namespaces/grace/pods/running");
    assert.equal(first.status, 202);
    assert.equal(first.body.metadata.deletionGracePeriodSeconds, 30);
    assert.ok(await exists("/api/v1/namespaces/grace/pods/running"));
    const uid = first.body.metadata.uid;
    const confirm = await call(url, "DELETE", "/api/v1/namespaces/grace/pods/running", {
      gracePeriodSeconds: 0,
      preconditions: { uid },
    });
    assert.equal(confirm.status, 200);
    assert.equal(await exists("/api/v1/namespaces/grace/pods/running"), false);
  });

  it("admits pods against ResourceQuota with kube's wording and maintains status.used", async () => {
    await namespace("quota");
    const quota = await call(url, "POST", "/api/v1/namespaces/quota/resourcequotas", {
      metadata: { name: "compute" },
      spec: { hard: { pods: "3", "requests.cpu": "2", "requests.memory": "1Gi" } },
    });
    assert.equal(quota.status, 201);
    const base = "/api/v1/namespaces/quota/pods";
    assert.equal((await call(url, "POST", base, aPod("q1", { cpu: "1", memory: "256Mi" }))).status, 201);
    const tooMuch = await call(url, "POST", base, aPod("q2", { cpu: "1500m", memory: "256Mi" }));
    assert.equal(tooMuch.status, 403);
    assert.equal(tooMuch.body.reason, "Forbidden");
    assert.equal(
      tooMuch.body.message,
      'pods "q2" is forbidden: exceeded quota: compute, requested: requests.cpu=1500m, used: requests.cpu=1, limited: requests.cpu=2',
    );
    const unspecified = await call(url, "POST", base, aPod("q3"));
    assert.equal(unspecified.status, 403);
    assert.equal(
      unspecified.body.message,
      'pods "q3" is forbidden: failed quota: compute: must specify requests.cpu for: main; requests.memory for: main',
    );
    assert.equal((await call(url, "POST", base, aPod("q4", { cpu: "1", memory: "512Mi" }))).status, 201);
    await eventually(async () => {
      const status = (await call(url, "GET", "/api/v1/namespaces/quota/resourcequotas/compute")).body.status;
      assert.deepEqual(status.used, { pods: "2", "requests.cpu": "2", "requests.memory": "768Mi" });
      assert.deepEqual(status.hard, { pods: "3", "requests.cpu": "2", "requests.memory": "1Gi" });
    });
    // A terminated pod stops counting.
    await call(
      url,
      "PATCH",
      `${base}/q1/status`,
      { status: { phase: "Succeeded" } },
      "application/merge-patch+json",
    );
    assert.equal((await call(url, "POST", base, aPod("q5", { cpu: "1", memory: "256Mi" }))).status, 201);
    await eventually(async () => {
      const used = (await call(url, "GET", "/api/v1/namespaces/quota/resourcequotas/compute")).body.status
        .used;
      assert.deepEqual(used, { pods: "2", "requests.cpu": "2", "requests.memory": "768Mi" });
    });
  });

  it("limits object counts with count/<resource> quotas", async () => {
    await namespace("count-quota");
    await call(url, "POST", "/api/v1/namespaces/count-quota/resourcequotas", {
      metadata: { name: "objects" },
      spec: { hard: { "count/configmaps": "1" } },
    });
    assert.equal(
      (await call(url, "POST", "/api/v1/namespaces/count-quota/configmaps", { metadata: { name: "a" } }))
        .status,
      201,
    );
    const second = await call(url, "POST", "/api/v1/namespaces/count-quota/configmaps", {
      metadata: { name: "b" },
    });
    assert.equal(second.status, 403);
    assert.equal(
      second.body.message,
      'configmaps "b" is forbidden: exceeded quota: objects, requested: count/configmaps=1, used: count/configmaps=1, limited: count/configmaps=1',
    );
  });

  it("removes a CRD's objects and its API when the CRD is deleted", async () => {
    const crd = widgetCrd();
    crd.metadata.name = "gadgets.example.com";
    crd.spec.names = { plural: "gadgets", singular: "gadget", kind: "Gadget" };
    crd.spec.scope = "Cluster";
    assert.equal((await call(url, "POST", CRDS, crd)).status, 201);
    const created = await call(url, "POST", "/apis/example.com/v1/gadgets", {
      apiVersion: "example.com/v1",
      kind: "Gadget",
      metadata: { name: "g" },
      spec: { size: 2 },
    });
    assert.equal(created.status, 201, created.text);
    const established = (await call(url, "GET", `${CRDS}/gadgets.example.com`)).body;
    assert.ok(
      established.status.conditions.some((c: Json) => c.type === "Established" && c.status === "True"),
    );
    await call(url, "DELETE", `${CRDS}/gadgets.example.com`);
    await eventually(async () =>
      assert.equal((await call(url, "GET", "/apis/example.com/v1/gadgets")).status, 404),
    );
    const discovery = (await call(url, "GET", "/apis/example.com/v1")).body;
    assert.ok(!discovery.resources.some((r: Json) => r.name === "gadgets"));
  });
});
