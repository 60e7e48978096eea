/**
 * Decoded specs and execution graphs by CR uid and generation, and decoded statuses by
 * resourceVersion, so a round does not re-parse proto-JSON (or re-fetch an offloaded closure)
 * for objects it has seen before.
 */
import { clone, fromBinary, fromJson, type JsonValue } from "@bufbuild/protobuf";
import { sha256Hex } from "@flotilla/common";
import {
  CompiledWorkflowClosureSchema,
  WorkflowExecutionSpecSchema,
  WorkflowExecutionStatusSchema,
  type CompiledWorkflowClosure,
  type WorkflowExecutionSpec,
  type WorkflowExecutionStatus,
} from "@flotilla/proto";
import type { WorkflowExecutionCr } from "../informers/caches.js";
import { buildGraph, type WorkflowGraph } from "../workflow/graph.js";
import { decodeStatus } from "../workflow/status-codec.js";

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

/** Caches decoded specs (by uid+generation) and statuses (by resourceVersion). */
export class SpecCache {
  private readonly specs = new Map<string, { generation: string; decoded: DecodedSpec }>();
  private readonly closures = new Map<string, CompiledWorkflowClosure>();
  private readonly statuses = new Map<string, { rv: string; status: WorkflowExecutionStatus }>();

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

  /** A private, mutable copy of the decoded status of `obj`. */
  async status(key: string, obj: WorkflowExecutionCr): Promise<WorkflowExecutionStatus> {
    const rv = obj.metadata?.resourceVersion ?? "";
    const hit = this.statuses.get(key);
    if (hit && rv !== "" && hit.rv === rv) return clone(WorkflowExecutionStatusSchema, hit.status);
    const status = await decodeStatus(obj.status, this.blobs);
    this.statuses.set(key, { rv, status: clone(WorkflowExecutionStatusSchema, status) });
    return status;
  }

  /** Remembers the status just written as the decoded form of `rv`. */
  rememberStatus(key: string, rv: string, status: WorkflowExecutionStatus): void {
    this.statuses.set(key, { rv, status: clone(WorkflowExecutionStatusSchema, status) });
  }

  /** Forgets everything about an execution. */
  forget(key: string, uid: string | undefined): void {
    this.statuses.delete(key);
    if (uid) this.specs.delete(uid);
  }
}
