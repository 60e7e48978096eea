import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ApiException } from "@kubernetes/client-node";
import { callCluster } from "./call.js";
import type { ClusterConnection } from "./connection.js";
import { ClusterRequestError, ClusterUnreachableError } from "./errors.js";

// callCluster only names the cluster of the connection; the request is the test's.
const conn = { cluster: "c1" } as ClusterConnection;
const failWith = (status: number) => () => Promise.reject(new ApiException(status, "x", "{}", {}));

describe("callCluster", () => {
  test("returns the result, or the value of an expected status", async () => {
    assert.equal(await callCluster(conn, "read", { timeoutMs: 1000 }, () => Promise.resolve(7)), 7);
    assert.equal(
      await callCluster(conn, "create", { timeoutMs: 1000 }, failWith(409), { 409: "exists" }),
      "exists",
    );
    assert.equal(
      await callCluster(conn, "read", { timeoutMs: 1000 }, failWith(404), { 404: undefined }),
      undefined,
    );
  });

  test("an unexpected status is a rejected request, no answer in time an unreachable cluster", async () => {
    await assert.rejects(
      callCluster(conn, "create", { timeoutMs: 1000 }, failWith(403), { 409: "exists" }),
      (err: unknown) => err instanceof ClusterRequestError && err.status === 403 && err.cluster === "c1",
    );
    await assert.rejects(
      // A server that answers after 500 ms (its pending socket is this timer).
      callCluster(conn, "create x", { timeoutMs: 20 }, () => new Promise((r) => setTimeout(r, 500))),
      (err: unknown) =>
        err instanceof ClusterUnreachableError &&
        err.reason === "ClusterUnreachable" &&
        /create x timed out after 20 ms/.test(err.message),
    );
  });
});
