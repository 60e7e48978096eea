import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { format } from "prettier";
import { MANIFEST_PATH, writeManifest } from "../manifest.js";
import { stableJson } from "./stable-json.js";

const prettier = (text: string) => format(text, { parser: "json", printWidth: 110 });

test("stableJson output is left unchanged by the repository formatter", async () => {
  const samples: unknown[] = [
    { a: 1, b: [1, 2, 3], c: [], d: {}, e: [{ x: 1 }], f: [[1], [2]], g: "s", h: null, i: true },
    { long: Array.from({ length: 40 }, (_, i) => `value-${i}`), nested: { deeper: { list: ["a", "b"] } } },
    [{ a: 1 }, { b: 2 }],
    {
      pairs: [
        [1, 2],
        [3, 4],
      ],
      singles: [[1], [2]],
      mixed: [[1, 2], [3]],
      deep: [[{ a: 1 }]],
    },
    [],
  ];
  for (const v of samples) {
    const text = stableJson(v);
    assert.deepEqual(JSON.parse(text), v);
    assert.equal(text, await prettier(text));
  }
});

test("the generated oclif manifest is already formatted (lint stays clean)", async () => {
  await writeManifest();
  const text = readFileSync(MANIFEST_PATH, "utf8");
  assert.equal(text, await prettier(text));
  assert.ok(Object.keys((JSON.parse(text) as { commands: object }).commands).length >= 18);
});
