/**
 * How WorkflowExecutionStatus is stored in the CR so the object stays under etcd's size limit:
 *
 * 1. Terminal nodes are compacted to phase (and its version), start/stop times, error and attempt
 *    count (which locates their outputs: `{output_prefix}nodes/{node}/{attempts-1}/outputs.pb`),
 *    and sub-nodes likewise (a nested node's `{node}` is its execution-wide id `parent.child`).
 * 2. While the node map is small it is stored as plain proto-JSON in `status.nodes`.
 * 3. Above the inline budget the serialized NodeStatusMap is gzip-compressed into
 *    `status.compressedNodes` (base64 in JSON).
 * 4. When even that would make the object exceed the object budget, the compressed map is
 *    written to the blob store and `status.offloaded` holds its URI and sha256 digest.
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
  /** URI of the offloaded node map, when offloaded. */
  offloadedUri?: string;
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

/**
 * Encodes `status` for the CR within `budget`, given the serialized size of the rest of the
 * object (`otherBytes`: metadata + spec). Offloaded maps go below `offloadPrefix`.
 */
export async function encodeStatus(
  status: WorkflowExecutionStatus,
  options: { budget: StatusBudget; otherBytes: number; blobs: StatusBlobs; offloadPrefix: string },
): Promise<EncodedStatus> {
  const compacted = clone(WorkflowExecutionStatusSchema, status);
  compactStatus(compacted);
  compacted.compressedNodes = new Uint8Array(0);
  compacted.compressedNodesEncoding = WorkflowExecutionStatus_NodeEncoding.UNSPECIFIED;
  compacted.offloaded = undefined;
  const plain = toJson(WorkflowExecutionStatusSchema, compacted);
  const plainBytes = jsonSize(plain);
  const nodesBytes =
    plain && typeof plain === "object" && !Array.isArray(plain) && plain.nodes ? jsonSize(plain.nodes) : 0;
  if (
    nodesBytes <= options.budget.inlineNodesBytes &&
    plainBytes + options.otherBytes <= options.budget.objectBytes
  ) {
    return { json: plain, encoding: "plain", statusBytes: plainBytes };
  }
  const map = create(NodeStatusMapSchema, { nodes: compacted.nodes });
  const gz = gzipSync(toBinary(NodeStatusMapSchema, map));
  compacted.nodes = {};
  compacted.compressedNodesEncoding = WorkflowExecutionStatus_NodeEncoding.GZIP;
  compacted.compressedNodes = gz;
  const compressed = toJson(WorkflowExecutionStatusSchema, compacted);
  const compressedBytes = jsonSize(compressed);
  if (compressedBytes + options.otherBytes <= options.budget.objectBytes) {
    return { json: compressed, encoding: "gzip", statusBytes: compressedBytes };
  }
  const digest = sha256Hex(gz);
  const uri = options.blobs.join(options.offloadPrefix, "status", `nodes-${digest}.pb.gz`);
  await options.blobs.put(uri, gz);
  compacted.compressedNodes = new Uint8Array(0);
  compacted.offloaded = create(OffloadedStatusSchema, { uri, digest: `sha256:${digest}` });
  const offloaded = toJson(WorkflowExecutionStatusSchema, compacted);
  const offloadedBytes = jsonSize(offloaded);
  if (offloadedBytes + options.otherBytes > options.budget.objectBytes) {
    throw new StatusTooLargeError(offloadedBytes + options.otherBytes, options.budget.objectBytes);
  }
  return { json: offloaded, encoding: "offloaded", statusBytes: offloadedBytes, offloadedUri: uri };
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
  if (status.offloaded?.uri) {
    const data = await blobs.get(status.offloaded.uri);
    const actual = `sha256:${sha256Hex(data)}`;
    if (status.offloaded.digest && actual !== status.offloaded.digest) {
      throw new StatusDigestMismatchError(status.offloaded.uri, status.offloaded.digest, actual);
    }
    packed = data;
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
  return status;
}
