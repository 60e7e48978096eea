/**
 * Domain errors of the admin service. Managers, repositories and the data plane throw these;
 * each class carries its Connect code and its typed details, and the RPC interceptor
 * (`rpc/errors.ts`) is the one place that turns them into a ConnectError.
 */
import { create } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import {
  CompileErrorsSchema,
  CompileError_Code,
  ValidationErrorSchema,
  type CompileErrors,
  type ValidationError,
} from "@flotilla/proto";

/** A typed error detail sent with the ConnectError (clients read it with `findDetails`). */
export type AdminErrorDetail =
  | { desc: typeof ValidationErrorSchema; value: ValidationError }
  | { desc: typeof CompileErrorsSchema; value: CompileErrors };

/** Options of {@link AdminError}'s constructor. */
export interface AdminErrorOptions {
  /** PascalCase reason; defaults to the class name without its `Error` suffix. */
  reason?: string;
  /** The lower-level error this one translates (logged, never sent). */
  cause?: unknown;
}

/**
 * Base class of every admin domain error. `code` is the Connect code the RPC boundary answers
 * with; `reason` is a PascalCase machine-readable code, stable across versions; `details()`
 * are the typed error details sent along.
 */
export abstract class AdminError extends Error {
  /** The Connect code this error is answered with. */
  abstract readonly code: Code;
  /** PascalCase reason, stable across versions. */
  readonly reason: string;

  constructor(message: string, options: AdminErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.reason = options.reason ?? new.target.name.replace(/Error$/, "");
  }

  /** Typed details sent with the error; none unless a subclass has a machine-readable shape. */
  details(): AdminErrorDetail[] {
    return [];
  }
}

/** A request field is missing or malformed. `field` is the proto field path. */
export class InvalidArgumentError extends AdminError {
  readonly code = Code.InvalidArgument;
  constructor(
    readonly field: string,
    readonly problem: string,
  ) {
    super(`${field}: ${problem}`);
  }

  /** A `flotilla.core.v1.ValidationError` naming the field. */
  override details(): AdminErrorDetail[] {
    const rule = this.problem === "is required" ? "required" : "invalid";
    return [
      {
        desc: ValidationErrorSchema,
        value: create(ValidationErrorSchema, {
          violations: [{ field: this.field, rule, description: this.problem }],
        }),
      },
    ];
  }
}

/** A named entity does not exist. `kind` is e.g. "project", "task", "execution". */
export class NotFoundError extends AdminError {
  readonly code = Code.NotFound;
  constructor(
    readonly kind: string,
    readonly id: string,
    options?: AdminErrorOptions,
  ) {
    super(`${kind} ${id} not found`, options);
  }
}

/** The execution `{project}/{domain}/{name}` does not exist. */
export class ExecutionNotFoundError extends NotFoundError {
  constructor(id: string) {
    super("execution", id);
  }
}

/**
 * An entity with the same identity but different content exists (immutable registrations,
 * idempotent creates), or a unique constraint refused the write. `detail` completes the
 * sentence "{kind} {id} already ...", e.g. "exists with digest abc".
 */
export class AlreadyExistsError extends AdminError {
  readonly code = Code.AlreadyExists;
  constructor(
    readonly kind: string,
    readonly id: string,
    readonly detail = "exists with different content",
  ) {
    super(`${kind} ${id} already ${detail}`);
  }
}

/** The operation is not allowed in the entity's current state (e.g. terminating a finished execution). */
export class FailedPreconditionError extends AdminError {
  readonly code = Code.FailedPrecondition;
  constructor(reason: string, message: string) {
    super(message, { reason });
  }
}

/**
 * An update carried a revision that is not the entity's current one (optimistic concurrency):
 * Aborted, gRPC's code for a concurrency conflict the client resolves by re-reading.
 */
export class StaleRevisionError extends AdminError {
  readonly code = Code.Aborted;
  constructor(
    readonly kind: string,
    readonly id: string,
    readonly given: number,
    readonly current: number,
  ) {
    super(`${kind} ${id}: revision ${given} is stale (current ${current}); re-read and retry`);
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

/** The proto classification of each compiler problem code; unlisted codes are UNSPECIFIED. */
const COMPILE_CODES: Readonly<Record<string, CompileError_Code>> = {
  Cycle: CompileError_Code.CYCLE,
  UnknownNode: CompileError_Code.UNKNOWN_REFERENCE,
  UnknownTask: CompileError_Code.UNKNOWN_REFERENCE,
  UnknownWorkflow: CompileError_Code.UNKNOWN_REFERENCE,
  UnknownLaunchPlan: CompileError_Code.UNKNOWN_REFERENCE,
  MissingTarget: CompileError_Code.UNKNOWN_REFERENCE,
  TypeMismatch: CompileError_Code.TYPE_MISMATCH,
  MissingInput: CompileError_Code.UNBOUND_INPUT,
  MissingOutputBinding: CompileError_Code.UNBOUND_INPUT,
  UnreachableNode: CompileError_Code.UNREACHABLE_NODE,
  DuplicateNodeId: CompileError_Code.DUPLICATE_NODE_ID,
  InvalidNodeId: CompileError_Code.DUPLICATE_NODE_ID,
  UnknownInput: CompileError_Code.UNKNOWN_VARIABLE,
  UnknownOutput: CompileError_Code.UNKNOWN_VARIABLE,
  UnknownWorkflowInput: CompileError_Code.UNKNOWN_VARIABLE,
  UnknownWorkflowOutput: CompileError_Code.UNKNOWN_VARIABLE,
  InvalidBranch: CompileError_Code.INVALID_BRANCH,
};

/** A workflow (or launch plan, or execution inputs) failed compilation; nothing was stored. */
export class CompilationError extends AdminError {
  readonly code = Code.InvalidArgument;
  constructor(
    readonly subject: string,
    readonly problems: readonly CompileProblem[],
  ) {
    super(
      `${subject} failed to compile (${problems.length} problem${problems.length === 1 ? "" : "s"}): ` +
        problems.map((p) => p.message).join("; "),
      { reason: "CompilationFailed" },
    );
  }

  /** A `flotilla.core.v1.CompileErrors` with every problem (at most 100). */
  override details(): AdminErrorDetail[] {
    const errors = this.problems.slice(0, 100).map((p) => ({
      code: COMPILE_CODES[p.code] ?? CompileError_Code.UNSPECIFIED,
      nodeId: p.nodeId,
      var: p.variable,
      message: p.message,
    }));
    return [{ desc: CompileErrorsSchema, value: create(CompileErrorsSchema, { errors }) }];
  }
}
