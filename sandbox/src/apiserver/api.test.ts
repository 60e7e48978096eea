import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type ApiServerHandle, ApiServerListenError, startApiServer } from "./server.js";
import { type Json, aPod, call, eventually, widgetCrd } from "./test-support.js";

const PODS = "/api/v1/namespaces/default/pods";
const MODIFIED =
  "the object has been modified; please apply your changes to the latest version and try again";

describe("api server core", () => {
  let server: ApiServerHandle;
  let url: string;
  before(async () => {
    server = await startApiServer({ objectSizeLimitBytes: 64 * 1024, requestSizeLimitBytes: 128 * 1024 });
    url = server.url;
  });
  after(async () => {
    await server.stop();
  });

  it("fails with ApiServerListenError when the port is taken", async () => {
    await assert.rejects(
      startApiServer({ port: server.port }),
      (err: unknown) => err instanceof ApiServerListenError && err.port === server.port,
    );
  });

  it("serves discovery and health", async () => {
    assert.equal((await call(url, "GET", "/healthz")).text, "ok");
    const core = await call(url, "GET", "/api/v1");
    const pods = core.body.resources.find((r: { name: string }) => r.name === "pods");
    assert.deepEqual(pods.shortNames, ["po"]);
    assert.ok(pods.verbs.includes("watch"));
    assert.ok(core.body.resources.some((r: { name: string }) => r.name === "pods/status"));
    const groups = await call(url, "GET", "/apis");
    assert.ok(groups.body.groups.some((g: { name: string }) => g.name === "coordination.k8s.io"));
  });

  it("creates, gets and lists with a cluster-wide monotonic resourceVersion", async () => {
    const created = await call(url, "POST", PODS, aPod("core-a"));
    assert.equal(created.status, 201);
    assert.equal(created.body.status.phase, "Pending");
    assert.match(created.body.metadata.uid, /^[0-9a-f-]{36}$/);
    const second = await call(url, "POST", PODS, aPod("core-b"));
    assert.ok(Number(second.body.metadata.resourceVersion) > Number(created.body.metadata.resourceVersion));
    const got = await call(url, "GET", `${PODS}/core-a`);
    assert.equal(got.body.metadata.uid, created.body.metadata.uid);
    const list = await call(url, "GET", PODS);
    assert.equal(list.body.kind, "PodList");
    assert.ok(Number(list.body.metadata.resourceVersion) >= Number(second.body.metadata.resourceVersion));
    assert.deepEqual(
      list.body.items
        .map((p: { metadata: { name: string } }) => p.metadata.name)
        .filter((n: string) => n.startsWith("core-")),
      ["core-a", "core-b"],
    );
  });

  it("answers 409 AlreadyExists, 404 NotFound and 409 Conflict with kube's Status bodies", async () => {
    await call(url, "POST", PODS, aPod("dup"));
    const again = await call(url, "POST", PODS, aPod("dup"));
    assert.equal(again.status, 409);
    assert.equal(again.body.reason, "AlreadyExists");
    assert.equal(again.body.message, 'pods "dup" already exists');
    const missing = await call(url, "GET", `${PODS}/nope`);
    assert.equal(missing.status, 404);
    assert.deepEqual(missing.body.details, { name: "nope", kind: "pods" });
    assert.equal(missing.body.message, 'pods "nope" not found');

    const current = (await call(url, "GET", `${PODS}/dup`)).body;
    const stale = structuredClone(current);
    current.metadata.labels = { round: "1" };
    assert.equal((await call(url, "PUT", `${PODS}/dup`, current)).status, 200);
    stale.metadata.labels = { round: "2" };
    const conflict = await call(url, "PUT", `${PODS}/dup`, stale);
    assert.equal(conflict.status, 409);
    assert.equal(conflict.body.reason, "Conflict");
    assert.equal(
      conflict.body.message,
      'Operation cannot be fulfilled on pods "dup": the object has been modified; please apply your changes to the latest version and try again',
    );
  });

  it("generates names from generateName", async () => {
    const pod = aPod("");
    delete pod.metadata.name;
    pod.metadata.generateName = "gen-";
    const created = await call(url, "POST", PODS, pod);
    assert.equal(created.status, 201);
    assert.match(created.body.metadata.name, /^gen-[a-z0-9]{5}$/);
    const nameless = aPod("");
    delete nameless.metadata.name;
    const invalid = await call(url, "POST", PODS, nameless);
    assert.equal(invalid.status, 422);
    assert.equal(
      invalid.body.message,
      'Pod "" is invalid: metadata.name: Required value: name or generateName is required',
    );
  });

  it("bumps generation on spec changes only and keeps status behind the status subresource", async () => {
    await call(url, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", widgetCrd());
    const base = "/apis/example.com/v1/namespaces/default/widgets";
    const created = await call(url, "POST", base, {
      apiVersion: "example.com/v1",
      kind: "Widget",
      metadata: { name: "gen" },
      spec: { size: 1 },
      status: { phase: "ignored" },
    });
    assert.equal(created.status, 201, created.text);
    assert.equal(created.body.metadata.generation, 1);
    assert.equal(created.body.status, undefined);
    const labeled = await call(
      url,
      "PATCH",
      `${base}/gen`,
      { metadata: { labels: { a: "b" } } },
      "application/merge-patch+json",
    );
    assert.equal(labeled.body.metadata.generation, 1);
    const status = await call(
      url,
      "PATCH",
      `${base}/gen/status`,
      { status: { phase: "Ready" }, spec: { size: 9 } },
      "application/merge-patch+json",
    );
    assert.equal(status.status, 200);
    assert.equal(status.body.status.phase, "Ready");
    assert.equal(status.body.spec.size, 1);
    assert.equal(status.body.metadata.generation, 1);
    const unconditional = structuredClone(status.body);
    delete unconditional.metadata.resourceVersion;
    const refused = await call(url, "PUT", `${base}/gen`, unconditional);
    assert.equal(refused.status, 422);
    assert.equal(
      refused.body.message,
      'Widget.example.com "gen" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update',
    );
    const spec = await call(
      url,
      "PATCH",
      `${base}/gen`,
      { spec: { size: 2 }, status: { phase: "nope" } },
      "application/merge-patch+json",
    );
    assert.equal(spec.body.metadata.generation, 2);
    assert.equal(spec.body.status.phase, "Ready");
  });

  it("validates custom resources against the CRD schema with kube's wording (422)", async () => {
    await call(url, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", widgetCrd());
    const base = "/apis/example.com/v1/namespaces/default/widgets";
    const missing = await call(url, "POST", base, {
      apiVersion: "example.com/v1",
      kind: "Widget",
      metadata: { name: "bad1" },
      spec: {},
    });
    assert.equal(missing.status, 422);
    assert.equal(missing.body.reason, "Invalid");
    assert.equal(missing.body.message, 'Widget.example.com "bad1" is invalid: spec.size: Required value');
    assert.deepEqual(missing.body.details.causes, [
      { reason: "FieldValueRequired", message: "Required value", field: "spec.size" },
    ]);
    const wrongType = await call(url, "POST", base, {
      apiVersion: "example.com/v1",
      kind: "Widget",
      metadata: { name: "bad2" },
      spec: { size: "three", color: "green" },
    });
    assert.equal(wrongType.status, 422);
    assert.equal(
      wrongType.body.message,
      'Widget.example.com "bad2" is invalid: [spec.size: Invalid value: "string": spec.size in body must be of type integer: "string", spec.color: Unsupported value: "green": supported values: "red", "blue"]',
    );
    const pruned = await call(url, "POST", base, {
      apiVersion: "example.com/v1",
      kind: "Widget",
      metadata: { name: "pruned" },
      spec: { size: 1, unknownField: true },
    });
    assert.equal(pruned.status, 201);
    assert.equal(pruned.body.spec.unknownField, undefined);
  });

  it("refuses oversized requests with 413 and oversized objects like etcd (500)", async () => {
    const big = aPod("big");
    big.metadata.annotations = { blob: "x".repeat(200 * 1024) };
    const tooBigRequest = await call(url, "POST", PODS, big);
    assert.equal(tooBigRequest.status, 413);
    assert.deepEqual(tooBigRequest.body, {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: "Request entity too large: limit is 131072",
      reason: "RequestEntityTooLarge",
      code: 413,
    });
    big.metadata.annotations = { blob: "x".repeat(100 * 1024) };
    const tooBigObject = await call(url, "POST", PODS, big);
    assert.equal(tooBigObject.status, 500);
    assert.deepEqual(tooBigObject.body, {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: "etcdserver: request is too large",
      code: 500,
    });
    assert.equal((await call(url, "GET", `${PODS}/big`)).status, 404);
  });

  it("filters lists by label and field selectors", async () => {
    await call(url, "POST", "/api/v1/namespaces", { metadata: { name: "sel" } });
    const base = "/api/v1/namespaces/sel/pods";
    await call(url, "POST", base, aPod("s1", { labels: { app: "web", tier: "front" } }));
    await call(url, "POST", base, aPod("s2", { labels: { app: "web", tier: "back" } }));
    await call(url, "POST", base, aPod("s3", { labels: { app: "db" } }));
    const names = async (query: string): Promise<string[]> =>
      (await call(url, "GET", `${base}?${query}`)).body.items.map(
        (p: { metadata: { name: string } }) => p.metadata.name,
      );
    assert.deepEqual(await names("labelSelector=app%3Dweb"), ["s1", "s2"]);
    assert.deepEqual(await names("labelSelector=app!%3Dweb"), ["s3"]);
    assert.deepEqual(await names("labelSelector=tier%20in%20(back,middle)"), ["s2"]);
    assert.deepEqual(await names("labelSelector=tier%20notin%20(back)"), ["s1", "s3"]);
    assert.deepEqual(await names("labelSelector=tier"), ["s1", "s2"]);
    assert.deepEqual(await names("labelSelector=!tier"), ["s3"]);
    assert.deepEqual(await names("fieldSelector=metadata.name%3Ds2"), ["s2"]);
    assert.deepEqual(await names("fieldSelector=status.phase%3DPending,metadata.name!%3Ds1"), ["s2", "s3"]);
    const bad = await call(url, "GET", `${base}?labelSelector=${encodeURIComponent("a in b")}`);
    assert.equal(bad.status, 400);
  });

  it("paginates with limit and continue", async () => {
    await call(url, "POST", "/api/v1/namespaces", { metadata: { name: "page" } });
    const base = "/api/v1/namespaces/page/configmaps";
    for (let i = 0; i < 7; i++)
      await call(url, "POST", base, { metadata: { name: `cm-${i}` }, data: { i: String(i) } });
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await call(
        url,
        "GET",
        `${base}?limit=3${token ? `&continue=${encodeURIComponent(token)}` : ""}`,
      );
      pages++;
      seen.push(...page.body.items.map((c: { metadata: { name: string } }) => c.metadata.name));
      token = page.body.metadata.continue;
      if (token) assert.equal(page.body.metadata.remainingItemCount, 7 - seen.length);
    } while (token);
    assert.equal(pages, 3);
    assert.deepEqual(seen, ["cm-0", "cm-1", "cm-2", "cm-3", "cm-4", "cm-5", "cm-6"]);
  });

  it("continues a paginated, selector-filtered list across concurrent writes", async () => {
    await call(url, "POST", "/api/v1/namespaces", { metadata: { name: "page2" } });
    const base = "/api/v1/namespaces/page2/configmaps";
    for (const name of ["b", "c", "d", "e"]) {
      await call(url, "POST", base, { metadata: { name, labels: { keep: name === "c" ? "no" : "yes" } } });
    }
    const first = await call(url, "GET", `${base}?limit=2&labelSelector=keep%3Dyes`);
    assert.deepEqual(
      first.body.items.map((c: Json) => c.metadata.name),
      ["b", "d"],
    );
    assert.equal(first.body.metadata.remainingItemCount, undefined);
    await call(url, "POST", base, { metadata: { name: "a", labels: { keep: "yes" } } });
    await call(url, "POST", base, { metadata: { name: "f", labels: { keep: "yes" } } });
    const token = encodeURIComponent(first.body.metadata.continue);
    const second = await call(url, "GET", `${base}?limit=2&labelSelector=keep%3Dyes&continue=${token}`);
    assert.deepEqual(
      second.body.items.map((c: Json) => c.metadata.name),
      ["e", "f"],
    );
    assert.equal(second.body.metadata.continue, undefined);
    const bad = await call(url, "GET", `${base}?limit=2&continue=not-a-token`);
    assert.equal(bad.status, 400);
  });

  it("applies merge, JSON and strategic merge patches", async () => {
    await call(url, "POST", PODS, aPod("patchme", { labels: { a: "1" } }));
    const merge = await call(
      url,
      "PATCH",
      `${PODS}/patchme`,
      { metadata: { labels: { a: null, b: "2" } } },
      "application/merge-patch+json",
    );
    assert.deepEqual(merge.body.metadata.labels, { b: "2" });
    const json = await call(
      url,
      "PATCH",
      `${PODS}/patchme`,
      [{ op: "add", path: "/metadata/labels/c", value: "3" }],
      "application/json-patch+json",
    );
    assert.deepEqual(json.body.metadata.labels, { b: "2", c: "3" });
    const smp = await call(
      url,
      "PATCH",
      `${PODS}/patchme/status`,
      {
        status: {
          conditions: [
            { type: "Ready", status: "False" },
            { type: "PodScheduled", status: "True" },
          ],
        },
      },
      "application/strategic-merge-patch+json",
    );
    assert.equal(smp.status, 200);
    const smp2 = await call(
      url,
      "PATCH",
      `${PODS}/patchme/status`,
      { status: { conditions: [{ type: "Ready", status: "True" }] } },
      "application/strategic-merge-patch+json",
    );
    assert.deepEqual(
      smp2.body.status.conditions.map((c: { type: string; status: string }) => `${c.type}=${c.status}`),
      ["Ready=True", "PodScheduled=True"],
    );
    const image = await call(
      url,
      "PATCH",
      `${PODS}/patchme`,
      { spec: { containers: [{ name: "main", image: "busybox:2" }] } },
      "application/strategic-merge-patch+json",
    );
    assert.equal(image.body.spec.containers.length, 1);
    assert.equal(image.body.spec.containers[0].image, "busybox:2");
    const forbidden = await call(
      url,
      "PATCH",
      `${PODS}/patchme`,
      { spec: { restartPolicy: "Never" } },
      "application/merge-patch+json",
    );
    assert.equal(forbidden.status, 422);
    assert.match(
      forbidden.body.message,
      /^Pod "patchme" is invalid: spec: Forbidden: pod updates may not change fields/,
    );
  });

  it("streams watch events from a resourceVersion and filters by selector transitions", async () => {
    await call(url, "POST", "/api/v1/namespaces", { metadata: { name: "watch" } });
    const base = "/api/v1/namespaces/watch/pods";
    const start = (await call(url, "GET", base)).body.metadata.resourceVersion;
    const controller = new AbortController();
    const res = await fetch(`${url}${base}?watch=true&resourceVersion=${start}&labelSelector=app%3Dw`, {
      signal: controller.signal,
    });
    const events: { type: string; name: string }[] = [];
    const reading = (async () => {
      const decoder = new TextDecoder();
      let buffer = "";
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let nl: number;
        while ((nl = buffer.indexOf("\n")) >= 0) {
          const line = JSON.parse(buffer.slice(0, nl));
          buffer = buffer.slice(nl + 1);
          events.push({ type: line.type, name: line.object.metadata.name });
        }
      }
    })().catch(() => undefined);
    await call(url, "POST", base, aPod("w1", { labels: { app: "w" } }));
    await call(url, "POST", base, aPod("w2", { labels: { app: "other" } }));
    await call(
      url,
      "PATCH",
      `${base}/w2`,
      { metadata: { labels: { app: "w" } } },
      "application/merge-patch+json",
    );
    await call(
      url,
      "PATCH",
      `${base}/w1`,
      { metadata: { labels: { app: "gone" } } },
      "application/merge-patch+json",
    );
    await call(url, "DELETE", `${base}/w2`);
    await eventually(() =>
      assert.deepEqual(events, [
        { type: "ADDED", name: "w1" },
        { type: "ADDED", name: "w2" },
        { type: "DELETED", name: "w1" },
        { type: "DELETED", name: "w2" },
      ]),
    );
    controller.abort();
    await reading;
  });

  it("serves leases with create-on-update and optimistic concurrency for leader election", async () => {
    const path = "/apis/coordination.k8s.io/v1/namespaces/default/leases/leader";
    const lease = (holder: string, rv?: string): Json => ({
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      metadata: { name: "leader", ...(rv ? { resourceVersion: rv } : {}) },
      spec: { holderIdentity: holder, leaseDurationSeconds: 15 },
    });
    const created = await call(url, "PUT", path, lease("a"));
    assert.equal(created.status, 200);
    const rv = created.body.metadata.resourceVersion;
    assert.equal((await call(url, "PUT", path, lease("b", rv))).status, 200);
    const lost = await call(url, "PUT", path, lease("c", rv));
    assert.equal(lost.status, 409);
    assert.equal(
      lost.body.message,
      'Operation cannot be fulfilled on leases.coordination.k8s.io "leader": ' + MODIFIED,
    );
    assert.equal((await call(url, "GET", path)).body.spec.holderIdentity, "b");
  });

  it("counts requests and successful pod creates", async () => {
    await call(url, "POST", "/api/v1/namespaces", { metadata: { name: "count" } });
    const before = server.counters.requests("create", "pods");
    await call(url, "POST", "/api/v1/namespaces/count/pods", aPod("once"));
    await call(url, "POST", "/api/v1/namespaces/count/pods", aPod("once"));
    assert.equal(server.counters.requests("create", "pods"), before + 2);
    assert.equal(server.counters.podCreates("count", "once"), 1);
    assert.deepEqual(server.counters.duplicatePodCreates(), []);
  });

  it("injects 429 errors with Retry-After for matching requests only", async () => {
    server.faults.setErrorRate(1, { code: 429, retryAfterSeconds: 3, verbs: ["list"] });
    try {
      const res = await call(url, "GET", PODS);
      assert.equal(res.status, 429);
      assert.equal(res.headers.get("retry-after"), "3");
      assert.equal(res.body.reason, "TooManyRequests");
      assert.equal((await call(url, "GET", `${PODS}/core-a`)).status, 200);
    } finally {
      server.faults.reset();
    }
    assert.equal((await call(url, "GET", PODS)).status, 200);
  });
});
