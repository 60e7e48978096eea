/**
 * How WorkflowExecutionStatus is stored in the CR so the object stays under etcd's size limit:
 *
 * 1. Terminal nodes are compacted to phase (and its version), start/stop times, error and attempt
 *    count (which locates their outputs: `{output_prefix}nodes/{node}/{attempts-1}/outputs.pb`),
 *    and sub-nodes likewise (a nested node's `{node}` is its execution-wide id `parent.child`).
 * 2. While the node map is small it is stored as plain proto-JSON in `status.nodes`.
 * 3. Above the inline budget the serialized NodeStatusMap is gzip-compressed into
 *    `status.compressedNodes` (base64 in JSON).
 * 4. When even that would make the object exceed the object budget, the compressed chunks are
 *    written to the blob store content-addressed and `status.offloaded_chunks` lists their URIs
 *    and sha256 digests (older CRs have one blob in `status.offloaded`; both decode).
 *
 * {@link StatusEncoder} produces these forms incrementally, chunk by chunk, so a round of a
 * large workflow re-encodes only the chunks whose nodes changed.
 */
import { gunzipSync, gzipSync, brotliDecompressSync } from "node:zlib";
import { clone, create, fromBinary, fromJson, toBinary, toJson, type JsonValue } from "@bufbuild/protobuf";
import { sha256Hex } from "@flotilla/common";
import {
  NodeStatusMapSchema,
  NodeStatusSchema,
  OffloadedStatusSchema,
  WorkflowExecutionStatusSchema,
  WorkflowExecutionStatus_NodeEncoding,
  type NodeStatus,
  type WorkflowExecutionStatus,
} from "@flotilla/proto";
import { isTerminalNodePhase } from "./phases.js";

/** Size budgets of the status encoding. */
export interface StatusBudget {
  /** Largest plain JSON node map kept inline (bytes). Default 256 KiB. */
  inlineNodesBytes: number;
  /** Largest whole object (spec + status + metadata) written (bytes). Default 1 MiB. */
  objectBytes: number;
}

/** Default budgets: well under the 1.5 MiB etcd request limit. */
export const DEFAULT_STATUS_BUDGET: StatusBudget = { inlineNodesBytes: 256 * 1024, objectBytes: 1024 * 1024 };

/** How the node map ended up stored. */
export type NodeEncodingUsed = "plain" | "gzip" | "offloaded";

/** Blob access the codec needs. */
export interface StatusBlobs {
  put(uri: string, data: Uint8Array): Promise<void>;
  get(uri: string): Promise<Uint8Array>;
  join(base: string, ...parts: string[]): string;
  /** Deletes a superseded offloaded map; absent is fine. */
  delete(uri: string): Promise<void>;
}

/** The result of encoding a status for the CR. */
export interface EncodedStatus {
  /** The proto-JSON to put at `.status`. */
  json: JsonValue;
  encoding: NodeEncodingUsed;
  /** Bytes of `json` serialized. */
  statusBytes: number;
  /** URIs of the offloaded chunks of the node map, when offloaded. */
  offloadedUris?: string[];
}

/** An offloaded node map does not match its recorded digest. */
export class StatusDigestMismatchError extends Error {
  override readonly name = "StatusDigestMismatchError";
  constructor(
    readonly uri: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`offloaded node status ${uri} has digest ${actual}, expected ${expected}`);
  }
}

/** The status cannot be made small enough for the CR even offloaded (should not happen). */
export class StatusTooLargeError extends Error {
  override readonly name = "StatusTooLargeError";
  constructor(
    readonly bytes: number,
    readonly budget: number,
  ) {
    super(
      `workflow status of ${bytes} bytes exceeds the object budget of ${budget} bytes even with offloaded nodes`,
    );
  }
}

/**
 * A terminal node keeps only what downstream nodes and users need; so do terminal sub-nodes
 * (of sub-workflow and branch nodes, at any depth), which keep their place in the tree (a
 * restarted propeller re-emits their last events too) and the branch's choice.
 */
