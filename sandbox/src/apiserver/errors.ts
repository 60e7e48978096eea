/**
 * Kubernetes API errors as kube-apiserver words them: each error carries the `Status` body the
 * server answers with (reason, code, details), so clients such as kubectl and
 * @kubernetes/client-node see exactly what a real cluster would send.
 */

/** One field-level cause inside a `Status.details.causes` list. */
export interface StatusCause {
  reason: string;
  message: string;
  field?: string;
}

/** The `details` of a kube `Status` object. */
export interface StatusDetails {
  name?: string;
  group?: string;
  kind: string;
  uid?: string;
  causes?: StatusCause[];
  retryAfterSeconds?: number;
}

/** A `meta.k8s.io/v1` `Status` failure body. */
export interface StatusBody {
  kind: "Status";
  apiVersion: "v1";
  metadata: Record<string, never>;
  status: "Failure";
  message: string;
  reason?: string;
  details?: StatusDetails;
  code: number;
}

/** A failed API request: an HTTP code plus the kube `Status` body sent to the client. */
export class ApiError extends Error {
  /** The HTTP status code answered. */
  readonly code: number;
  /** Kube's machine-readable reason (e.g. `NotFound`, `Conflict`); empty for raw storage errors. */
  readonly reason: string;
  /** Structured details (kind, name, causes). */
  readonly details: StatusDetails | undefined;
  /** Extra response headers (e.g. `Retry-After`). */
  readonly headers: Record<string, string>;

  constructor(
    code: number,
    reason: string,
    message: string,
    details?: StatusDetails,
    headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = "ApiError";
    this.code = code;
    this.reason = reason;
    this.details = details;
    this.headers = headers;
  }

  /** The kube `Status` body for this error. */
  toStatus(): StatusBody {
    const body: StatusBody = {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: this.message,
      code: this.code,
    };
    if (this.reason) body.reason = this.reason;
    if (this.details) body.details = this.details;
    return body;
  }
}

/** Identifies the resource an error is about: kube wording uses `resource[.group]`. */
export interface ResourceRef {
  group: string;
  resource: string;
}

function qualified(ref: ResourceRef): string {
  return ref.group ? `${ref.resource}.${ref.group}` : ref.resource;
}

/** 404 NotFound: `pods "x" not found`. */
export function notFound(ref: ResourceRef, name: string): ApiError {
  return new ApiError(404, "NotFound", `${qualified(ref)} "${name}" not found`, {
    name,
    group: ref.group || undefined,
    kind: ref.resource,
  });
}

/** 409 AlreadyExists: `pods "x" already exists`. */
export function alreadyExists(ref: ResourceRef, name: string): ApiError {
  return new ApiError(409, "AlreadyExists", `${qualified(ref)} "${name}" already exists`, {
    name,
    group: ref.group || undefined,
    kind: ref.resource,
  });
}

/** 409 Conflict for a stale resourceVersion, in kube's exact wording. */
export function conflict(ref: ResourceRef, name: string, why: string): ApiError {
  return new ApiError(
    409,
    "Conflict",
    `Operation cannot be fulfilled on ${qualified(ref)} "${name}": ${why}`,
    { name, group: ref.group || undefined, kind: ref.resource },
  );
}

/** The message kube uses when an update carries a stale resourceVersion. */
export const MODIFIED_MESSAGE =
  "the object has been modified; please apply your changes to the latest version and try again";

/** 403 Forbidden: `pods "x" is forbidden: <why>`. */
export function forbidden(ref: ResourceRef, name: string, why: string): ApiError {
  return new ApiError(403, "Forbidden", `${qualified(ref)} "${name}" is forbidden: ${why}`, {
    name,
    group: ref.group || undefined,
    kind: ref.resource,
  });
}

/** 422 Invalid: `Kind.group "name" is invalid: [cause, cause]` with field causes. */
export function invalid(kind: string, group: string, name: string, causes: StatusCause[]): ApiError {
  const qualifiedKind = group ? `${kind}.${group}` : kind;
  const parts = causes.map((c) => (c.field ? `${c.field}: ${c.message}` : c.message));
  const joined = parts.length === 1 ? parts[0] : `[${parts.join(", ")}]`;
  return new ApiError(422, "Invalid", `${qualifiedKind} "${name}" is invalid: ${joined}`, {
    name,
    group: group || undefined,
    kind,
    causes,
  });
}

/** A field cause with kube's `FieldValueRequired` wording. */
export function requiredCause(field: string, detail = ""): StatusCause {
  return {
    reason: "FieldValueRequired",
    message: detail ? `Required value: ${detail}` : "Required value",
    field,
  };
}

/** A field cause with kube's `FieldValueInvalid` wording. */
export function invalidCause(field: string, value: unknown, detail: string): StatusCause {
  return {
    reason: "FieldValueInvalid",
    message: `Invalid value: ${JSON.stringify(value)}: ${detail}`,
    field,
  };
}

/** A field cause with kube's `FieldValueForbidden` wording. */
export function forbiddenCause(field: string, detail: string): StatusCause {
  return { reason: "FieldValueForbidden", message: `Forbidden: ${detail}`, field };
}

/** 400 BadRequest with a plain message. */
export function badRequest(message: string): ApiError {
  return new ApiError(400, "BadRequest", message);
}

/** 405 MethodNotAllowed for a verb the resource does not support. */
export function methodNotAllowed(verb: string): ApiError {
  return new ApiError(
    405,
    "MethodNotAllowed",
    `the server does not allow this method on the requested resource`,
    { kind: verb },
  );
}

/** 410 Gone/Expired for a watch or list from a compacted resourceVersion. */
export function expired(requested: number, oldest: number): ApiError {
  return new ApiError(410, "Expired", `too old resource version: ${requested} (${oldest})`);
}

/** 413 for request bodies over the request limit, exactly as kube-apiserver answers it. */
export function requestTooLarge(limit: number): ApiError {
  return new ApiError(413, "RequestEntityTooLarge", `Request entity too large: limit is ${limit}`);
}

/**
 * 500 with etcd's raw message, which is what real clusters return when the stored object is
 * over etcd's request limit (the error is not a kube Status, so it carries no reason).
 */
export function etcdTooLarge(): ApiError {
  return new ApiError(500, "", "etcdserver: request is too large");
}

/** 415 for a patch content type the resource does not accept. */
export function unsupportedMediaType(contentType: string): ApiError {
  return new ApiError(
    415,
    "UnsupportedMediaType",
    `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json (got ${contentType})`,
  );
}

/** 404 for an unknown URL, as kube answers paths it does not serve. */
export function pathNotFound(): ApiError {
  return new ApiError(404, "NotFound", "the server could not find the requested resource");
}
