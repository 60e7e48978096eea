import assert from "node:assert/strict";
import { test } from "node:test";
import { boundedName, executionNamespace, isDnsLabel, taskPodName } from "./names.js";

test("namespaces are {project}-{domain} when that is a DNS label", () => {
  assert.equal(executionNamespace("ml", "development"), "ml-development");
});

test("pod names are deterministic, valid and distinct for distinct attempts", () => {
  const a = taskPodName("exec-abc", "train", 0);
  assert.equal(a, "exec-abc-train-0");
  assert.equal(taskPodName("exec-abc", "train", 0), a);
  assert.notEqual(taskPodName("exec-abc", "train", 1), a);
});

test("long or non-DNS inputs are shortened with a hash and stay valid and distinct", () => {
  const long = "x".repeat(80);
  const n1 = taskPodName(long, "node_A", 3);
  const n2 = taskPodName(long, "node_B", 3);
  assert.ok(isDnsLabel(n1), n1);
  assert.ok(n1.length <= 63);
  assert.notEqual(n1, n2);
  assert.ok(isDnsLabel(boundedName("Upper_Case", 63)));
  assert.notEqual(boundedName("Upper_Case", 63), boundedName("upper-case", 63));
});
