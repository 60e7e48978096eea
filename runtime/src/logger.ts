import { Writable } from "node:stream";
import { type LogFields, type Logger } from "@flotilla/common";
import { pino, type DestinationStream, type Logger as PinoLogger } from "pino";
import { activeTraceFields } from "./tracing.js";

/** Severity levels, lowest first; `silent` logs nothing. */
export const LogLevel = {
  Debug: "debug",
  Info: "info",
  Warn: "warn",
  Error: "error",
  Silent: "silent",
} as const;
/** One of {@link LogLevel}'s values. */
export type LogLevel = (typeof LogLevel)[keyof typeof LogLevel];

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /** The service or part writing (`admin`, `propeller`, ...): the `component` field. */
  readonly component: string;
  /** Lowest level written; default `$FLOTILLA_LOG_LEVEL`, else `info`. */
  readonly level?: LogLevel;
  /** Where lines go; default standard error, written synchronously so no line is lost on exit. */
  readonly destination?: DestinationStream | NodeJS.WritableStream;
}

/** The environment variable that sets the default log level of every service. */
export const LOG_LEVEL_ENV = "FLOTILLA_LOG_LEVEL";

/**
 * Creates the process's logger (pino underneath). While tracing is on and a span is active, each
 * line carries its `trace_id` and `span_id`. Throws a RangeError naming the variable when
 * `$FLOTILLA_LOG_LEVEL` holds an unknown level.
 */
export function createLogger(options: LoggerOptions): Logger {
  const level = options.level ?? levelFromEnv(process.env[LOG_LEVEL_ENV]);
  const destination = options.destination ?? pino.destination({ fd: 2, sync: true });
  const base = pino(
    {
      level,
      base: { component: options.component },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      // trace_id / span_id of the active span when tracing is on (nothing otherwise).
      mixin: activeTraceFields,
    },
    destination,
  );
  return wrap(base);
}

function levelFromEnv(value: string | undefined): LogLevel {
  if (value === undefined || value === "") return LogLevel.Info;
  const levels: readonly string[] = Object.values(LogLevel);
  if (!levels.includes(value)) {
    throw new RangeError(`${LOG_LEVEL_ENV}=${value}: expected one of ${levels.join(", ")}`);
  }
  return value as LogLevel;
}

function wrap(p: PinoLogger): Logger {
  return {
    debug: (msg, fields) => p.debug(render(fields), msg),
    info: (msg, fields) => p.info(render(fields), msg),
    warn: (msg, fields) => p.warn(render(fields), msg),
    error: (msg, fields) => p.error(render(fields), msg),
    child: (bindings) => wrap(p.child(render(bindings))),
  };
}

function render(fields: LogFields | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields ?? {})) {
    out[key] = value instanceof Error ? errorFields(value) : value;
  }
  return out;
}

function errorFields(err: Error): Record<string, unknown> {
  const code = (err as { code?: unknown }).code;
  return {
    name: err.name,
    message: err.message,
    ...(code !== undefined ? { code } : {}),
    ...(err.stack !== undefined ? { stack: err.stack } : {}),
  };
}

/** One line recorded by {@link captureLogger}. */
export interface CapturedLine {
  readonly level: string;
  readonly msg: string;
  readonly [field: string]: unknown;
}

/**
 * A real logger whose lines are parsed and kept in `lines` instead of written (tests that
 * assert what a component logged). Every level is recorded.
 */
export function captureLogger(component = "test"): Logger & { readonly lines: CapturedLine[] } {
  const lines: CapturedLine[] = [];
  const sink = new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      for (const text of chunk.toString().split("\n")) {
        if (text !== "") lines.push(JSON.parse(text) as CapturedLine);
      }
      done();
    },
  });
  return Object.assign(createLogger({ component, level: LogLevel.Debug, destination: sink }), { lines });
}
