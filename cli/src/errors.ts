/**
 * CLI errors: every failure a command reports is a {@link CliError} with a stable snake_case
 * `code`, a readable message, structured `details` and the process exit code (2 for usage
 * errors, 1 otherwise). Under `-o json` they print as
 * `{"error": {"code": "...", "message": "...", "details": [...]}}`.
 */

/** Exit codes of flotctl. */
export const ExitCode = { ok: 0, failure: 1, usage: 2 } as const;

/** Base class of every error flotctl reports. */
export class CliError extends Error {
  override readonly name: string = "CliError";
  constructor(
    /** Stable snake_case code, e.g. "not_found", "invalid_spec", "usage". */
    readonly code: string,
    message: string,
    /** Structured details (one entry per problem), JSON-serialisable. */
    readonly details: unknown[] = [],
    /** Process exit code. */
    readonly exitCode: number = ExitCode.failure,
  ) {
    super(message);
  }

  /** The stable JSON shape printed under `-o json`. */
  toJSON(): { error: { code: string; message: string; details: unknown[] } } {
    return { error: { code: this.code, message: this.message, details: this.details } };
  }
}

/** The command line itself is wrong (unknown command, bad flag value, missing argument). */
export class UsageError extends CliError {
  override readonly name = "UsageError";
  constructor(message: string, details: unknown[] = []) {
    super("usage", message, details, ExitCode.usage);
  }
}

/** The config file cannot be read or is malformed; `path` is the file. */
export class ConfigError extends CliError {
  override readonly name = "ConfigError";
  constructor(
    readonly path: string,
    problem: string,
  ) {
    super("config", `${path}: ${problem}`, [{ file: path, message: problem }]);
  }
}

/** A required setting (project, domain) was given neither as a flag, env var nor in the config. */
export class MissingSettingError extends CliError {
  override readonly name = "MissingSettingError";
  constructor(
    readonly setting: string,
    hint: string,
  ) {
    super("usage", `${setting} is required: ${hint}`, [{ setting }], ExitCode.usage);
  }
}

/** One problem in a spec or exec file, with its position. */
export interface SpecProblem {
  file: string;
  /** 1-based line, 0 when unknown. */
  line: number;
  /** 1-based column, 0 when unknown. */
  column: number;
  /** Field path inside the document, e.g. `nodes[1].inputs.x`. */
  path: string;
  message: string;
}

/** Formats a problem as `file:line:column: path: message`. */
export function formatProblem(p: SpecProblem): string {
  const where = p.line > 0 ? `${p.file}:${p.line}:${p.column}` : p.file;
  return p.path ? `${where}: ${p.path}: ${p.message}` : `${where}: ${p.message}`;
}

/** Spec files contain errors; nothing was registered. `problems` lists every one. */
export class InvalidSpecError extends CliError {
  override readonly name = "InvalidSpecError";
  constructor(readonly problems: SpecProblem[]) {
    super(
      "invalid_spec",
      `${problems.length} problem${problems.length === 1 ? "" : "s"} found, nothing was registered:\n` +
        problems.map((p) => `  ${formatProblem(p)}`).join("\n"),
      problems,
    );
  }
}

/** The admin could not be reached at `url`. */
export class AdminUnreachableError extends CliError {
  override readonly name = "AdminUnreachableError";
  constructor(
    readonly url: string,
    cause: string,
  ) {
    super("unavailable", `cannot reach the admin at ${url}: ${cause}`, [{ admin: url }]);
  }
}

/** A watched execution ended in a phase other than SUCCEEDED. */
export class ExecutionOutcomeError extends CliError {
  override readonly name = "ExecutionOutcomeError";
  constructor(
    readonly execution: string,
    readonly phase: string,
    reason: string,
  ) {
    super("execution_failed", `execution ${execution} ended ${phase}${reason ? `: ${reason}` : ""}`, [
      { execution, phase, reason },
    ]);
  }
}
