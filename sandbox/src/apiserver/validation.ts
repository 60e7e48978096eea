/**
 * Object validation shared by every type (metadata names) and the per-type rules the sandbox
 * enforces for built-ins (pods, namespaces, CRDs), worded like kube-apiserver.
 */
import { isDnsLabel, isDnsSubdomain } from "@flotilla/common";
import { type StatusCause, forbiddenCause, invalidCause, requiredCause } from "./errors.js";
import type { KubeObject } from "./store.js";
import { isObject } from "./objects.js";

/** Validates `metadata.name` as an RFC 1123 subdomain (or label for namespaces). */
export function validateName(name: string, label: boolean): StatusCause[] {
  if (label) {
    if (!isDnsLabel(name)) {
      return [
        invalidCause(
          "metadata.name",
          name,
          "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
        ),
      ];
    }
    return [];
  }
  if (!isDnsSubdomain(name)) {
    return [
      invalidCause(
        "metadata.name",
        name,
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
      ),
    ];
  }
  return [];
}

/** Validates labels: values must be strings. */
export function validateMetadata(obj: KubeObject): StatusCause[] {
  const causes: StatusCause[] = [];
  for (const field of ["labels", "annotations"] as const) {
    const map = obj.metadata[field];
    if (map === undefined || map === null) continue;
    if (!isObject(map)) {
      causes.push(invalidCause(`metadata.${field}`, map, "must be a map of string keys to string values"));
      continue;
    }
    for (const [k, v] of Object.entries(map)) {
      if (typeof v !== "string")
        causes.push(invalidCause(`metadata.${field}`, v, `value of ${k} must be a string`));
      if (field === "labels" && typeof v === "string" && v.length > 63) {
        causes.push(invalidCause(`metadata.labels`, v, "must be no more than 63 characters"));
      }
    }
  }
  const refs = obj.metadata.ownerReferences;
  if (refs !== undefined) {
    if (!Array.isArray(refs)) {
      causes.push(invalidCause("metadata.ownerReferences", refs, "must be a list"));
    } else {
      for (const ref of refs as unknown[]) {
        const r = isObject(ref) ? ref : {};
        if (typeof r.apiVersion !== "string" || !r.apiVersion) {
          causes.push(
            invalidCause(
              "metadata.ownerReferences.apiVersion",
              r.apiVersion ?? "",
              "version must not be empty",
            ),
          );
        }
        if (typeof r.kind !== "string" || !r.kind)
          causes.push(invalidCause("metadata.ownerReferences.kind", r.kind ?? "", "kind must not be empty"));
        if (typeof r.name !== "string" || !r.name)
          causes.push(invalidCause("metadata.ownerReferences.name", r.name ?? "", "name must not be empty"));
        if (typeof r.uid !== "string" || !r.uid)
          causes.push(invalidCause("metadata.ownerReferences.uid", r.uid ?? "", "uid must not be empty"));
      }
      if ((refs as unknown[]).filter((r) => isObject(r) && r.controller === true).length > 1) {
        causes.push(
          invalidCause(
            "metadata.ownerReferences",
            refs,
            "Only one reference can have Controller set to true",
          ),
        );
      }
    }
  }
  return causes;
}

/** Pod spec checks on create: at least one container, each with a name and image. */
export function validatePodSpec(pod: KubeObject): StatusCause[] {
  const spec = pod.spec;
  if (!isObject(spec)) return [requiredCause("spec")];
  const containers = spec.containers;
  if (!Array.isArray(containers) || containers.length === 0) return [requiredCause("spec.containers")];
  const causes: StatusCause[] = [];
  const names = new Set<string>();
  containers.forEach((c, i) => {
    if (!isObject(c) || typeof c.name !== "string" || c.name === "") {
      causes.push(requiredCause(`spec.containers[${i}].name`));
    } else if (names.has(c.name)) {
      causes.push({
        reason: "FieldValueDuplicate",
        message: `Duplicate value: ${JSON.stringify(c.name)}`,
        field: `spec.containers[${i}].name`,
      });
    } else {
      names.add(c.name);
    }
    if (isObject(c) && (typeof c.image !== "string" || c.image === "")) {
      causes.push(requiredCause(`spec.containers[${i}].image`));
    }
  });
  return causes;
}

/** Fields of a pod spec that an update may change (kube allows only these). */
function mutablePodSpecView(spec: Record<string, unknown>): string {
  const copy = structuredClone(spec);
  for (const list of ["containers", "initContainers"] as const) {
    const cs = copy[list];
    if (Array.isArray(cs)) for (const c of cs) if (isObject(c)) delete c.image;
  }
  delete copy.activeDeadlineSeconds;
  delete copy.tolerations;
  delete copy.terminationGracePeriodSeconds;
  return JSON.stringify(sortKeys(copy));
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (!isObject(v)) return v;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v).sort()) out[k] = sortKeys(v[k]);
  return out;
}

/** Pod update rule: only images, activeDeadlineSeconds and tolerations may change. */
export function validatePodUpdate(oldPod: KubeObject, newPod: KubeObject): StatusCause[] {
  const oldSpec = isObject(oldPod.spec) ? oldPod.spec : {};
  const newSpec = isObject(newPod.spec) ? newPod.spec : {};
  if (mutablePodSpecView(oldSpec) === mutablePodSpecView(newSpec)) return [];
  return [
    forbiddenCause(
      "spec",
      "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
    ),
  ];
}

/** Stable JSON of a value with sorted keys (for change detection). */
export function canonicalJson(v: unknown): string {
  return JSON.stringify(sortKeys(v));
}
