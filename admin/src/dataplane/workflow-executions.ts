/**
 * WorkflowExecution custom resources on one cluster: build (offloading a large compiled
 * closure to the blob store), create idempotently, delete.
 */
import { create, toBinary } from "@bufbuild/protobuf";
import {
  WorkflowExecutionResource,
  sha256Hex,
  toWorkflowExecutionObject,
  type BlobStore,
  type WorkflowExecutionObject,
} from "@flotilla/common";
import {
  ClosureReferenceSchema,
  CompiledWorkflowClosureSchema,
  WorkflowExecutionSpecSchema,
  type WorkflowExecutionSpec,
} from "@flotilla/proto";
import { SpanKind, withSpan } from "@flotilla/runtime";
import { ADMIN_TRACER } from "../tracing.js";
import { callCluster, type CallOptions } from "./call.js";
import type { ClusterConnection } from "./connection.js";

/** Default size budget of a WorkflowExecution CR (the closure is offloaded above it). */
export const DEFAULT_CR_BUDGET_BYTES = 512 * 1024;

/** What a WorkflowExecution CR is made of. */
export interface WorkflowExecutionObjectInput {
  spec: WorkflowExecutionSpec;
  namespace: string;
  /** The execution name (CR name). */
  name: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

/**
 * The CR object for an execution (`spec` is the proto-JSON of the WorkflowExecutionSpec, the
 * managed-by label is added). Pure; returns the object.
 */
export function buildWorkflowExecutionObject(input: WorkflowExecutionObjectInput): WorkflowExecutionObject {
  return toWorkflowExecutionObject({
    name: input.name,
    namespace: input.namespace,
    spec: input.spec,
    labels: input.labels,
    annotations: input.annotations,
  });
}

/** Serialized size in bytes of an object as JSON. */
export function jsonSize(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value), "utf8");
}

/**
 * Returns the CR object for `input`, first moving an inline closure to the blob store (at
 * `{output_prefix}closure.pb`, referenced by URI, sha256 digest and size) when the object
 * would exceed `budgetBytes`. Side effect: writes the closure blob when offloading (the
 * write is idempotent: same content, same URI).
 */
export async function prepareWorkflowExecutionObject(
  input: WorkflowExecutionObjectInput,
  blobStore: BlobStore,
  budgetBytes: number,
): Promise<{ object: WorkflowExecutionObject; offloaded: boolean }> {
  const object = buildWorkflowExecutionObject(input);
  if (input.spec.workflow.case !== "closure" || jsonSize(object) <= budgetBytes)
    return { object, offloaded: false };
  const bytes = toBinary(CompiledWorkflowClosureSchema, input.spec.workflow.value);
  const prefix = input.spec.outputPrefix.endsWith("/")
    ? input.spec.outputPrefix
    : `${input.spec.outputPrefix}/`;
  const uri = `${prefix}closure.pb`;
  await blobStore.put(uri, bytes);
  const spec = create(WorkflowExecutionSpecSchema, {
    ...input.spec,
    workflow: {
      case: "closureRef",
      value: create(ClosureReferenceSchema, {
        uri,
        digest: `sha256:${sha256Hex(bytes)}`,
        sizeBytes: BigInt(bytes.length),
      }),
    },
  });
  return { object: buildWorkflowExecutionObject({ ...input, spec }), offloaded: true };
}

/** The group, version and plural of the WorkflowExecution resource, as client-node takes them. */
const RESOURCE = {
  group: WorkflowExecutionResource.group,
  version: WorkflowExecutionResource.version,
  plural: WorkflowExecutionResource.plural,
};

/**
 * Creates the CR; an existing CR of the same name (a retried create) counts as success.
 * Returns "created" or "exists"; throws a DataPlaneError naming the cluster otherwise. While
 * tracing, the call is a CLIENT span `create WorkflowExecution` (the CR's traceparent
 * annotation, set by the execution manager, names the create's trace).
 */
export function createWorkflowExecution(
  conn: ClusterConnection,
  object: WorkflowExecutionObject,
  options: CallOptions,
): Promise<"created" | "exists"> {
  const namespace = object.metadata.namespace ?? "";
  const name = object.metadata.name ?? "";
  return withSpan(
    ADMIN_TRACER,
    "create WorkflowExecution",
    async (span) => {
      const result = await callCluster(
        conn,
        `create WorkflowExecution ${namespace}/${name}`,
        options,
        () =>
          conn.custom
            .createNamespacedCustomObject({ ...RESOURCE, namespace, body: object })
            .then(() => "created" as const),
        { 409: "exists" as const },
      );
      span?.setAttribute("flotilla.cr.result", result);
      return result;
    },
    {
      kind: SpanKind.CLIENT,
      attributes: {
        "flotilla.cluster": conn.cluster,
        "k8s.namespace.name": namespace,
        "flotilla.cr.name": name,
      },
    },
  );
}

/**
 * Deletes the CR (its pods go with it through their owner references). An absent CR counts
 * as deleted. Returns "deleted" or "absent"; throws a DataPlaneError otherwise.
 */
export function deleteWorkflowExecution(
  conn: ClusterConnection,
  namespace: string,
  name: string,
  options: CallOptions,
): Promise<"deleted" | "absent"> {
  return callCluster(
    conn,
    `delete WorkflowExecution ${namespace}/${name}`,
    options,
    () =>
      conn.custom
        .deleteNamespacedCustomObject({ ...RESOURCE, namespace, name, propagationPolicy: "Background" })
        .then(() => "deleted" as const),
    { 404: "absent" as const },
  );
}

/**
 * Counts WorkflowExecution CRs on a cluster (all namespaces), optionally filtered by a label
 * selector. Returns the number; throws a DataPlaneError.
 */
export async function countWorkflowExecutions(
  conn: ClusterConnection,
  options: CallOptions & { labelSelector?: string },
): Promise<number> {
  const list = (await callCluster(conn, "list WorkflowExecutions", options, () =>
    conn.custom.listClusterCustomObject({
      ...RESOURCE,
      ...(options.labelSelector ? { labelSelector: options.labelSelector } : {}),
    }),
  )) as { items?: unknown[] };
  return list.items?.length ?? 0;
}
