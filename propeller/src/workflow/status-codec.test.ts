import assert from "node:assert/strict";
import { test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  NodeExecution_Phase,
  NodeStatusSchema,
  WorkflowExecutionStatusSchema,
  WorkflowExecution_Phase,
  type WorkflowExecutionStatus,
} from "@flotilla/proto";
import {
  DEFAULT_STATUS_BUDGET,
  StatusDigestMismatchError,
  decodeStatus,
  encodeStatus,
  type StatusBlobs,
} from "./status-codec.js";

class MemBlobs implements StatusBlobs {
  readonly data = new Map<string, Uint8Array>();
  async put(uri: string, d: Uint8Array) {
    this.data.set(uri, d);
  }
  async get(uri: string) {
    const d = this.data.get(uri);
    if (!d) throw new Error(`missing ${uri}`);
    return d;
  }
  async delete(uri: string) {
    this.data.delete(uri);
  }
  join(base: string, ...parts: string[]) {
    return [base.replace(/\/$/, ""), ...parts].join("/");
  }
}

function statusWith(nodes: number, terminal: boolean): WorkflowExecutionStatus {
  const s = create(WorkflowExecutionStatusSchema, {
    phase: WorkflowExecution_Phase.RUNNING,
    phaseVersion: 1,
  });
  const t = timestampFromDate(new Date("2026-01-01T00:00:00Z"));
  for (let i = 0; i < nodes; i++) {
    s.nodes[`node-${i}`] = create(NodeStatusSchema, {
      phase: terminal ? NodeExecution_Phase.SUCCEEDED : NodeExecution_Phase.RUNNING,
      startedAt: t,
      stoppedAt: terminal ? t : undefined,
      attempts: 1,
      podName: `exec-node-${i}-0`,
      outputsUri: `file:///blobs/p/d/exec/nodes/node-${i}/0/outputs.pb`,
      phaseVersion: 2,
    });
  }
  return s;
}

const opts = (blobs: StatusBlobs) => ({
  budget: DEFAULT_STATUS_BUDGET,
  otherBytes: 2_000,
  blobs,
  offloadPrefix: "mem://p/",
});

test("a small status stays plain, terminal nodes compacted", async () => {
  const blobs = new MemBlobs();
  const enc = await encodeStatus(statusWith(10, true), opts(blobs));
  assert.equal(enc.encoding, "plain");
  const back = await decodeStatus(enc.json, blobs);
  assert.equal(Object.keys(back.nodes).length, 10);
  assert.equal(back.nodes["node-3"]?.podName, "", "terminal node dropped its pod name");
  assert.equal(back.nodes["node-3"]?.attempts, 1, "attempts kept to locate outputs");
  assert.equal(back.nodes["node-3"]?.phase, NodeExecution_Phase.SUCCEEDED);
});

test("a large node map is gzip-compressed inline and round-trips", async () => {
  const blobs = new MemBlobs();
  const status = statusWith(3_000, false);
  const enc = await encodeStatus(status, opts(blobs));
  assert.equal(enc.encoding, "gzip");
  assert.ok(enc.statusBytes < DEFAULT_STATUS_BUDGET.objectBytes);
  const back = await decodeStatus(enc.json, blobs);
  assert.equal(Object.keys(back.nodes).length, 3_000);
  assert.equal(back.nodes["node-2999"]?.podName, "exec-node-2999-0");
});

test("a map too large even compressed is offloaded in content-addressed chunks, and tampering is detected", async () => {
  const blobs = new MemBlobs();
  const status = statusWith(20_000, false);
  for (const [id, ns] of Object.entries(status.nodes))
    ns.message = `${id} ${Math.random().toString(36).repeat(4)}`;
  const enc = await encodeStatus(status, {
    ...opts(blobs),
    budget: { inlineNodesBytes: 64 * 1024, objectBytes: 256 * 1024 },
  });
  assert.equal(enc.encoding, "offloaded");
  const uris = enc.offloadedUris ?? [];
  assert.equal(uris.length, 20, "one chunk per 1,000 nodes");
  for (const uri of uris) assert.ok(blobs.data.has(uri), uri);
  assert.equal(blobs.data.size, 20);
  const back = await decodeStatus(enc.json, blobs);
  assert.equal(Object.keys(back.nodes).length, 20_000);
  assert.deepEqual(back.nodes["node-12345"], status.nodes["node-12345"]);
  const stored = blobs.data.get(uris[7] ?? "");
  assert.ok(stored);
  stored[stored.length - 1] ^= 0xff;
  await assert.rejects(decodeStatus(enc.json, blobs), StatusDigestMismatchError);
});

test("20,000 terminal nodes fit in the CR compressed", async () => {
  const blobs = new MemBlobs();
  const enc = await encodeStatus(statusWith(20_000, true), opts(blobs));
  assert.notEqual(enc.encoding, "plain");
  assert.ok(enc.statusBytes < 1_000_000, `${enc.statusBytes} bytes`);
});