export function compactNodeStatus(ns: NodeStatus): NodeStatus {
  if (!isTerminalNodePhase(ns.phase)) {
    const subIds = Object.keys(ns.subNodes);
    if (subIds.every((id) => !isTerminalNodePhase(ns.subNodes[id].phase))) return ns;
    const out = clone(NodeStatusSchema, ns);
    for (const id of subIds) out.subNodes[id] = compactNodeStatus(ns.subNodes[id]);
    return out;
  }
  // phaseVersion lets a restarted propeller re-emit the node's last event under its original id.
  const out = create(NodeStatusSchema, {
    phase: ns.phase,
    attempts: ns.attempts,
    phaseVersion: ns.phaseVersion,
    branchTakenNodeId: ns.branchTakenNodeId,
  });
  if (ns.startedAt) out.startedAt = ns.startedAt;
  if (ns.stoppedAt) out.stoppedAt = ns.stoppedAt;
  if (ns.error) out.error = ns.error;
  for (const [id, sub] of Object.entries(ns.subNodes)) out.subNodes[id] = compactNodeStatus(sub);
  return out;
}

/** Compacts every terminal node in place. */
export function compactStatus(status: WorkflowExecutionStatus): void {
  for (const [id, ns] of Object.entries(status.nodes)) status.nodes[id] = compactNodeStatus(ns);
}

const jsonSize = (v: JsonValue): number => Buffer.byteLength(JSON.stringify(v));

/** Nodes per chunk of the incremental encoding (consecutive in the graph's topological order). */
export const DEFAULT_CHUNK_NODES = 256;

/** Options of one encode. */
export interface EncodeOptions {
  budget: StatusBudget;
  /** Serialized size of the rest of the object (metadata + spec). */
  otherBytes: number;
  blobs: StatusBlobs;
  /** Offloaded chunks go below this prefix. */
  offloadPrefix: string;
}

/** One chunk of the node map: its compacted statuses and their encodings, made on demand. */
interface Chunk {
  nodes: { [id: string]: NodeStatus };
  count: number;
  json?: { [id: string]: JsonValue };
  /** Bytes of `json` serialized without its braces. */
  jsonInnerBytes?: number;
  gz?: Uint8Array;
  digest?: string;
}

/** The chunk of node ids that are not in the graph's order (kept last). */
const EXTRA_CHUNK = -1;

/**
 * Encodes a status for the CR incrementally: the node map is split into chunks of consecutive
 * nodes of the graph's topological order (nodes that run together share a chunk), each chunk's
 * compacted statuses, proto-JSON and gzip member are kept, and an encode rebuilds only the
 * chunks holding nodes marked dirty since the previous one. The stored forms are those of
 * {@link encodeStatus}, so {@link decodeStatus} reads them unchanged:
 * - plain: the chunks' JSON objects merged into `status.nodes`;
 * - gzip: the chunks' gzip members concatenated into `compressed_nodes` (a multi-member gzip
 *   stream of concatenated serialized `NodeStatusMap`s, which is one serialized map);
 * - offloaded: each chunk's gzip member stored content-addressed at
 *   `{prefix}status/nodes-{sha256}.pb.gz` and listed in `offloaded_chunks`; a chunk already
 *   stored (same digest) is not written again.
 *
 * One encoder belongs to one in-memory status: whoever changes a node of it calls
 * {@link markDirty} (or {@link markAllDirty} after replacing it).
 */
export class StatusEncoder {
  private readonly order: readonly string[];
  private readonly positions = new Map<string, number>();
  private readonly chunks = new Map<number, Chunk>();
  private readonly dirty = new Set<string>();
  /** Ids of nodes not in the order (the extra chunk), as seen when marked dirty. */
  private readonly extraIds = new Set<string>();
  private allDirty = true;
  /** URIs of chunks known to be in the blob store (content-addressed: same URI, same bytes). */
  private readonly stored = new Set<string>();

  /**
   * @param order the topological order of the top-level nodes (chunk boundaries); absent:
   *   every node goes to one chunk.
   */
  constructor(
    order: readonly string[] = [],
    private readonly chunkNodes = DEFAULT_CHUNK_NODES,
  ) {
    this.order = order;
    order.forEach((id, i) => this.positions.set(id, i));
  }

  /** Node `ids` (top level) changed since the last encode. */
  markDirty(ids: Iterable<string>): void {
    for (const id of ids) this.dirty.add(id);
  }

  /** Remembers offloaded chunks already in the blob store (those the decoded CR refers to). */
  noteStored(uris: Iterable<string>): void {
    for (const uri of uris) this.stored.add(uri);
  }

  /** Forgets stored chunks that were deleted from the blob store. */
  forgetStored(uris: Iterable<string>): void {
    for (const uri of uris) this.stored.delete(uri);
  }

