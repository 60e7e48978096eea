import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ApiError } from "./errors.js";
import { jsonEqual } from "./objects.js";
import { mergePatch, strategicMergePatch } from "./patch.js";
import { parseFieldSelector, parseLabelSelector } from "./selectors.js";
import { defaultAndPrune, validateSchema } from "./schema.js";
import { ObjectStore } from "./store.js";
import { canonicalJson } from "./validation.js";

describe("jsonEqual", () => {
  it("agrees with comparing sorted-key JSON", () => {
    const cases: [unknown, unknown][] = [
      [
        { a: 1, b: { c: [1, 2] } },
        { b: { c: [1, 2] }, a: 1 },
      ],
      [{ a: 1 }, { a: 1, b: undefined }],
      [{ a: 1, b: null }, { a: 1 }],
      [
        [1, { x: "y" }],
        [1, { x: "y" }],
      ],
      [
        [1, 2],
        [2, 1],
      ],
      [{ a: [] }, { a: {} }],
      [{ a: "1" }, { a: 1 }],
      [null, {}],
      [{ a: { b: { c: 1 } } }, { a: { b: { c: 2 } } }],
      [{ a: 1 }, { b: 1 }],
      ["s", "s"],
      [0, false],
    ];
    for (const [a, b] of cases) {
      const expected = canonicalJson(a) === canonicalJson(b);
      assert.equal(jsonEqual(a, b), expected, `${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
      assert.equal(jsonEqual(b, a), expected, `${JSON.stringify(b)} vs ${JSON.stringify(a)}`);
    }
  });
});

describe("selectors", () => {
  it("matches every label operator", () => {
    const labels = { app: "web", tier: "front" };
    assert.ok(parseLabelSelector("app=web,tier==front").matches(labels));
    assert.ok(parseLabelSelector("app!=db").matches(labels));
    assert.ok(parseLabelSelector("tier in (front, back)").matches(labels));
    assert.ok(!parseLabelSelector("tier notin (front)").matches(labels));
    assert.ok(parseLabelSelector("app,!missing").matches(labels));
    assert.ok(!parseLabelSelector("missing").matches(labels));
    assert.ok(parseLabelSelector("").matches(undefined));
    assert.equal(parseLabelSelector("a=b,c in (d)").equalityValue("a"), "b");
  });

  it("rejects malformed selectors with 400", () => {
    assert.throws(
      () => parseLabelSelector("a in b"),
      (err: unknown) => err instanceof ApiError && err.code === 400,
    );
    assert.throws(
      () => parseFieldSelector("status.phase"),
      (err: unknown) => err instanceof ApiError && err.code === 400,
    );
  });

  it("reads nested fields for field selectors", () => {
    const pod = { metadata: { name: "p" }, spec: { nodeName: "n1" }, status: { phase: "Running" } };
    assert.ok(parseFieldSelector("spec.nodeName=n1,status.phase!=Failed").matches(pod));
    assert.ok(parseFieldSelector("spec.nodeName=").matches({ spec: {} }));
    assert.ok(!parseFieldSelector("metadata.name=q").matches(pod));
  });
});

describe("patches", () => {
  it("merge patch deletes with null and replaces lists", () => {
    assert.deepEqual(mergePatch({ a: 1, b: { c: 2, d: 3 }, l: [1, 2] }, { a: null, b: { c: 5 }, l: [3] }), {
      b: { c: 5, d: 3 },
      l: [3],
    });
  });

  it("strategic merge patch merges keyed lists and honours directives", () => {
    const pod = {
      spec: {
        containers: [
          { name: "a", image: "x:1", env: [{ name: "K", value: "1" }] },
          { name: "b", image: "y:1" },
        ],
      },
      metadata: { finalizers: ["f1"] },
    };
    const patched = strategicMergePatch(pod, {
      spec: {
        "$setElementOrder/containers": [{ name: "a" }, { name: "b" }],
        containers: [
          { name: "a", env: [{ name: "K2", value: "2" }] },
          { name: "b", $patch: "delete" },
        ],
      },
      metadata: { finalizers: ["f2"], "$deleteFromPrimitiveList/finalizers": ["f1"] },
    });
    assert.deepEqual(patched, {
      spec: {
        containers: [
          {
            name: "a",
            image: "x:1",
            env: [
              { name: "K", value: "1" },
              { name: "K2", value: "2" },
            ],
          },
        ],
      },
      metadata: { finalizers: ["f2"] },
    });
    assert.deepEqual(strategicMergePatch({ m: { a: 1, b: 2 } }, { m: { $patch: "replace", c: 3 } }), {
      m: { c: 3 },
    });
  });
});

describe("structural schemas", () => {
  const schema = {
    type: "object",
    properties: {
      spec: {
        type: "object",
        required: ["n"],
        properties: {
          n: { type: "integer", maximum: 3 },
          mode: { type: "string", default: "auto" },
          any: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
          port: { "x-kubernetes-int-or-string": true },
          items: { type: "array", items: { type: "string" } },
        },
      },
    },
  };

  it("defaults, prunes and reports what it pruned", () => {
    const obj: Record<string, unknown> = {
      metadata: { name: "x" },
      spec: { n: 1, extra: true, any: { kept: 1 } },
      top: 1,
    };
    const pruned: string[] = [];
    defaultAndPrune(schema, obj, pruned);
    assert.deepEqual(obj, { metadata: { name: "x" }, spec: { n: 1, mode: "auto", any: { kept: 1 } } });
    assert.deepEqual(pruned.sort(), ["spec.extra", "top"]);
  });

  it("reports type, bound and required errors with field paths", () => {
    const causes = validateSchema(schema, { spec: { n: 9, port: true, items: ["a", 2] } });
    assert.deepEqual(
      causes.map((c) => `${c.field}: ${c.message}`),
      [
        "spec.n: Invalid value: 9: spec.n in body should be less than or equal to 3",
        'spec.port: Invalid value: true: spec.port in body must be of type integer,string: "boolean"',
        'spec.items[1]: Invalid value: "integer": spec.items[1] in body must be of type string: "integer"',
      ],
    );
    assert.deepEqual(
      validateSchema(schema, { spec: {} }).map((c) => c.field),
      ["spec.n"],
    );
  });
});

describe("object store sorted order", () => {
  it("keeps cached sorted ids exact through interleaved creates and deletes", () => {
    const store = new ObjectStore({ objectSizeLimitBytes: 1 << 20, compactionWindow: 1000 });
    const live = new Set<string>();
    let seed = 7;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const expected = (ns: string | undefined) =>
      [...live].filter((id) => ns === undefined || id.startsWith(`${ns}/`)).sort();
    for (let step = 0; step < 2000; step++) {
      const namespace = ["a", "b", "c"][random(3)];
      const name = `pod-${random(150)}`;
      const id = `${namespace}/${name}`;
      const obj = { metadata: { namespace, name } };
      if (live.has(id) && random(2) === 0) {
        store.commit("v1/pods", "DELETED", obj);
        live.delete(id);
      } else {
        store.commit("v1/pods", live.has(id) ? "MODIFIED" : "ADDED", obj);
        live.add(id);
      }
      // Read the orders often enough that they are cached while later writes land.
      if (step % 7 === 0) {
        assert.deepEqual(store.sortedIds("v1/pods", undefined), expected(undefined), `all, step ${step}`);
        assert.deepEqual(
          store.sortedIds("v1/pods", namespace),
          expected(namespace),
          `${namespace}, step ${step}`,
        );
      }
    }
    for (const ns of [undefined, "a", "b", "c"])
      assert.deepEqual(store.sortedIds("v1/pods", ns), expected(ns));
  });
});
