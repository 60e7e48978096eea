/** Structured logger used across admin (compatible with the routing subsystem's logger). */
export interface AdminLogger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/**
 * Creates a logger writing one JSON object per line to `stream` (stderr by default), with
 * `level`, `time`, `msg` and the fields. Errors in fields are rendered as message and stack.
 */
export function createJsonLogger(
  stream: NodeJS.WritableStream = process.stderr,
  component = "admin",
): AdminLogger {
  const write = (level: string, msg: string, fields?: Record<string, unknown>) => {
    const rendered: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(fields ?? {})) {
      rendered[k] = v instanceof Error ? { name: v.name, message: v.message, stack: v.stack } : v;
    }
    stream.write(
      JSON.stringify({ level, time: new Date().toISOString(), component, msg, ...rendered }) + "\n",
    );
  };
  return {
    info: (m, f) => write("info", m, f),
    warn: (m, f) => write("warn", m, f),
    error: (m, f) => write("error", m, f),
  };
}

/** A logger that drops everything (tests). */
export const silentLogger: AdminLogger = { info: () => {}, warn: () => {}, error: () => {} };
