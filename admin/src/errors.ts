/**
 * Domain errors of the admin service. Managers and repositories throw these; the RPC layer maps
 * each class to a ConnectError code in exactly one place (`rpc/errors.ts`).
 */

/** Base class of every admin domain error; `reason` is a PascalCase machine-readable code. */
export abstract class AdminError extends Error {
  /** PascalCase reason, stable across versions. */
  abstract readonly reason: string;
}

/** A request field is missing or malformed. `field` is the proto field path. */
export class InvalidArgumentError extends AdminError {
  override readonly name = "InvalidArgumentError";
  readonly reason = "InvalidArgument";
  constructor(
    readonly field: string,
    readonly problem: string,
  ) {
    super(`${field}: ${problem}`);
  }
}

/** A named entity does not exist. `kind` is e.g. "project", "task", "execution". */
export class NotFoundError extends AdminError {
  override readonly name: string = "NotFoundError";
  readonly reason: string = "NotFound";
  constructor(
    readonly kind: string,
    readonly id: string,
  ) {
    super(`${kind} ${id} not found`);
  }
}

/** The execution `{project}/{domain}/{name}` does not exist. */
export class ExecutionNotFoundError extends NotFoundError {
  override readonly name = "ExecutionNotFoundError";
  override readonly reason = "ExecutionNotFound";
  constructor(id: string) {
    super("execution", id);
  }
}

/**
 * An entity with the same identity but different content exists (immutable registrations,
 * idempotent creates), or a unique constraint refused the write.
 */
export class AlreadyExistsError extends AdminError {
  override readonly name = "AlreadyExistsError";
  readonly reason = "AlreadyExists";
  constructor(
    readonly kind: string,
    readonly id: string,
    readonly detail = "exists with different content",
  ) {
    super(`${kind} ${id} already ${detail.startsWith("exists") ? detail : `exists: ${detail}`}`);
  }
}

/** The operation is not allowed in the entity's current state (e.g. terminating a finished execution). */
export class FailedPreconditionError extends AdminError {
  override readonly name = "FailedPreconditionError";
  readonly reason: string;
  constructor(reason: string, message: string) {
    super(message);
    this.reason = reason;
  }
}

/** One problem found while compiling a workflow, naming the node and variable concerned. */
export interface CompileProblem {
  /** PascalCase code, e.g. "Cycle", "TypeMismatch", "UnknownNode", "MissingInput". */
  code: string;
  /** Node concerned ("" for workflow-level problems). */
  nodeId: string;
  /** Variable concerned ("" when not about one variable). */
  variable: string;
  /** Readable description naming workflow, node and variable. */
  message: string;
}

/** A workflow (or launch plan, or execution inputs) failed compilation; nothing was stored. */
export class CompilationError extends AdminError {
  override readonly name = "CompilationError";
  readonly reason = "CompilationFailed";
  constructor(
    readonly subject: string,
    readonly problems: readonly CompileProblem[],
  ) {
    super(
      `${subject} failed to compile (${problems.length} problem${problems.length === 1 ? "" : "s"}): ` +
        problems.map((p) => p.message).join("; "),
    );
  }
}