  private chunkOf(id: string): number {
    const p = this.positions.get(id);
    return p === undefined ? EXTRA_CHUNK : Math.floor(p / this.chunkNodes);
  }

  /** Brings the chunks up to date with `nodes`. */
  private refresh(nodes: { readonly [id: string]: NodeStatus }): void {
    const rebuild = new Set<number>();
    const changed = this.allDirty ? Object.keys(nodes) : this.dirty;
    if (this.allDirty) this.chunks.clear();
    for (const id of changed) {
      const k = this.chunkOf(id);
      if (k === EXTRA_CHUNK) this.extraIds.add(id);
      rebuild.add(k);
    }
    for (const k of rebuild) {
      const chunk: Chunk = { nodes: {}, count: 0 };
      const take = (id: string) => {
        const ns = nodes[id];
        if (!ns) return;
        chunk.nodes[id] = compactNodeStatus(ns);
        chunk.count++;
      };
      if (k === EXTRA_CHUNK) {
        for (const id of [...this.extraIds]) {
          if (nodes[id]) take(id);
          else this.extraIds.delete(id);
        }
      } else {
        const end = Math.min(this.order.length, (k + 1) * this.chunkNodes);
        for (let i = k * this.chunkNodes; i < end; i++) take(this.order[i]);
      }
      if (chunk.count > 0) this.chunks.set(k, chunk);
      else this.chunks.delete(k);
    }
    this.allDirty = false;
    this.dirty.clear();
  }

  /** Chunks in storage order: by position, the extra chunk last. */
  private ordered(): Chunk[] {
    const keys = [...this.chunks.keys()].sort((a, b) =>
      a === EXTRA_CHUNK ? 1 : b === EXTRA_CHUNK ? -1 : a - b,
    );
    return keys.map((k) => this.chunks.get(k) as Chunk);
  }

  private static json(chunk: Chunk): { [id: string]: JsonValue } {
    if (!chunk.json) {
      const json: { [id: string]: JsonValue } = {};
      for (const [id, ns] of Object.entries(chunk.nodes)) json[id] = toJson(NodeStatusSchema, ns);
      chunk.json = json;
      chunk.jsonInnerBytes = jsonSize(json) - 2;
    }
    return chunk.json;
  }

  private static gz(chunk: Chunk): Uint8Array {
    chunk.gz ??= gzipSync(toBinary(NodeStatusMapSchema, create(NodeStatusMapSchema, { nodes: chunk.nodes })));
    return chunk.gz;
  }

  /**
   * Encodes `status` within `options.budget`; only chunks with nodes marked dirty since the
   * last encode are re-encoded (and, offloaded, re-stored).
   */
  async encode(status: WorkflowExecutionStatus, options: EncodeOptions): Promise<EncodedStatus> {
    this.refresh(status.nodes);
    const chunks = this.ordered();
    const nodes = status.nodes;
    status.nodes = {};
    let top: WorkflowExecutionStatus;
    try {
      top = clone(WorkflowExecutionStatusSchema, status);
    } finally {
      status.nodes = nodes;
    }
    top.compressedNodes = new Uint8Array(0);
    top.compressedNodesEncoding = WorkflowExecutionStatus_NodeEncoding.UNSPECIFIED;
    top.offloaded = undefined;
    top.offloadedChunks = [];

    let nodesBytes = 0;
    for (const c of chunks) {
      StatusEncoder.json(c);
      nodesBytes += (c.jsonInnerBytes ?? 0) + 1;
    }
    if (chunks.length > 0) nodesBytes += 1; // braces, minus the last comma
    if (nodesBytes <= options.budget.inlineNodesBytes) {
      const plain = toJson(WorkflowExecutionStatusSchema, top) as { [k: string]: JsonValue };
      if (chunks.length > 0) plain.nodes = Object.assign({}, ...chunks.map((c) => StatusEncoder.json(c)));
      const plainBytes = jsonSize(plain);
      if (plainBytes + options.otherBytes <= options.budget.objectBytes)
        return { json: plain, encoding: "plain", statusBytes: plainBytes };
    }

    const members = chunks.map((c) => StatusEncoder.gz(c));
    top.compressedNodesEncoding = WorkflowExecutionStatus_NodeEncoding.GZIP;
    top.compressedNodes = Buffer.concat(members);
    const compressed = toJson(WorkflowExecutionStatusSchema, top);
    const compressedBytes = jsonSize(compressed);
    if (compressedBytes + options.otherBytes <= options.budget.objectBytes) {
      return { json: compressed, encoding: "gzip", statusBytes: compressedBytes };
    }

    top.compressedNodes = new Uint8Array(0);
    const uris: string[] = [];
    for (const c of chunks) {
      const gz = StatusEncoder.gz(c);
      c.digest ??= sha256Hex(gz);
      const uri = options.blobs.join(options.offloadPrefix, "status", `nodes-${c.digest}.pb.gz`);
      if (!this.stored.has(uri)) {
        await options.blobs.put(uri, gz);
        this.stored.add(uri);
      }
      uris.push(uri);
      top.offloadedChunks.push(create(OffloadedStatusSchema, { uri, digest: `sha256:${c.digest}` }));
    }
    const offloaded = toJson(WorkflowExecutionStatusSchema, top);
    const offloadedBytes = jsonSize(offloaded);
    if (offloadedBytes + options.otherBytes > options.budget.objectBytes) {
      throw new StatusTooLargeError(offloadedBytes + options.otherBytes, options.budget.objectBytes);
    }
    return { json: offloaded, encoding: "offloaded", statusBytes: offloadedBytes, offloadedUris: uris };
  }
}

