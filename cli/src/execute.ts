/**
 * Runs flotctl for an argument vector and reports the outcome: the one place errors become
 * output and exit codes. Failures print `Error: <message>` on stderr, or under `-o json` the
 * stable `{"error": {...}}` object on stdout; the exit code is 2 for usage errors, 1 otherwise.
 */
import { CliError, ExitCode, UsageError } from "./errors.js";
import { ensureManifest, CLI_ROOT } from "./manifest.js";
import { getRuntime } from "./runtime.js";

/** Whether the command line (or environment) selects JSON output. */
export function wantsJson(argv: readonly string[], env: NodeJS.ProcessEnv): boolean {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--") break;
    if ((a === "-o" || a === "--output") && argv[i + 1] === "json") return true;
    if (a === "-ojson" || a === "--output=json" || a === "-o=json") return true;
  }
  return env.FLOTILLA_OUTPUT === "json";
}

/** Converts anything thrown by a command run into a CliError. */
export function toCliError(err: unknown): CliError {
  if (err instanceof CliError) return err;
  const e = err as { message?: string; oclif?: { exit?: number }; code?: string };
  if (e?.oclif?.exit !== undefined) {
    // oclif's own errors: parse errors, unknown commands (exit 2), this.exit(n).
    const message = String(e.message ?? "").replace(/\n\s*See more help with --help$/, "");
    if (e.oclif.exit === ExitCode.usage) return new UsageError(message);
    return new CliError(e.code === "EEXIT" ? "exit" : "failed", message, [], e.oclif.exit);
  }
  const message = err instanceof Error ? err.message : String(err);
  return new CliError("internal", message);
}

/**
 * Runs `argv` through oclif rooted at the @flotilla/cli package and returns the exit code.
 * Side effects: regenerates a stale manifest, writes output to the runtime's streams.
 */
export async function runFlotctl(argv: string[], root: string = CLI_ROOT): Promise<number> {
  const runtime = getRuntime();
  try {
    await ensureManifest(root);
    const { run } = await import("@oclif/core/run");
    await run(argv, root);
    return ExitCode.ok;
  } catch (raw) {
    const err = toCliError(raw);
    // `this.exit(n)`: the command already said what it had to; only the code remains.
    if ((raw as { code?: string })?.code === "EEXIT") return err.exitCode;
    if (wantsJson(argv, runtime.env)) runtime.stdout.write(JSON.stringify(err.toJSON(), null, 2) + "\n");
    else runtime.stderr.write(`Error: ${err.message}\n`);
    return err.exitCode;
  }
}
