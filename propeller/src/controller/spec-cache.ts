/**
 * Decoded specs and execution graphs by CR uid and generation, and decoded statuses by
 * resourceVersion, so a round does not re-parse proto-JSON (or re-fetch an offloaded closure)
 * for objects it has seen before.
 */
import { fromBinary, fromJson, type JsonValue } from "@bufbuild/protobuf";
import { sha256Hex } from "@flotilla/common";
import {
  CompiledWorkflowClosureSchema,
  WorkflowExecutionSpecSchema,
  type CompiledWorkflowClosure,
  type WorkflowExecutionSpec,
  type WorkflowExecutionStatus,
} from "@flotilla/proto";
import type { WorkflowExecutionCr } from "../informers/caches.js";
import { buildGraph, type WorkflowGraph } from "../workflow/graph.js";
import { StatusEncoder, decodeStatus, offloadedUrisOf } from "../workflow/status-codec.js";

/** The CR's spec cannot be executed (undecodable, missing closure, digest mismatch). */
export class InvalidSpecError extends Error {
  override readonly name = "InvalidSpecError";
  constructor(
    readonly key: string,
    readonly reason: string,
  ) {
    super(`WorkflowExecution ${key} has an invalid spec: ${reason}`);
  }
}

/** A decoded spec with its graph. */
export interface DecodedSpec {
  spec: WorkflowExecutionSpec;
  graph: WorkflowGraph;
  /** Serialized size of the CR's spec (for the object-size budget). */
  specBytes: number;
}

/** Blob reads the caches need. */
export interface BlobReader {
  get(uri: string): Promise<Uint8Array>;
}

/**
 * The decoded status of an in-flight workflow, kept between rounds while the CR's
 * resourceVersion is the one it was decoded from (or written as). Rounds change it in place,
 * telling {@link encoder} which nodes they changed; a round that fails forgets it
 * ({@link SpecCache.forgetStatus}), so the next one decodes the CR again.
 */
export interface WorkingStatus {
  rv: string;
  status: WorkflowExecutionStatus;
  /** Encodes this status chunk by chunk; made by the first round that writes. */
  encoder?: StatusEncoder;
  /** Offloaded chunks stored for this status (the ones its CR refers to). */
  storedUris: string[];
}

/** Caches decoded specs (by uid+generation) and statuses (by resourceVersion). */
export class SpecCache {
  private readonly specs = new Map<string, { generation: string; decoded: DecodedSpec }>();
  private readonly closures = new Map<string, CompiledWorkflowClosure>();
  private readonly statuses = new Map<string, WorkingStatus>();

  constructor(private readonly blobs: BlobReader) {}

  /** The decoded spec of `obj`; throws {@link InvalidSpecError}. */
  async spec(key: string, obj: WorkflowExecutionCr): Promise<DecodedSpec> {
    const uid = obj.metadata?.uid ?? key;
    const generation = String(obj.metadata?.generation ?? "");
    const hit = this.specs.get(uid);
    if (hit && hit.generation === generation && generation !== "") return hit.decoded;
    let spec: WorkflowExecutionSpec;
    try {
      spec = fromJson(WorkflowExecutionSpecSchema, (obj.spec ?? {}) as JsonValue, {
        ignoreUnknownFields: true,
      });
    } catch (err) {
      throw new InvalidSpecError(key, (err as Error).message);
    }
    let closure: CompiledWorkflowClosure;
    if (spec.workflow.case === "closure") closure = spec.workflow.value;
    else if (spec.workflow.case === "closureRef")
      closure = await this.closure(key, spec.workflow.value.uri, spec.workflow.value.digest);
    else throw new InvalidSpecError(key, "spec has neither closure nor closureRef");
    let graph: WorkflowGraph;
    try {
      graph = buildGraph(closure);
    } catch (err) {
      throw new InvalidSpecError(key, (err as Error).message);
    }
    const decoded = { spec, graph, specBytes: Buffer.byteLength(JSON.stringify(obj.spec ?? {})) };
    this.specs.set(uid, { generation, decoded });
    return decoded;
  }

  private async closure(key: string, uri: string, digest: string): Promise<CompiledWorkflowClosure> {
    const cached = this.closures.get(digest || uri);
    if (cached) return cached;
    let data: Uint8Array;
    try {
      data = await this.blobs.get(uri);
    } catch (err) {
      throw new InvalidSpecError(key, `cannot read closure ${uri}: ${(err as Error).message}`);
    }
    const actual = `sha256:${sha256Hex(data)}`;
    if (digest && digest !== actual)
      throw new InvalidSpecError(key, `closure ${uri} has digest ${actual}, expected ${digest}`);
    const closure = fromBinary(CompiledWorkflowClosureSchema, data);
    if (this.closures.size > 1000) this.closures.clear();
    this.closures.set(digest || uri, closure);
    return closure;
  }

  /**
   * The decoded status of `obj`: the one kept from the previous round when `obj` is at the
   * resourceVersion it was kept for (no decoding, no copy: the round changes it in place), else
   * decoded afresh (a new object, so indexes kept for the old one are not used).
   */
  async status(key: string, obj: WorkflowExecutionCr): Promise<WorkingStatus> {
    const rv = obj.metadata?.resourceVersion ?? "";
    const hit = this.statuses.get(key);
    if (hit && rv !== "" && hit.rv === rv) return hit;
    const status = await decodeStatus(obj.status, this.blobs);
    const entry: WorkingStatus = { rv, status, storedUris: offloadedUrisOf(obj.status) };
    this.statuses.set(key, entry);
    return entry;
  }

  /** The kept status of `key` is now that of resourceVersion `rv` (after a write or a metadata patch). */
  rememberStatus(key: string, fromRv: string, rv: string): void {
    const entry = this.statuses.get(key);
    if (entry && entry.rv === fromRv) entry.rv = rv;
  }

  /** Forgets the kept status of `key` (a round failed half-way through changing it). */
  forgetStatus(key: string): void {
    this.statuses.delete(key);
  }

  /** Forgets everything about an execution. */
  forget(key: string, uid: string | undefined): void {
    this.statuses.delete(key);
    if (uid) this.specs.delete(uid);
  }
}
