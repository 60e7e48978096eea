import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ApiException } from "@kubernetes/client-node";
import { connectCluster, credentialsFromRef } from "./connection.js";
import {
  ClusterCredentialsError,
  ClusterRequestError,
  ClusterUnreachableError,
  toDataPlaneError,
} from "./errors.js";

const KUBECONFIG = `
apiVersion: v1
kind: Config
clusters:
  - name: one
    cluster: { server: "https://one.example:6443" }
  - name: two
    cluster: { server: "https://two.example:6443" }
users:
  - name: u
    user: { token: t }
contexts:
  - name: one
    context: { cluster: one, user: u }
  - name: two
    context: { cluster: two, user: u }
current-context: one
`;

describe("cluster connections", () => {
  test("uses the requested kubeconfig context", () => {
    assert.equal(
      connectCluster("c", { kind: "kubeconfigInline", kubeconfig: KUBECONFIG }).server,
      "https://one.example:6443",
    );
    assert.equal(
      connectCluster("c", { kind: "kubeconfigInline", kubeconfig: KUBECONFIG, context: "two" }).server,
      "https://two.example:6443",
    );
    assert.throws(
      () => connectCluster("c", { kind: "kubeconfigInline", kubeconfig: KUBECONFIG, context: "three" }),
      (err: unknown) =>
        err instanceof ClusterCredentialsError && err.cluster === "c" && /three/.test(err.message),
    );
  });

  test("resolves credentials_ref forms and rejects unsupported ones", () => {
    assert.deepEqual(credentialsFromRef("c", "", "http://127.0.0.1:1234"), {
      kind: "endpoint",
      server: "http://127.0.0.1:1234",
    });
    assert.deepEqual(credentialsFromRef("c", "/etc/kube/config#prod", ""), {
      kind: "kubeconfigFile",
      path: "/etc/kube/config",
      context: "prod",
    });
    assert.deepEqual(credentialsFromRef("c", "file:///etc/kube/config", ""), {
      kind: "kubeconfigFile",
      path: "/etc/kube/config",
      context: undefined,
    });
    assert.throws(() => credentialsFromRef("c", "secret://flotilla/c", ""), ClusterCredentialsError);
    assert.throws(() => credentialsFromRef("c", "", ""), ClusterCredentialsError);
  });

  test("classifies client-node failures: no answer or 5xx is unreachable, other statuses are rejections", () => {
    const refused = toDataPlaneError(
      "a",
      "create",
      Object.assign(new Error("fetch failed"), { cause: { code: "ECONNREFUSED" } }),
    );
    assert.ok(refused instanceof ClusterUnreachableError);
    assert.match(refused.message, /ECONNREFUSED/);
    assert.ok(
      toDataPlaneError("a", "create", new ApiException(503, "x", "{}", {})) instanceof
        ClusterUnreachableError,
    );
    const forbidden = toDataPlaneError(
      "a",
      "create",
      new ApiException(403, "x", JSON.stringify({ message: "no RBAC" }), {}),
    );
    assert.ok(forbidden instanceof ClusterRequestError);
    assert.equal(forbidden.status, 403);
    assert.match(forbidden.message, /no RBAC/);
  });
});
