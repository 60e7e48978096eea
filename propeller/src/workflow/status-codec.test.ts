import assert from "node:assert/strict";
import { test } from "node:test";
import { clone, create, equals } from "@bufbuild/protobuf";
import fc from "fast-check";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  NodeExecution_Phase,
  NodeStatusSchema,
  WorkflowExecutionStatusSchema,
  WorkflowExecution_Phase,
  type WorkflowExecutionStatus,
} from "@flotilla/proto";
import {
  DEFAULT_CHUNK_NODES,
  DEFAULT_STATUS_BUDGET,
  StatusDigestMismatchError,
  StatusEncoder,
  compactStatus,
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
  assert.equal(uris.length, Math.ceil(20_000 / DEFAULT_CHUNK_NODES), "one chunk per 256 nodes");
  for (const uri of uris) assert.ok(blobs.data.has(uri), uri);
  assert.equal(blobs.data.size, uris.length);
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

test("kept incrementally, the encoding equals a full re-encoding after any sequence of node updates", async () => {
  const phases = [
    NodeExecution_Phase.QUEUED,
    NodeExecution_Phase.RUNNING,
    NodeExecution_Phase.SUCCEEDED,
    NodeExecution_Phase.FAILED,
  ];
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 400 }),
      fc.integer({ min: 16, max: 64 }),
      fc.constantFrom(
        DEFAULT_STATUS_BUDGET,
        { inlineNodesBytes: 2_000, objectBytes: 1024 * 1024 },
        { inlineNodesBytes: 2_000, objectBytes: 16_000 },
      ),
      fc.array(
        fc.array(fc.tuple(fc.nat(), fc.constantFrom(...phases), fc.string({ maxLength: 40 })), {
          minLength: 1,
          maxLength: 30,
        }),
        { minLength: 1, maxLength: 8 },
      ),
      async (graphNodes, chunkNodes, budget, rounds) => {
        const order = Array.from({ length: graphNodes }, (_, i) => `n${i}`);
        const status = create(WorkflowExecutionStatusSchema, { phase: WorkflowExecution_Phase.RUNNING });
        const blobs = new MemBlobs();
        const options = { ...opts(blobs), budget };
        const encoder = new StatusEncoder(order, chunkNodes);
        for (const updates of rounds) {
          const changed: string[] = [];
          for (const [i, phase, message] of updates) {
            // Ids outside the graph's order (kept in a chunk of their own) happen too.
            const id = i % 7 === 6 ? `extra-${i % 5}` : `n${i % graphNodes}`;
            const ns = (status.nodes[id] ??= create(NodeStatusSchema, {}));
            ns.phase = phase;
            ns.message = message;
            ns.attempts = 1;
            ns.podName = `pod-${id}`;
            changed.push(id);
          }
          encoder.markDirty(changed);
          const incremental = await encoder.encode(status, options);
          const full = await new StatusEncoder(order, chunkNodes).encode(status, options);
          assert.equal(incremental.encoding, full.encoding);
          assert.deepEqual(incremental.json, full.json);
          assert.equal(incremental.statusBytes, full.statusBytes);
          assert.equal(incremental.statusBytes, Buffer.byteLength(JSON.stringify(incremental.json)));
          const expected = clone(WorkflowExecutionStatusSchema, status);
          compactStatus(expected);
          const back = await decodeStatus(incremental.json, blobs);
          assert.ok(equals(WorkflowExecutionStatusSchema, back, expected), "decodes to the compacted status");
        }
      },
    ),
    { numRuns: 60 },
  );
});

test("offloaded chunks are content-addressed: an unchanged chunk is not written again", async () => {
  const order = Array.from({ length: 5_000 }, (_, i) => `node-${i}`);
  const status = statusWith(5_000, false);
  const puts: string[] = [];
  const blobs = new MemBlobs();
  const counting: StatusBlobs = {
    put: async (uri, d) => {
      puts.push(uri);
      await blobs.put(uri, d);
    },
    get: (uri) => blobs.get(uri),
    delete: (uri) => blobs.delete(uri),
    join: (b, ...p) => blobs.join(b, ...p),
  };
  const options = { ...opts(counting), budget: { inlineNodesBytes: 1_000, objectBytes: 8_000 } };
  const encoder = new StatusEncoder(order);
  const first = await encoder.encode(status, options);
  assert.equal(first.encoding, "offloaded");
  assert.equal(puts.length, Math.ceil(5_000 / DEFAULT_CHUNK_NODES));
  const ns = status.nodes["node-4321"];
  assert.ok(ns);
  ns.phase = NodeExecution_Phase.SUCCEEDED;
  encoder.markDirty(["node-4321"]);
  const second = await encoder.encode(status, options);
  assert.equal(puts.length, Math.ceil(5_000 / DEFAULT_CHUNK_NODES) + 1, "only the changed chunk was stored");
  assert.deepEqual(
    second.offloadedUris?.filter((u) => !first.offloadedUris?.includes(u)),
    [puts.at(-1)],
  );
  const back = await decodeStatus(second.json, blobs);
  assert.equal(back.nodes["node-4321"]?.phase, NodeExecution_Phase.SUCCEEDED);
  assert.equal(Object.keys(back.nodes).length, 5_000);
});
