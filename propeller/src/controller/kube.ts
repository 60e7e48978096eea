/**
 * The propeller's Kubernetes writes, through @kubernetes/client-node: task pods (the
 * {@link PodPort} of the executor) and WorkflowExecution CRs (status, metadata, deletion).
 * API errors are classified once here; callers see typed outcomes and errors.
 */
import {
  ApiException,
  CoreV1Api,
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
  type V1Pod,
} from "@kubernetes/client-node";
import { WorkflowExecutionResource as R } from "@flotilla/common";
import { SpanKind, withSpan } from "@flotilla/runtime";
import { PROPELLER_TRACER } from "../tracing.js";
import type { PodCreateResult, PodPort } from "../workflow/ports.js";
import type { WorkflowExecutionCr } from "../informers/caches.js";

/** HTTP status of a client-node error, if it has one. */
export function statusCodeOf(err: unknown): number | undefined {
  if (err instanceof ApiException) return err.code;
  const e = err as { code?: unknown; statusCode?: unknown } | undefined;
  if (typeof e?.statusCode === "number") return e.statusCode;
  if (typeof e?.code === "number") return e.code;
  return undefined;
}

/** The Kubernetes Status message of an ApiException, else the error message. */
export function apiMessageOf(err: unknown): string {
  if (err instanceof ApiException) {
    const body = err.body as unknown;
    if (typeof body === "string") {
      try {
        const parsed = JSON.parse(body) as { message?: string };
        if (parsed.message) return parsed.message;
      } catch {
        return body.slice(0, 1024);
      }
    }
    const m = (body as { message?: string } | undefined)?.message;
    if (m) return m;
  }
  return (err as Error)?.message ?? String(err);
}

/** A request about the WorkflowExecution `key` (`namespace/name`) was refused. */
abstract class WorkflowExecutionError extends Error {
  constructor(
    readonly key: string,
    why: string,
  ) {
    super(`WorkflowExecution ${key} ${why}`);
  }
}

/** A write of a CR was refused because the object changed since it was read (409). */
export class ConflictError extends WorkflowExecutionError {
  override readonly name = "ConflictError";
  constructor(key: string) {
    super(key, "changed since it was read");
  }
}

/** A write of a CR was refused because the object would be too large (413, or 422/500 from etcd). */
export class ObjectTooLargeError extends WorkflowExecutionError {
  override readonly name = "ObjectTooLargeError";
  constructor(
    key: string,
    readonly detail: string,
  ) {
    super(key, `is too large: ${detail}`);
  }
}

/** The CR no longer exists. */
export class CrNotFoundError extends WorkflowExecutionError {
  override readonly name = "CrNotFoundError";
  constructor(key: string) {
    super(key, "not found");
  }
}

function isTooLarge(code: number | undefined, message: string): boolean {
  return code === 413 || /too large|exceeds the (storage )?limit|request entity/i.test(message);
}

/** Creates and deletes task pods through the API server. */
export class KubePods implements PodPort {
  private readonly core: CoreV1Api;

  constructor(
    kc: KubeConfig,
    private readonly hooks: {
      onCreated?(ns: string, name: string): void;
      onDeleting?(ns: string, name: string): void;
    } = {},
  ) {
    this.core = kc.makeApiClient(CoreV1Api);
  }

  /** Creates the pod; while tracing, a CLIENT span `create Pod` of the round's trace. */
  create(pod: V1Pod): Promise<PodCreateResult> {
    const namespace = pod.metadata?.namespace ?? "default";
    const name = pod.metadata?.name ?? "";
    return withSpan(
      PROPELLER_TRACER,
      "create Pod",
      async (span) => {
        const result = await this.createPod(namespace, name, pod);
        span?.setAttribute("flotilla.pod.result", result.outcome);
        return result;
      },
      { kind: SpanKind.CLIENT, attributes: { "k8s.namespace.name": namespace, "k8s.pod.name": name } },
    );
  }

  private async createPod(namespace: string, name: string, pod: V1Pod): Promise<PodCreateResult> {
    try {
      await this.core.createNamespacedPod({ namespace, body: pod });
      this.hooks.onCreated?.(namespace, name);
      return { outcome: "created" };
    } catch (err) {
      const code = statusCodeOf(err);
      const message = apiMessageOf(err);
      if (code === 409) return { outcome: "exists" };
      if (code === 403 && /quota/i.test(message)) return { outcome: "quota", message };
      if (code === 422 || code === 400) return { outcome: "invalid", message };
      throw err;
    }
  }

