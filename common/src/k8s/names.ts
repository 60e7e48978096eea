/**
 * Kubernetes names and keys shared by admin (which creates WorkflowExecution CRs and
 * namespaces) and propeller (which creates task pods). Names are deterministic so that a
 * restarted component finds, rather than duplicates, what it created before.
 */
import { createHash } from "node:crypto";

/** API group, version, kind and plural of the WorkflowExecution custom resource. */
export const WorkflowExecutionResource = {
  group: "flotilla.io",
  version: "v1alpha1",
  apiVersion: "flotilla.io/v1alpha1",
  kind: "WorkflowExecution",
  plural: "workflowexecutions",
  singular: "workflowexecution",
  shortNames: ["fwe"],
} as const;

/** Label keys Flotilla puts on the objects it owns. Values are bounded, never payloads. */
export const Labels = {
  project: "flotilla.io/project",
  domain: "flotilla.io/domain",
  execution: "flotilla.io/execution",
  launchPlan: "flotilla.io/launch-plan",
  workflow: "flotilla.io/workflow",
  node: "flotilla.io/node",
  attempt: "flotilla.io/attempt",
  /** Set to "true" on a CR once its workflow reached a terminal phase (informers exclude it). */
  terminated: "flotilla.io/terminated",
  managedBy: "app.kubernetes.io/managed-by",
} as const;

/** Annotation keys. */
export const Annotations = {
  /** W3C trace context of the create-execution call, so propeller rounds join the trace. */
  traceparent: "flotilla.io/traceparent",
  /** Routing decision summary written by admin (cluster, rule, reason). */
  routing: "flotilla.io/routing",
} as const;

/** The value of {@link Labels.managedBy} on everything Flotilla creates. */
export const MANAGED_BY = "flotilla";

const DNS_LABEL_MAX = 63;

/** True when `value` is a DNS-1123 label: lowercase alphanumerics and '-', 1–63 chars. */
export function isDnsLabel(value: string): boolean {
  return value.length > 0 && value.length <= DNS_LABEL_MAX && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(value);
}

/** The namespace that holds a project/domain's executions in every cluster: `{project}-{domain}`. */
export function executionNamespace(project: string, domain: string): string {
  return boundedName(`${project}-${domain}`, DNS_LABEL_MAX);
}

/**
 * The deterministic pod name of one attempt of one node of an execution. Long or non-DNS
 * inputs are shortened and suffixed with a hash of the full identity, so distinct
 * (execution, node, attempt) triples never collide and the name is always a valid pod name.
 */
export function taskPodName(execution: string, nodeId: string, attempt: number): string {
  return boundedName(`${execution}-${nodeId}-${attempt}`, DNS_LABEL_MAX);
}

/**
 * Lowercases and replaces characters not allowed in a DNS label; when the result is longer
 * than `max` or had to be changed, appends an 8-hex-digit hash of the original so the mapping
 * stays injective in practice.
 */
export function boundedName(raw: string, max: number): string {
  const cleaned = raw
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^-+|-+$/g, "");
  if (cleaned === raw && cleaned.length <= max && cleaned.length > 0) return cleaned;
  const hash = createHash("sha256").update(raw).digest("hex").slice(0, 8);
  const head = cleaned.slice(0, max - hash.length - 1).replace(/-+$/g, "");
  return head ? `${head}-${hash}` : hash;
}
