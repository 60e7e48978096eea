/**
 * Reasons are data: a PascalCase code the code reads and a message people read. They are stored
 * as code + message columns and only joined into text for display.
 */

/** A machine-readable reason with its readable message. */
export interface Reason {
  /** PascalCase code, e.g. "ClusterUnreachable", "NoEligibleCluster", "ClusterLost". */
  code: string;
  /** Readable explanation. */
  message: string;
}

/** Queue-reason codes the routing subsystem assigns besides the router's and the data plane's. */
export const QueueReasonCode = {
  /** The execution's cluster stopped sending heartbeats; its placement is kept. */
  ClusterLost: "ClusterLost",
  /** The cluster did not answer (connection refused, DNS, timeout, 5xx). */
  ClusterUnreachable: "ClusterUnreachable",
  /** The namespace quota template cannot be rendered for the project/domain. */
  QuotaTemplateInvalid: "QuotaTemplateInvalid",
} as const;

/** `Code: message`, the form shown to users (an execution's queue reason, a decision's). */
export function reasonText(reason: Reason): string {
  return `${reason.code}: ${reason.message}`;
}
