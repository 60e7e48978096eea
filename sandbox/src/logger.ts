/**
 * The logger shape the sandbox writes to: structured messages with fields. Callers pass their
 * own (the bin passes the process logger); the default writes one JSON line per entry to
 * stderr.
 */

/** Where the sandbox reports what it cannot answer to a caller (controller failures, bugs). */
export interface SandboxLogger {
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

/** A logger writing JSON lines (`level`, `time`, `component`, `msg`, fields) to stderr. */
export function stderrLogger(component: string): SandboxLogger {
  const write = (level: string, msg: string, fields: Record<string, unknown> = {}): void => {
    const rendered = Object.fromEntries(
      Object.entries(fields).map(([k, v]) => [
        k,
        v instanceof Error ? { name: v.name, message: v.message, stack: v.stack } : v,
      ]),
    );
    process.stderr.write(
      `${JSON.stringify({ level, time: new Date().toISOString(), component, msg, ...rendered })}\n`,
    );
  };
  return {
    warn: (msg, fields) => write("warn", msg, fields),
    error: (msg, fields) => write("error", msg, fields),
  };
}
