/**
 * Errors of the data plane (admin → cluster Kubernetes API). Each names the cluster and the
 * operation; the placer turns them into queue reasons and retries with backoff.
 */
import { ApiException } from "@kubernetes/client-node";
import { AdminError } from "../errors.js";
import type { Reason } from "../routing/reason.js";
import { QuotaTemplateError } from "./quota.js";

/** Base of every data-plane error; `reason` is PascalCase and becomes the queue reason's code. */
export abstract class DataPlaneError extends AdminError {
  constructor(
    readonly cluster: string,
    readonly operation: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The cluster's API server could not be reached (connection refused, DNS, timeout, 5xx). */
export class ClusterUnreachableError extends DataPlaneError {
  override readonly name = "ClusterUnreachableError";
  readonly reason = "ClusterUnreachable";
  constructor(cluster: string, operation: string, detail: string, options?: { cause?: unknown }) {
    super(cluster, operation, `cluster ${cluster} unreachable during ${operation}: ${detail}`, options);
  }
}

/** The cluster's API server answered with an error status other than the expected ones. */
export class ClusterRequestError extends DataPlaneError {
  override readonly name = "ClusterRequestError";
  readonly reason = "ClusterRequestFailed";
  constructor(
    cluster: string,
    operation: string,
    readonly status: number,
    readonly detail: string,
    options?: { cause?: unknown },
  ) {
    super(
      cluster,
      operation,
      `cluster ${cluster} rejected ${operation} (HTTP ${status}): ${detail}`,
      options,
    );
  }
}

/** Admin has no usable credentials for the cluster (unknown cluster, unsupported credentials_ref). */
export class ClusterCredentialsError extends DataPlaneError {
  override readonly name = "ClusterCredentialsError";
  readonly reason = "ClusterCredentialsUnavailable";
  constructor(cluster: string, detail: string, options?: { cause?: unknown }) {
    super(cluster, "connect", `no usable credentials for cluster ${cluster}: ${detail}`, options);
  }
}

/** HTTP status of a client-node error, or undefined when the request never got an answer. */
export function httpStatusOf(err: unknown): number | undefined {
  if (err instanceof ApiException) return err.code;
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === "number" && code >= 100 && code < 600 ? code : undefined;
}

/**
 * Translates a client-node failure into a {@link DataPlaneError}: no status or 5xx/429 means
 * unreachable (transient), other statuses are a rejected request. Returns the typed error.
 */
export function toDataPlaneError(cluster: string, operation: string, err: unknown): DataPlaneError {
  if (err instanceof DataPlaneError) return err;
  const status = httpStatusOf(err);
  if (status === undefined || status >= 500 || status === 429) {
    return new ClusterUnreachableError(cluster, operation, describe(err), { cause: err });
  }
  return new ClusterRequestError(cluster, operation, status, describe(err), { cause: err });
}

function describe(err: unknown): string {
  if (err instanceof ApiException) {
    const body = err.body as unknown;
    if (typeof body === "string") {
      try {
        const parsed = JSON.parse(body) as { message?: unknown };
        if (typeof parsed.message === "string") return parsed.message;
      } catch {
        return body.slice(0, 300);
      }
    }
    if (body && typeof body === "object" && typeof (body as { message?: unknown }).message === "string") {
      return (body as { message: string }).message;
    }
    return `HTTP ${err.code}`;
  }
  if (err instanceof Error) {
    const cause = (err as { cause?: unknown }).cause;
    const code = (cause as { code?: unknown } | undefined)?.code ?? (err as { code?: unknown }).code;
    return typeof code === "string" ? `${err.message} (${code})` : err.message;
  }
  return String(err);
}

/**
 * The reason (code + message) a data-plane failure gives an execution that waits or a deletion
 * that is retried: the code of a DataPlaneError (a call that timed out is ClusterUnreachable) or
 * an unusable quota template (QuotaTemplateInvalid). Returns undefined for anything else (a bug or
 * a database failure, which the caller lets through).
 */
export function failureReason(err: unknown): Reason | undefined {
  if (err instanceof DataPlaneError || err instanceof QuotaTemplateError)
    return { code: err.reason, message: err.message };
  return undefined;
}
