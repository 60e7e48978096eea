/**
 * Fixtures for tests that run the propeller against a (sandbox or real) cluster: installing
 * the CRD, creating namespaces and executions the way admin does, reading decoded status.
 */
import { CoreV1Api, CustomObjectsApi, KubeConfig } from "@kubernetes/client-node";
import {
  Labels,
  WorkflowExecutionResource as R,
  executionNamespace,
  toWorkflowExecutionObject,
  workflowExecutionCrd,
  sha256Hex,
  writeLiteralMap,
  type BlobStore,
} from "@flotilla/common";
import { create, toBinary } from "@bufbuild/protobuf";
import {
  ClosureReferenceSchema,
  CompiledWorkflowClosureSchema,
  LiteralMapSchema,
  type Literal,
  type WorkflowExecutionSpec,
  type WorkflowExecutionStatus,
} from "@flotilla/proto";
import { decodeStatus } from "../workflow/status-codec.js";
import { statusCodeOf } from "../controller/kube.js";

/**
 * A container script (`node -e`) for process-mode pods: reads the input x from the env (0 when
 * absent) and writes outputs.json {"y": x + 1} into the outputs directory, as the task I/O
 * contract says.
 */
export const INC_SCRIPT = `
const fs = require("node:fs");
const x = Number(process.env.FLOTILLA_INPUT_X ?? "0");
fs.writeFileSync(process.env.FLOTILLA_OUTPUTS_DIR + "/outputs.json", JSON.stringify({ y: x + 1 }));
`;

/** A KubeConfig loaded from YAML text. */
export function kubeConfigFrom(yaml: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromString(yaml);
  return kc;
}

/**
 * Installs the WorkflowExecution CRD (idempotent). The manifest is wire JSON
 * ("x-kubernetes-preserve-unknown-fields"), which client-node's typed serializer would drop,
 * so it is POSTed as-is (no client certificates: for sandbox and token-authenticated clusters).
 */
export async function installCrd(kc: KubeConfig): Promise<void> {
  const server = kc.getCurrentCluster()?.server;
  if (!server) throw new Error("kubeconfig has no current cluster");
  const init = (await kc.applyToFetchOptions({})) as {
    headers?: { forEach?(cb: (v: string, k: string) => void): void };
  };
  const headers: Record<string, string> = { "Content-Type": "application/json" };
  init.headers?.forEach?.((v, k) => {
    if (k.toLowerCase() !== "content-type") headers[k] = v;
  });
  const res = await fetch(`${server}/apis/apiextensions.k8s.io/v1/customresourcedefinitions`, {
    method: "POST",
    headers,
    body: JSON.stringify(workflowExecutionCrd()),
  });
  if (!res.ok && res.status !== 409)
    throw new Error(`installing the CRD failed: ${res.status} ${await res.text()}`);
}

/** Creates a namespace (idempotent). */
export async function ensureNamespace(kc: KubeConfig, name: string): Promise<void> {
  try {
    await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name } } });
  } catch (err) {
    if (statusCodeOf(err) !== 409) throw err;
  }
}

/**
 * Moves the spec's inline closure to the blob store at `uri` and makes the spec reference it
 * (uri, digest, size), as admin does with closures too large to inline in the CR.
 */
export async function offloadClosure(
  spec: WorkflowExecutionSpec,
  store: BlobStore,
  uri: string,
): Promise<void> {
  if (spec.workflow.case !== "closure") throw new Error("spec has no inline closure to offload");
  const bytes = toBinary(CompiledWorkflowClosureSchema, spec.workflow.value);
  await store.put(uri, bytes);
  spec.workflow = {
    case: "closureRef",
    value: create(ClosureReferenceSchema, {
      uri,
      digest: `sha256:${sha256Hex(bytes)}`,
      sizeBytes: BigInt(bytes.length),
    }),
  };
}

/**
 * Creates the CR of `spec` as admin would (namespace `{project}-{domain}`, labels), after
 * writing `inputs` to `spec.inputsUri` when given. Returns the namespace.
 */
export async function createExecution(
  kc: KubeConfig,
  spec: WorkflowExecutionSpec,
  options: { store?: BlobStore; inputs?: Record<string, Literal>; traceparent?: string } = {},
): Promise<string> {
  const id = spec.executionId;
  if (!id) throw new Error("spec has no execution id");
  const namespace = executionNamespace(id.project, id.domain);
  await ensureNamespace(kc, namespace);
  if (options.store && spec.inputsUri) {
    await writeLiteralMap(
      options.store,
      spec.inputsUri,
      create(LiteralMapSchema, { literals: options.inputs ?? {} }),
    );
  }
  const obj = toWorkflowExecutionObject({
    name: id.name,
    namespace,
    spec,
    labels: { [Labels.project]: id.project, [Labels.domain]: id.domain, [Labels.execution]: id.name },
    ...(options.traceparent ? { annotations: { "flotilla.io/traceparent": options.traceparent } } : {}),
  });
  await kc.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
    group: R.group,
    version: R.version,
    plural: R.plural,
    namespace,
    body: obj,
  });
  return namespace;
}

/** Reads the CR and decodes its status (undefined while the propeller has not written one). */
export async function readExecutionStatus(
  kc: KubeConfig,
  namespace: string,
  name: string,
  blobs: { get(uri: string): Promise<Uint8Array> },
): Promise<{ status: WorkflowExecutionStatus | undefined; object: Record<string, unknown> }> {
  const obj = (await kc.makeApiClient(CustomObjectsApi).getNamespacedCustomObject({
    group: R.group,
    version: R.version,
    plural: R.plural,
    namespace,
    name,
  })) as Record<string, unknown>;
  const status = obj.status === undefined ? undefined : await decodeStatus(obj.status, blobs);
  return { status, object: obj };
}
