import assert from "node:assert/strict";
import { test } from "node:test";
import {
  boundedName,
  dnsLabelProblem,
  dnsSubdomainProblem,
  executionNamespace,
  isDnsLabel,
  isDnsSubdomain,
  isLabelKey,
  isLabelValue,
  taskPodName,
} from "./names.js";

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

test("DNS-1123 labels: lowercase alphanumerics and '-', alphanumeric at both ends, 63 chars at most", () => {
  for (const good of ["a", "ml", "ml-development", "0", "a1-b2", "x".repeat(63)]) {
    assert.ok(isDnsLabel(good), good);
    assert.equal(dnsLabelProblem(good), undefined, good);
  }
  for (const bad of ["", "-a", "a-", "A", "a_b", "a.b", "a b", "x".repeat(64)]) {
    assert.ok(!isDnsLabel(bad), bad);
    assert.ok(dnsLabelProblem(bad), bad);
  }
  assert.ok(isDnsLabel("x".repeat(20), 20));
  assert.ok(!isDnsLabel("x".repeat(21), 20));
});

test("a DNS label problem quotes the value, states the rule and names what is wrong", () => {
  assert.equal(
    dnsLabelProblem("Web_1"),
    `"Web_1" is not a DNS-1123 label (1-63 lowercase letters, digits or '-', starting and ending with a letter or digit): it contains "W"`,
  );
  assert.match(dnsLabelProblem("")!, /: it is empty$/);
  assert.match(dnsLabelProblem("-a")!, /: it starts with '-'$/);
  assert.match(dnsLabelProblem("a-")!, /: it ends with '-'$/);
  assert.match(dnsLabelProblem("x".repeat(21), 20)!, /\(1-20 lowercase .*: it is 21 characters long$/);
});

test("DNS-1123 subdomains: labels joined by dots, 253 chars at most", () => {
  for (const good of ["a", "example.com", "workflowexecutions.flotilla.io", "a-b.c-d.e", "x".repeat(253)]) {
    assert.ok(isDnsSubdomain(good), good);
    assert.equal(dnsSubdomainProblem(good), undefined, good);
  }
  for (const bad of ["", ".a", "a.", "a..b", "A.b", "a.-b", "a_b.c", "x".repeat(254)]) {
    assert.ok(!isDnsSubdomain(bad), bad);
    assert.ok(dnsSubdomainProblem(bad), bad);
  }
  assert.match(dnsSubdomainProblem("a..b")!, /: it has an empty part between dots$/);
  assert.match(dnsSubdomainProblem("a.B")!, /: its part "B" contains "B"$/);
});

test("label keys take an optional subdomain prefix; label values may be empty", () => {
  for (const good of ["app", "flotilla.io/project", "A_b.c-D", "x".repeat(63)])
    assert.ok(isLabelKey(good), good);
  for (const bad of ["", "/app", "a/b/c", "Bad.IO/app", "-app", "app-", "x".repeat(64), "p/"])
    assert.ok(!isLabelKey(bad), bad);
  for (const good of ["", "v1", "Some_Value.2", "x".repeat(63)]) assert.ok(isLabelValue(good), good);
  for (const bad of ["-v", "v-", "a b", "x".repeat(64)]) assert.ok(!isLabelValue(bad), bad);
});