  /** Deletes every pod matching `labelSelector` in `namespace` with one call. */
  async deleteCollection(namespace: string, labelSelector: string): Promise<void> {
    try {
      await this.core.deleteCollectionNamespacedPod({ namespace, labelSelector, gracePeriodSeconds: 0 });
    } catch (err) {
      if (statusCodeOf(err) !== 404) throw err;
    }
  }

  async delete(namespace: string, name: string): Promise<void> {
    this.hooks.onDeleting?.(namespace, name);
    try {
      await this.core.deleteNamespacedPod({ namespace, name, gracePeriodSeconds: 0 });
    } catch (err) {
      if (statusCodeOf(err) === 404) return;
      throw err;
    }
  }
}

/** Reads and writes WorkflowExecution CRs. */
export class KubeWorkflowExecutions {
  private readonly custom: CustomObjectsApi;

  constructor(kc: KubeConfig) {
    this.custom = kc.makeApiClient(CustomObjectsApi);
  }

  private base(namespace: string) {
    return { group: R.group, version: R.version, plural: R.plural, namespace };
  }

  /** Reads a CR from the API server (not the cache); throws {@link CrNotFoundError}. */
  async get(namespace: string, name: string): Promise<WorkflowExecutionCr> {
    try {
      return (await this.custom.getNamespacedCustomObject({
        ...this.base(namespace),
        name,
      })) as WorkflowExecutionCr;
    } catch (err) {
      if (statusCodeOf(err) === 404) throw new CrNotFoundError(`${namespace}/${name}`);
      throw err;
    }
  }

  /**
   * Replaces the status of `obj` (optimistic concurrency on its resourceVersion). Returns the
   * stored object. Throws {@link ConflictError}, {@link ObjectTooLargeError}, {@link CrNotFoundError}.
   */
  async replaceStatus(obj: WorkflowExecutionCr, status: unknown): Promise<WorkflowExecutionCr> {
    const namespace = obj.metadata?.namespace ?? "";
    const name = obj.metadata?.name ?? "";
    const key = `${namespace}/${name}`;
    try {
      return (await this.custom.replaceNamespacedCustomObjectStatus({
        ...this.base(namespace),
        name,
        body: { ...obj, status },
      })) as WorkflowExecutionCr;
    } catch (err) {
      throw this.classify(err, key);
    }
  }

  /** JSON-merge-patches the CR's metadata (labels, finalizers) guarded by `resourceVersion`. */
  async patchMetadata(
    namespace: string,
    name: string,
    metadata: { labels?: Record<string, string | null>; finalizers?: string[]; resourceVersion?: string },
  ): Promise<WorkflowExecutionCr> {
    const key = `${namespace}/${name}`;
    try {
      return (await this.custom.patchNamespacedCustomObject(
        { ...this.base(namespace), name, body: { metadata } },
        setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
      )) as WorkflowExecutionCr;
    } catch (err) {
      throw this.classify(err, key);
    }
  }

  /** Lists CRs matching a label selector across namespaces (one page at a time). */
  async list(labelSelector: string): Promise<WorkflowExecutionCr[]> {
    const out: WorkflowExecutionCr[] = [];
    let cont: string | undefined;
    do {
      const page = (await this.custom.listClusterCustomObject({
        group: R.group,
        version: R.version,
        plural: R.plural,
        labelSelector,
        limit: 500,
        ...(cont ? { _continue: cont } : {}),
      })) as { items?: WorkflowExecutionCr[]; metadata?: { _continue?: string; continue?: string } };
      out.push(...(page.items ?? []));
      cont = page.metadata?._continue ?? page.metadata?.continue;
    } while (cont);
    return out;
  }

  /** Deletes a CR; absent is fine. */
  async delete(namespace: string, name: string): Promise<void> {
    try {
      await this.custom.deleteNamespacedCustomObject({ ...this.base(namespace), name });
    } catch (err) {
      if (statusCodeOf(err) !== 404) throw err;
    }
  }

  private classify(err: unknown, key: string): Error {
    const code = statusCodeOf(err);
    const message = apiMessageOf(err);
    if (code === 409) return new ConflictError(key);
    if (code === 404) return new CrNotFoundError(key);
    if (isTooLarge(code, message)) return new ObjectTooLargeError(key, message);
    return err instanceof Error ? err : new Error(String(err));
  }
}
