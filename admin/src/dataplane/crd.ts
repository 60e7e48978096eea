/**
 * Installs the WorkflowExecution CRD into a cluster on demand.
 */
import { workflowExecutionCrd } from "@flotilla/common";
import { stringify } from "yaml";
import { V1JSONSchemaProps, type V1CustomResourceDefinition } from "@kubernetes/client-node";
import { ensureExists, type CallOptions } from "./call.js";
import type { ClusterConnection } from "./connection.js";

/**
 * The CRD manifest as YAML, exactly as shipped in `admin/manifests/workflowexecution-crd.yaml`
 * (for `kubectl apply -f` and Terraform). Regenerate the file with
 * `node -e 'import("./admin/dist/dataplane/crd.js").then((m) => process.stdout.write(m.crdManifestYaml()))' > admin/manifests/workflowexecution-crd.yaml`.
 */
export function crdManifestYaml(): string {
  return (
    "# The WorkflowExecution CRD, generated from workflowExecutionCrd() of @flotilla/common\n" +
    "# (admin/src/dataplane/crd.test.ts keeps them equal). Admin installs it on demand.\n" +
    stringify(workflowExecutionCrd())
  );
}

/** Name of the CRD object (`workflowexecutions.flotilla.io`). */
export function crdName(): string {
  return (workflowExecutionCrd().metadata as { name: string }).name;
}

const SCHEMA_ATTRIBUTES: ReadonlyMap<string, string> = new Map(
  V1JSONSchemaProps.getAttributeTypeMap().map((a) => [a.baseName, a.name]),
);

/** Renames a JSONSchemaProps' wire keys to client-node's model names, recursively. */
function schemaToModel(schema: unknown): unknown {
  if (schema === null || typeof schema !== "object" || Array.isArray(schema)) return schema;
  const mapValues = (m: unknown) =>
    m && typeof m === "object"
      ? Object.fromEntries(
          Object.entries(m as Record<string, unknown>).map(([k, v]) => [k, schemaToModel(v)]),
        )
      : m;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(schema as Record<string, unknown>)) {
    let value = v;
    if (k === "properties" || k === "patternProperties" || k === "definitions") value = mapValues(v);
    else if (k === "items" || k === "additionalProperties" || k === "not" || k === "additionalItems") {
      value = Array.isArray(v) ? v.map(schemaToModel) : schemaToModel(v);
    } else if (k === "allOf" || k === "anyOf" || k === "oneOf")
      value = Array.isArray(v) ? v.map(schemaToModel) : v;
    out[SCHEMA_ATTRIBUTES.get(k) ?? k] = value;
  }
  return out;
}

/**
 * The CRD manifest in client-node's model form. client-node serializes request bodies through
 * its generated models, which name some JSONSchemaProps keys differently from the wire
 * (`x-kubernetes-preserve-unknown-fields` is `x_kubernetes_preserve_unknown_fields`, `$ref`
 * is `ref`, `default` is `_default`): a plain manifest would silently lose them, and without
 * preserve-unknown-fields the API server would prune the CR spec. Returns a new object; pure.
 */
export function crdToClientModel(manifest: Record<string, unknown>): V1CustomResourceDefinition {
  const crd = structuredClone(manifest) as {
    spec?: { versions?: Array<{ schema?: { openAPIV3Schema?: unknown } }> };
  };
  for (const v of crd.spec?.versions ?? []) {
    if (v.schema?.openAPIV3Schema) v.schema.openAPIV3Schema = schemaToModel(v.schema.openAPIV3Schema);
  }
  return crd as unknown as V1CustomResourceDefinition;
}

/**
 * Creates the CRD when the cluster does not have it. An existing CRD is left as it is.
 * Returns "created" or "exists"; throws a DataPlaneError naming the cluster.
 */
export function installWorkflowExecutionCrd(
  conn: ClusterConnection,
  options: CallOptions,
): Promise<"created" | "exists"> {
  const name = crdName();
  return ensureExists(
    conn,
    `install CRD ${name}`,
    options,
    () => conn.extensions.readCustomResourceDefinition({ name }),
    () => conn.extensions.createCustomResourceDefinition({ body: crdToClientModel(workflowExecutionCrd()) }),
  );
}
