/**
 * flotctl's tracing: when `OTEL_*` turns it on (the runtime's rule), each admin call is a CLIENT
 * span whose context goes to the admin in the `traceparent` header, so `flotctl create
 * execution` starts the execution's trace. The OpenTelemetry SDK is imported only then: with
 * tracing off the CLI loads nothing more than the rule.
 */
import type { Interceptor } from "@connectrpc/connect";
import { tracingEnabled } from "@flotilla/runtime/tracing-env";

/** The `service.name` of flotctl's spans (unless `OTEL_SERVICE_NAME` names another). */
export const FLOTCTL_SERVICE_NAME = "flotctl";

let started: Promise<{ interceptor: Interceptor; stop: () => Promise<void> }> | undefined;

/**
 * The interceptors that trace admin calls: none while tracing is off; otherwise starts tracing
 * for the process (once) and returns the runtime's client interceptor.
 */
export async function tracingInterceptors(env: NodeJS.ProcessEnv): Promise<Interceptor[]> {
  if (!tracingEnabled(env)) return [];
  started ??= (async () => {
    const tracing = await import("@flotilla/runtime/tracing");
    const running = await tracing.startTracing(FLOTCTL_SERVICE_NAME, env);
    return {
      interceptor: tracing.tracingClientInterceptor(),
      stop: () => running?.shutdown() ?? Promise.resolve(),
    };
  })();
  return [(await started).interceptor];
}

/** Exports the spans of this run and stops tracing; does nothing when it never started. */
export async function stopTracing(): Promise<void> {
  if (started === undefined) return;
  // A collector that is down must not fail the command: the spans are lost, the work is done.
  await (await started).stop().catch(() => undefined);
}
