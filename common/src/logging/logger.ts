/**
 * The logger contract of every Flotilla component. Services create the one implementation
 * (`createLogger` of `@flotilla/runtime`, pino underneath) once per process and pass it down;
 * libraries such as `@flotilla/db` accept it without depending on the runtime.
 */

/** Fields of one log line; `Error` values are written as `{name, message, stack}`. */
export type LogFields = Readonly<Record<string, unknown>>;

/**
 * The structured logger every Flotilla service creates once per process and passes down.
 * Each line is one JSON object: `level` (label), `time` (ISO 8601), `component`, `msg`, the
 * bindings of {@link Logger.child} and the fields of the call.
 */
export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger that adds `bindings` (e.g. `{cluster}`, `{execution}`) to every line. */
  child(bindings: LogFields): Logger;
}

/** A logger that writes nothing (tests and libraries called without one). */
export const silentLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  child: () => silentLogger,
};

/** One call recorded by {@link recordingLogger}. */
export interface RecordedLog {
  readonly level: "debug" | "info" | "warn" | "error";
  readonly msg: string;
  /** Child bindings merged with the call's fields. */
  readonly fields: LogFields;
}

/**
 * A logger that keeps every call in `records` (shared with its children) instead of writing
 * it: for tests of components that take a logger.
 */
export function recordingLogger(
  bindings: LogFields = {},
  records: RecordedLog[] = [],
): Logger & {
  readonly records: RecordedLog[];
} {
  const record = (level: RecordedLog["level"]) => (msg: string, fields?: LogFields) =>
    records.push({ level, msg, fields: { ...bindings, ...fields } });
  return {
    records,
    debug: record("debug"),
    info: record("info"),
    warn: record("warn"),
    error: record("error"),
    child: (more) => recordingLogger({ ...bindings, ...more }, records),
  };
}
