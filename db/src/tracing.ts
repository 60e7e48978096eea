/**
 * Database spans: each statement (and each transaction) becomes a CLIENT span when it runs inside
 * a recording span, e.g. an RPC's while tracing is on. Outside one — tracing off, or background
 * work nobody traces — the statement runs as is, so an untraced process pays one context lookup.
 * `@flotilla/db` sits below the runtime, so it uses the OpenTelemetry API directly; the runtime
 * registers the provider.
 */
import { SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";

const tracer = trace.getTracer("@flotilla/db");

/** Longest statement text put on a span (`db.query.text`). */
const MAX_QUERY_TEXT = 2048;

/** The first keyword of a statement (`SELECT`, `INSERT`, `WITH`, ...), the span's name. */
export function operationName(sql: string): string {
  const match = /^\s*([A-Za-z]+)/.exec(sql);
  return match?.[1]?.toUpperCase() ?? "QUERY";
}

/**
 * Runs `fn` in a CLIENT span `name` (attributes: `db.system.name`, `db.query.text` when given)
 * when a recording span is active; otherwise just runs it. Returns what `fn` returns.
 */
export function traceStatement<T>(name: string, sql: string | undefined, fn: () => Promise<T>): Promise<T> {
  const parent = trace.getActiveSpan();
  if (parent === undefined || !parent.isRecording()) return fn();
  return tracer.startActiveSpan(
    name,
    {
      kind: SpanKind.CLIENT,
      attributes: {
        "db.system.name": "postgresql",
        ...(sql !== undefined ? { "db.query.text": sql.slice(0, MAX_QUERY_TEXT) } : {}),
      },
    },
    async (span) => {
      try {
        return await fn();
      } catch (err) {
        if (err instanceof Error) span.recordException(err);
        span.setStatus({
          code: SpanStatusCode.ERROR,
          message: err instanceof Error ? err.message : String(err),
        });
        throw err;
      } finally {
        span.end();
      }
    },
  );
}
