/**
 * The rule that turns tracing on, alone in a module without imports so a short-lived process
 * (flotctl) can ask it without loading OpenTelemetry (`@flotilla/runtime/tracing-env`).
 */

/**
 * Whether `OTEL_*` in `env` turns tracing on: `OTEL_SDK_DISABLED` is not `true`, and an OTLP
 * endpoint (`OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) or an
 * exporter (`OTEL_TRACES_EXPORTER` other than `none`) is named.
 */
export function tracingEnabled(env: NodeJS.ProcessEnv): boolean {
  if ((env.OTEL_SDK_DISABLED ?? "").trim().toLowerCase() === "true") return false;
  const exporter = (env.OTEL_TRACES_EXPORTER ?? "").trim().toLowerCase();
  if (exporter === "none") return false;
  return (
    exporter !== "" ||
    (env.OTEL_EXPORTER_OTLP_ENDPOINT ?? "") !== "" ||
    (env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? "") !== ""
  );
}
