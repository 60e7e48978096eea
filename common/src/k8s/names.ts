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
  /** W3C `tracestate` that goes with {@link Annotations.traceparent}, when the trace has one. */
  tracestate: "flotilla.io/tracestate",
  /** Routing decision summary written by admin (cluster, rule, reason). */
  routing: "flotilla.io/routing",
} as const;

/** The value of {@link Labels.managedBy} on everything Flotilla creates. */
export const MANAGED_BY = "flotilla";

const DNS_LABEL_MAX = 63;

/** The longest DNS-1123 label: namespaces, pod names, cluster names. */
export const DNS_LABEL_MAX_LENGTH = DNS_LABEL_MAX;

/** The longest DNS-1123 subdomain: the names of most Kubernetes objects. */
export const DNS_SUBDOMAIN_MAX_LENGTH = 253;

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const QUALIFIED_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const QUALIFIED_NAME_MAX = 63;

/**
 * True when `value` is a DNS-1123 label: 1 to `maxLength` (default 63) lowercase letters, digits
 * or '-', starting and ending with a letter or digit. Pass a smaller `maxLength` for names that
 * get a suffix appended later (execution names are at most 20).
 */
export function isDnsLabel(value: string, maxLength = DNS_LABEL_MAX_LENGTH): boolean {
  return value.length <= maxLength && DNS_LABEL.test(value);
}

/**
 * True when `value` is a DNS-1123 subdomain: at most 253 characters of DNS-1123 labels joined by
 * '.', as Kubernetes requires of most object names.
 */
export function isDnsSubdomain(value: string): boolean {
  return value.length <= DNS_SUBDOMAIN_MAX_LENGTH && value.split(".").every((part) => DNS_LABEL.test(part));
}

/** The rule of a DNS-1123 label in words, for messages: "1-63 lowercase letters, …". */
export function dnsLabelRule(maxLength = DNS_LABEL_MAX_LENGTH): string {
  return `1-${maxLength} lowercase letters, digits or '-', starting and ending with a letter or digit`;
}

/**
 * What is wrong with `value` as a DNS-1123 label (see {@link isDnsLabel}), as one sentence that
 * quotes the value, states the rule and names the first offending character or length, e.g.
 * `"Web_1" is not a DNS-1123 label (1-63 lowercase letters, …): it contains "W"`. Returns
 * undefined when the value is a valid label.
 */
export function dnsLabelProblem(value: string, maxLength = DNS_LABEL_MAX_LENGTH): string | undefined {
  const reason =
    value.length > maxLength ? `it is ${value.length} characters long` : labelPartProblem(value, "it");
  return reason && `${JSON.stringify(value)} is not a DNS-1123 label (${dnsLabelRule(maxLength)}): ${reason}`;
}

/**
 * What is wrong with `value` as a DNS-1123 subdomain (see {@link isDnsSubdomain}), worded like
 * {@link dnsLabelProblem}; undefined when the value is valid.
 */
export function dnsSubdomainProblem(value: string): string | undefined {
  let reason: string | undefined;
  if (value.length > DNS_SUBDOMAIN_MAX_LENGTH) reason = `it is ${value.length} characters long`;
  else if (value === "") reason = "it is empty";
  else {
    for (const part of value.split(".")) {
      reason =
        part === ""
          ? "it has an empty part between dots"
          : labelPartProblem(part, `its part ${JSON.stringify(part)}`);
      if (reason) break;
    }
  }
  return (
    reason &&
    `${JSON.stringify(value)} is not a DNS-1123 subdomain (at most ${DNS_SUBDOMAIN_MAX_LENGTH} characters of DNS-1123 labels joined by '.'): ${reason}`
  );
}

function labelPartProblem(part: string, subject: string): string | undefined {
  if (part === "") return `${subject} is empty`;
  const bad = /[^-a-z0-9]/.exec(part);
  if (bad) return `${subject} contains ${JSON.stringify(bad[0])}`;
  if (part.startsWith("-")) return `${subject} starts with '-'`;
  if (part.endsWith("-")) return `${subject} ends with '-'`;
  return undefined;
}

/**
 * True when `key` is a Kubernetes label (or annotation) key: an optional DNS-1123 subdomain
 * prefix and '/', then a name of 1-63 letters, digits, '-', '_' or '.' starting and ending with
 * a letter or digit (`app`, `flotilla.io/project`).
 */
export function isLabelKey(key: string): boolean {
  const parts = key.split("/");
  if (parts.length > 2) return false;
  const name = parts[parts.length - 1];
  if (parts.length === 2 && !isDnsSubdomain(parts[0])) return false;
  return name.length <= QUALIFIED_NAME_MAX && QUALIFIED_NAME.test(name);
}

/**
 * True when `value` is a Kubernetes label value: empty, or 1-63 letters, digits, '-', '_' or '.'
 * starting and ending with a letter or digit.
 */
export function isLabelValue(value: string): boolean {
  return value === "" || (value.length <= QUALIFIED_NAME_MAX && QUALIFIED_NAME.test(value));
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
