/**
 * The WorkflowExecution custom resource: its CRD manifest and the mapping between the CR
 * object (as client-node returns it) and the proto messages admin and propeller reason about.
 * The CR's `spec` is the proto-JSON of `flotilla.core.v1.WorkflowExecutionSpec` (admin writes
 * it, once) and its `status` the proto-JSON of `WorkflowExecutionStatus` (only the propeller
 * writes it, through the status subresource).
 */
import { fromJson, toJson, type JsonValue } from "@bufbuild/protobuf";
import {
  WorkflowExecutionSpecSchema,
  WorkflowExecutionStatusSchema,
  type WorkflowExecutionSpec,
  type WorkflowExecutionStatus,
} from "@flotilla/proto";
import { Labels, MANAGED_BY, WorkflowExecutionResource as R } from "./names.js";

/** Kubernetes object metadata as far as Flotilla reads or writes it. */
export interface ObjectMeta {
  name?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string | Date;
  deletionTimestamp?: string | Date;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  ownerReferences?: Array<{
    apiVersion: string;
    kind: string;
    name: string;
    uid: string;
    controller?: boolean;
    blockOwnerDeletion?: boolean;
  }>;
}

/** A WorkflowExecution CR as stored in Kubernetes (JSON form). */
export interface WorkflowExecutionObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec: JsonValue;
  status?: JsonValue;
}

/** A WorkflowExecution CR with its spec and status decoded into proto messages. */
export interface DecodedWorkflowExecution {
  metadata: ObjectMeta;
  spec: WorkflowExecutionSpec;
  /** Undefined until the propeller first writes status. */
  status: WorkflowExecutionStatus | undefined;
}

/** The CR could not be decoded: its spec or status is not valid proto-JSON. */
export class InvalidWorkflowExecutionError extends Error {
  constructor(
    readonly namespace: string | undefined,
    readonly objectName: string | undefined,
    readonly field: "spec" | "status" | "kind",
    readonly reason: string,
  ) {
    super(`invalid WorkflowExecution ${namespace ?? "?"}/${objectName ?? "?"}: ${field}: ${reason}`);
    this.name = "InvalidWorkflowExecutionError";
  }
}

const JSON_WRITE = { alwaysEmitImplicit: false } as const;
const JSON_READ = { ignoreUnknownFields: true } as const;

/** Builds the CR object for an execution (admin's create call body). */
export function toWorkflowExecutionObject(args: {
  name: string;
  namespace: string;
  spec: WorkflowExecutionSpec;
  status?: WorkflowExecutionStatus;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}): WorkflowExecutionObject {
  const obj: WorkflowExecutionObject = {
    apiVersion: R.apiVersion,
    kind: R.kind,
    metadata: {
      name: args.name,
      namespace: args.namespace,
      labels: { [Labels.managedBy]: MANAGED_BY, ...args.labels },
      annotations: { ...args.annotations },
    },
    spec: toJson(WorkflowExecutionSpecSchema, args.spec, JSON_WRITE),
  };
  if (args.status) obj.status = statusToJson(args.status);
  return obj;
}

/** The proto-JSON written to the CR's status subresource. */
export function statusToJson(status: WorkflowExecutionStatus): JsonValue {
  return toJson(WorkflowExecutionStatusSchema, status, JSON_WRITE);
}

/** Decodes a CR object (as returned by client-node) into proto messages. */
export function parseWorkflowExecution(obj: {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
  spec?: unknown;
  status?: unknown;
}): DecodedWorkflowExecution {
  const metadata = obj.metadata ?? {};
  if (obj.kind !== undefined && obj.kind !== R.kind) {
    throw new InvalidWorkflowExecutionError(metadata.namespace, metadata.name, "kind", `kind is ${obj.kind}`);
  }
  let spec: WorkflowExecutionSpec;
  try {
    spec = fromJson(WorkflowExecutionSpecSchema, (obj.spec ?? {}) as JsonValue, JSON_READ);
  } catch (err) {
    throw new InvalidWorkflowExecutionError(
      metadata.namespace,
      metadata.name,
      "spec",
      (err as Error).message,
    );
  }
  let status: WorkflowExecutionStatus | undefined;
  if (obj.status !== undefined && obj.status !== null) {
    try {
      status = fromJson(WorkflowExecutionStatusSchema, obj.status as JsonValue, JSON_READ);
    } catch (err) {
      throw new InvalidWorkflowExecutionError(
        metadata.namespace,
        metadata.name,
        "status",
        (err as Error).message,
      );
    }
  }
  return { metadata, spec, status };
}

/**
 * The CRD manifest for workflowexecutions.flotilla.io (apiextensions.k8s.io/v1). The schema
 * is structural: spec and status are objects whose inner shape is the proto-JSON of the
 * contract, so they keep unknown fields; the fields every CR must have are required.
 * `common/manifests/workflowexecution-crd.yaml` is this object as YAML (a test keeps them equal).
 */
export function workflowExecutionCrd(): Record<string, unknown> {
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: {
      name: `${R.plural}.${R.group}`,
      labels: { [Labels.managedBy]: MANAGED_BY },
    },
    spec: {
      group: R.group,
      scope: "Namespaced",
      names: {
        plural: R.plural,
        singular: R.singular,
        kind: R.kind,
        listKind: `${R.kind}List`,
        shortNames: [...R.shortNames],
        categories: ["flotilla"],
      },
      versions: [
        {
          name: R.version,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: [
            { name: "Phase", type: "string", jsonPath: ".status.phase" },
            { name: "Workflow", type: "string", jsonPath: `.metadata.labels.flotilla\\.io/workflow` },
            { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
          ],
          schema: {
            openAPIV3Schema: {
              type: "object",
              description: "One Flotilla workflow execution, driven by the cluster's propeller.",
              required: ["spec"],
              properties: {
                apiVersion: { type: "string" },
                kind: { type: "string" },
                metadata: { type: "object" },
                spec: {
                  type: "object",
                  description: "proto-JSON of flotilla.core.v1.WorkflowExecutionSpec (written by admin).",
                  required: ["executionId", "inputsUri", "outputPrefix"],
                  "x-kubernetes-preserve-unknown-fields": true,
                  properties: {
                    executionId: {
                      type: "object",
                      required: ["project", "domain", "name"],
                      properties: {
                        project: { type: "string" },
                        domain: { type: "string" },
                        name: { type: "string" },
                      },
                    },
                    inputsUri: { type: "string" },
                    outputPrefix: { type: "string" },
                    maxParallelism: { type: "integer", minimum: 0 },
                    abortCause: { type: "string" },
                  },
                },
                status: {
                  type: "object",
                  description:
                    "proto-JSON of flotilla.core.v1.WorkflowExecutionStatus (written by the propeller).",
                  "x-kubernetes-preserve-unknown-fields": true,
                  properties: {
                    phase: { type: "string" },
                    phaseVersion: { type: "integer" },
                    message: { type: "string" },
                  },
                },
              },
            },
          },
        },
      ],
    },
  };
}