/**
 * Encodes `status` for the CR within `options.budget`, given the serialized size of the rest of
 * the object (`otherBytes`: metadata + spec), from scratch (a fresh {@link StatusEncoder} with
 * the node map's own key order). Offloaded chunks go below `offloadPrefix`.
 */
export async function encodeStatus(
  status: WorkflowExecutionStatus,
  options: EncodeOptions,
  order?: readonly string[],
): Promise<EncodedStatus> {
  return new StatusEncoder(order ?? Object.keys(status.nodes)).encode(status, options);
}

/** URIs of every offloaded part of an encoded `.status` (current and legacy forms). */
export function offloadedUrisOf(json: unknown): string[] {
  const s = json as { offloaded?: { uri?: string }; offloadedChunks?: { uri?: string }[] } | undefined;
  const uris: string[] = [];
  if (s?.offloaded?.uri) uris.push(s.offloaded.uri);
  for (const c of s?.offloadedChunks ?? []) if (c.uri) uris.push(c.uri);
  return uris;
}

function decompress(data: Uint8Array, encoding: WorkflowExecutionStatus_NodeEncoding): Uint8Array {
  if (encoding === WorkflowExecutionStatus_NodeEncoding.BROTLI) return brotliDecompressSync(data);
  if (encoding === WorkflowExecutionStatus_NodeEncoding.GZIP) return gunzipSync(data);
  return data;
}

/**
 * Decodes the CR's `.status` (any of the three encodings) into a status whose `nodes` map is
 * complete. A missing status decodes to an empty (UNSPECIFIED) status.
 */
export async function decodeStatus(
  json: unknown,
  blobs: Pick<StatusBlobs, "get">,
): Promise<WorkflowExecutionStatus> {
  if (json === undefined || json === null) return create(WorkflowExecutionStatusSchema, {});
  const status = fromJson(WorkflowExecutionStatusSchema, json as JsonValue, { ignoreUnknownFields: true });
  let packed: Uint8Array | undefined;
  const fetch = async (ref: { uri: string; digest: string }): Promise<Uint8Array> => {
    const data = await blobs.get(ref.uri);
    const actual = `sha256:${sha256Hex(data)}`;
    if (ref.digest && actual !== ref.digest) throw new StatusDigestMismatchError(ref.uri, ref.digest, actual);
    return data;
  };
  if (status.offloadedChunks.length > 0) {
    // Each chunk is one gzip member; concatenated they are one stream of one serialized map.
    packed = Buffer.concat(await Promise.all(status.offloadedChunks.map(fetch)));
  } else if (status.offloaded?.uri) {
    packed = await fetch(status.offloaded);
  } else if (status.compressedNodes.length > 0) {
    packed = status.compressedNodes;
  }
  if (packed) {
    const map = fromBinary(NodeStatusMapSchema, decompress(packed, status.compressedNodesEncoding));
    status.nodes = { ...map.nodes, ...status.nodes };
  }
  status.compressedNodes = new Uint8Array(0);
  status.compressedNodesEncoding = WorkflowExecutionStatus_NodeEncoding.UNSPECIFIED;
  status.offloaded = undefined;
  status.offloadedChunks = [];
  return status;
}
