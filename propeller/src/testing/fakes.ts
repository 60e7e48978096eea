/**
 * In-memory fakes of the executor ports, for unit tests that exercise workflow logic without
 * Kubernetes, a blob store or a resource manager.
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { V1Pod } from "@kubernetes/client-node";
import { BlobNotFoundError } from "@flotilla/common";
import { LiteralMapSchema, type LiteralMap } from "@flotilla/proto";
import type { PodCreateResult, PodPort, TaskIO, TokenBroker, TokenOutcome } from "../workflow/ports.js";

/** A PodPort that keeps pods in a map and counts creates per name. */
export class FakePods implements PodPort {
  readonly pods = new Map<string, V1Pod>();
  readonly createsByName = new Map<string, number>();
  readonly deleted: string[] = [];
  /** When set, the next creates answer this instead of storing the pod. */
  refuseWith: PodCreateResult | undefined;

  async create(pod: V1Pod): Promise<PodCreateResult> {
    const name = pod.metadata?.name ?? "";
    if (this.refuseWith) return this.refuseWith;
    if (this.pods.has(name)) return { outcome: "exists" };
    this.createsByName.set(name, (this.createsByName.get(name) ?? 0) + 1);
    this.pods.set(name, { ...pod, status: { phase: "Pending" } });
    return { outcome: "created" };
  }

  async delete(_namespace: string, name: string): Promise<void> {
    if (this.pods.delete(name)) this.deleted.push(name);
  }

  /** Sets a pod's phase (and exit code for Failed). */
  finish(name: string, phase: "Running" | "Succeeded" | "Failed", exitCode = 1, reason?: string): void {
    const pod = this.pods.get(name);
    if (!pod) throw new Error(`no pod ${name}`);
    const terminated =
      phase === "Running"
        ? undefined
        : { exitCode: phase === "Succeeded" ? 0 : exitCode, ...(reason ? { reason } : {}) };
    pod.status = {
      phase,
      startTime: new Date(),
      containerStatuses: [
        {
          name: "task",
          image: "x",
          imageID: "",
          ready: phase === "Running",
          restartCount: 0,
          state: terminated ? { terminated } : { running: { startedAt: new Date() } },
        },
      ],
    };
  }
}

/** A TaskIO over a Map of URI → bytes. */
export class MemoryIO implements TaskIO {
  readonly objects = new Map<string, Uint8Array>();

  async readLiteralMap(uri: string): Promise<LiteralMap> {
    const data = this.objects.get(uri);
    if (!data) throw new BlobNotFoundError(uri);
    return fromBinary(LiteralMapSchema, data);
  }
  async writeLiteralMap(uri: string, map: LiteralMap): Promise<void> {
    this.objects.set(uri, toBinary(LiteralMapSchema, create(LiteralMapSchema, map)));
  }
  async readText(uri: string): Promise<string | undefined> {
    const data = this.objects.get(uri);
    return data ? new TextDecoder().decode(data) : undefined;
  }
  async writeText(uri: string, text: string): Promise<void> {
    this.objects.set(uri, new TextEncoder().encode(text));
  }
  join(base: string, ...parts: string[]): string {
    const b = base.endsWith("/") ? base.slice(0, -1) : base;
    return [b, ...parts.flatMap((p) => p.split("/")).filter(Boolean)].join("/");
  }
  localPath(): string | undefined {
    return undefined;
  }
}

/** A TokenBroker with one global limit per resource and a FIFO queue; records every call. */
export class FakeTokens implements TokenBroker {
  readonly held = new Map<string, { resource: string; holder: string; tokens: number }>();
  readonly queue: { resource: string; holder: string; tokens: number }[] = [];
  readonly calls: string[] = [];
  private next = 1;

  constructor(
    private readonly limits: Record<string, number>,
    private readonly ttlMs = 30_000,
  ) {}

  private inUse(resource: string): number {
    let n = 0;
    for (const l of this.held.values()) if (l.resource === resource) n += l.tokens;
    return n;
  }

  async acquire(r: { resource: string; tokens: number; holder: string }): Promise<TokenOutcome> {
    this.calls.push(`acquire ${r.resource} ${r.holder}`);
    for (const [id, l] of this.held) {
      if (l.resource === r.resource && l.holder === r.holder)
        return { outcome: "granted", leaseId: id, expiresAt: new Date(Date.now() + this.ttlMs) };
    }
    const limit = this.limits[r.resource];
    if (limit === undefined)
      return { outcome: "rejected", reason: "NotFound", message: `no pool ${r.resource}` };
    let pos = this.queue.findIndex((q) => q.resource === r.resource && q.holder === r.holder);
    if (pos < 0) {
      this.queue.push({ resource: r.resource, holder: r.holder, tokens: r.tokens });
      pos = this.queue.length - 1;
    }
    const ahead = this.queue.slice(0, pos).filter((q) => q.resource === r.resource).length;
    if (ahead === 0 && this.inUse(r.resource) + r.tokens <= limit) {
      this.queue.splice(pos, 1);
      const id = `lease-${this.next++}`;
      this.held.set(id, { resource: r.resource, holder: r.holder, tokens: r.tokens });
      return { outcome: "granted", leaseId: id, expiresAt: new Date(Date.now() + this.ttlMs) };
    }
    return { outcome: "queued", position: ahead + 1, reason: "GlobalLimitReached" };
  }

  async renew(r: { leaseId: string }): Promise<{ expiresAt: Date } | "lost"> {
    this.calls.push(`renew ${r.leaseId}`);
    return this.held.has(r.leaseId) ? { expiresAt: new Date(Date.now() + this.ttlMs) } : "lost";
  }

  async release(r: { resource: string; holder: string; leaseId?: string }): Promise<void> {
    this.calls.push(`release ${r.resource} ${r.holder}`);
    for (const [id, l] of this.held)
      if (l.resource === r.resource && l.holder === r.holder) this.held.delete(id);
    const i = this.queue.findIndex((q) => q.resource === r.resource && q.holder === r.holder);
    if (i >= 0) this.queue.splice(i, 1);
  }
}
