/**
 * A command line the service cannot act on (an unknown flag, a missing argument). The main
 * wrapper prints it and exits 2.
 */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/**
 * A configuration value is missing, malformed or unknown. `keyPath` is the dotted key
 * (`server.port`), `source` where the value came from (`file admin.yaml line 3`,
 * `env FLOTILLA_ADMIN_SERVER_PORT`, `flag --port`, `default`). The main wrapper prints it and
 * exits 2. `problems` holds every problem found, the first of which is also in the fields.
 */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  readonly keyPath: string;
  readonly source: string;
  readonly problem: string;
  constructor(
    service: string,
    readonly problems: readonly { keyPath: string; source: string; problem: string }[],
  ) {
    super(
      `${service} config: ` +
        problems.map((p) => `${p.keyPath || "(root)"}: ${p.problem} (from ${p.source})`).join("; "),
    );
    const first = problems[0] ?? { keyPath: "", source: "default", problem: "invalid" };
    this.keyPath = first.keyPath;
    this.source = first.source;
    this.problem = first.problem;
  }
}

/** Whether `err` means "the operator's input was wrong" (exit code 2) rather than a failure. */
export function isUsageProblem(err: unknown): err is UsageError | ConfigError {
  return err instanceof UsageError || err instanceof ConfigError;
}

/**
 * Quotes a value for an error message: JSON, cut to `max` characters with an ellipsis, so a
 * hostile 5 MB value never comes back whole in an answer or a log line.
 */
export function quoteValue(value: unknown, max = 64): string {
  let text: string;
  try {
    text = typeof value === "string" ? value : (JSON.stringify(value) ?? String(value));
  } catch {
    text = String(value);
  }
  return JSON.stringify(text.length > max ? `${text.slice(0, max)}…` : text);
}
