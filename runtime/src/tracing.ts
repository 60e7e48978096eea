/**
 * Tracing with OpenTelemetry, configured only by the standard `OTEL_*` environment variables and
 * off by default. This module imports only `@opentelemetry/api` (a no-op until a provider is
 * registered); the SDK and the exporters are loaded by {@link startTracing} when tracing is on,
 * so a process that does not trace pays neither their load time nor any per-call work: every
 * helper here checks {@link isTracing} first and then does nothing.
 *
 * The "on" rule ({@link tracingEnabled}): `OTEL_SDK_DISABLED` is not `true`, and an OTLP
 * endpoint (`OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) or an
 * exporter (`OTEL_TRACES_EXPORTER` other than `none`) is named.
 */
import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  context,
  propagation,
  trace,
  type Attributes,
  type Context,
  type Link,
  type Span,
  type SpanContext,
  type TextMapGetter,
  type TextMapSetter,
  type Tracer,
} from "@opentelemetry/api";
import type { SpanExporter } from "@opentelemetry/sdk-trace-base";
import type { Interceptor } from "@connectrpc/connect";
import { Code, ConnectError } from "@connectrpc/connect";
import { UsageError } from "./errors.js";
import { tracingEnabled } from "./tracing-env.js";

export { tracingEnabled } from "./tracing-env.js";

/** The OTLP protocols a Flotilla service exports with (`OTEL_EXPORTER_OTLP_PROTOCOL`). */
export const OtlpProtocol = {
  Protobuf: "http/protobuf",
  Json: "http/json",
} as const;
/** One of {@link OtlpProtocol}'s values. */
export type OtlpProtocol = (typeof OtlpProtocol)[keyof typeof OtlpProtocol];

/** Options of {@link startTracing} (tests; services pass none). */
export interface TracingOptions {
  /**
   * Export to this exporter instead of the one `OTEL_*` names, each span as it ends (tests with
   * an in-memory exporter). Tracing is then on whatever the environment says, except
   * `OTEL_SDK_DISABLED=true`.
   */
  readonly exporter?: SpanExporter;
}

/** Started tracing: flush or shut it down. */
export interface Tracing {
  /** The service name the spans carry (`OTEL_SERVICE_NAME` wins over the name passed). */
  readonly serviceName: string;
  /** Exports the spans ended so far. */
  forceFlush(): Promise<void>;
  /**
   * Exports what is left, then unregisters the provider, the context manager and the
   * propagator (the process is back to no tracing). Idempotent.
   */
  shutdown(): Promise<void>;
}

let active = false;

/** Whether a tracer provider is registered by {@link startTracing} in this process. */
export function isTracing(): boolean {
  return active;
}

/**
 * Starts tracing for the process when `OTEL_*` in `env` says so (or an exporter is given):
 * registers a tracer provider with `service.name` = `OTEL_SERVICE_NAME` or `serviceName`
 * (plus `OTEL_RESOURCE_ATTRIBUTES`), the sampler of `OTEL_TRACES_SAMPLER` /
 * `OTEL_TRACES_SAMPLER_ARG` (default parent-based always-on), W3C trace-context propagation,
 * an AsyncLocalStorage context manager and a batching OTLP/HTTP exporter (`http/protobuf` by
 * default, `http/json` by `OTEL_EXPORTER_OTLP_PROTOCOL` or `..._TRACES_PROTOCOL`; endpoint,
 * headers and timeout from the exporter's own `OTEL_EXPORTER_OTLP_*` variables; batching from
 * `OTEL_BSP_*`). `OTEL_TRACES_EXPORTER` may be `otlp` (default) or `console`.
 *
 * `env` decides whether tracing starts, the service name, the exporter, protocol and endpoint;
 * the SDK reads its other variables (sampler, exporter headers and timeout, batching,
 * resource attributes) from the process environment, which is what `runMain` passes as `env`.
 *
 * Returns undefined (and loads nothing) when tracing is off. Throws a UsageError naming the
 * variable for a protocol or exporter it does not support (`grpc`, `zipkin`, ...), or when
 * tracing is already started in this process.
 */
export async function startTracing(
  serviceName: string,
  env: NodeJS.ProcessEnv,
  options: TracingOptions = {},
): Promise<Tracing | undefined> {
  if ((env.OTEL_SDK_DISABLED ?? "").trim().toLowerCase() === "true") return undefined;
  if (options.exporter === undefined && !tracingEnabled(env)) return undefined;
  if (active) throw new UsageError("tracing is already started in this process");
  const exporter = options.exporter ?? (await exporterFromEnv(env));
  const [{ NodeTracerProvider }, { BatchSpanProcessor, SimpleSpanProcessor }, resources, semconv] =
    await Promise.all([
      import("@opentelemetry/sdk-trace-node"),
      import("@opentelemetry/sdk-trace-base"),
      import("@opentelemetry/resources"),
      import("@opentelemetry/semantic-conventions"),
    ]);
  // OTEL_SERVICE_NAME wins over a service.name in OTEL_RESOURCE_ATTRIBUTES, which wins over the
  // service's own name (the specification's order).
  const detected = resources.detectResources({ detectors: [resources.envDetector] });
  const detectedName = detected.attributes[semconv.ATTR_SERVICE_NAME];
  const name =
    (env.OTEL_SERVICE_NAME ?? "").trim() ||
    (typeof detectedName === "string" && detectedName !== "" ? detectedName : serviceName);
  const resource = detected.merge(resources.resourceFromAttributes({ [semconv.ATTR_SERVICE_NAME]: name }));
  const processor =
    options.exporter !== undefined ? new SimpleSpanProcessor(exporter) : new BatchSpanProcessor(exporter);
  const provider = new NodeTracerProvider({ resource, spanProcessors: [processor] });
  provider.register();
  active = true;
  let stopping: Promise<void> | undefined;
  return {
    serviceName: name,
    forceFlush: () => provider.forceFlush(),
    shutdown() {
      stopping ??= (async () => {
        try {
          await provider.shutdown();
        } finally {
          active = false;
          trace.disable();
          context.disable();
          propagation.disable();
        }
      })();
      return stopping;
    },
  };
}

async function exporterFromEnv(env: NodeJS.ProcessEnv): Promise<SpanExporter> {
  const kind = (env.OTEL_TRACES_EXPORTER ?? "otlp").trim().toLowerCase() || "otlp";
  if (kind === "console") {
    const { ConsoleSpanExporter } = await import("@opentelemetry/sdk-trace-base");
    return new ConsoleSpanExporter();
  }
  if (kind !== "otlp") {
    throw new UsageError(`OTEL_TRACES_EXPORTER=${kind}: expected otlp, console or none`);
  }
  const variable =
    env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL !== undefined
      ? "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
      : "OTEL_EXPORTER_OTLP_PROTOCOL";
  const protocol = (env[variable] ?? OtlpProtocol.Protobuf).trim() || OtlpProtocol.Protobuf;
  const config = tracesUrl(env);
  if (protocol === OtlpProtocol.Protobuf) {
    const { OTLPTraceExporter } = await import("@opentelemetry/exporter-trace-otlp-proto");
    return new OTLPTraceExporter(config);
  }
  if (protocol === OtlpProtocol.Json) {
    const { OTLPTraceExporter } = await import("@opentelemetry/exporter-trace-otlp-http");
    return new OTLPTraceExporter(config);
  }
  throw new UsageError(`${variable}=${protocol}: expected ${OtlpProtocol.Protobuf} or ${OtlpProtocol.Json}`);
}

/**
 * The traces URL `env` names: `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` as is, else
 * `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/traces` (the specification's rule); none: the exporter's
 * default (`http://localhost:4318/v1/traces`).
 */
function tracesUrl(env: NodeJS.ProcessEnv): { url?: string } {
  const traces = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? "";
  if (traces !== "") return { url: traces };
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT ?? "";
  if (base !== "") return { url: `${base.replace(/\/+$/, "")}/v1/traces` };
  return {};
}

/** The tracer of a Flotilla package (`@flotilla/admin`, ...): the instrumentation scope of its spans. */
export function tracer(scope: string): Tracer {
  return trace.getTracer(scope);
}

/** Options of {@link withSpan}. */
export interface WithSpanOptions {
  readonly kind?: SpanKind;
  readonly attributes?: Attributes;
  /** Parent context (default: the active one). */
  readonly parent?: Context;
  /** Spans this one is caused by but not a child of (e.g. the rounds a batch carries). */
  readonly links?: Link[];
}

/**
 * Runs `fn` inside a new active span `name` of `scope`'s tracer and ends the span when `fn`
 * settles (a thrown error is recorded and sets the status to error). When tracing is off it
 * only calls `fn` (with undefined), so callers pay nothing. Returns what `fn` returns.
 */
export function withSpan<T>(
  scope: string,
  name: string,
  fn: (span: Span | undefined) => Promise<T>,
  options: WithSpanOptions = {},
): Promise<T> {
  if (!active) return fn(undefined);
  const parent = options.parent ?? context.active();
  return trace.getTracer(scope).startActiveSpan(
    name,
    {
      ...(options.kind !== undefined ? { kind: options.kind } : {}),
      ...(options.attributes ? { attributes: options.attributes } : {}),
      ...(options.links ? { links: options.links } : {}),
    },
    parent,
    async (span) => {
      try {
        return await fn(span);
      } catch (err) {
        recordError(span, err);
        throw err;
      } finally {
        span.end();
      }
    },
  );
}

/**
 * Starts a span `name` of `scope`'s tracer without making it active; the caller ends it. For
 * spans that do not wrap one call (a batch's per-trace spans). While tracing is off the span is
 * a non-recording no-op; callers check {@link isTracing} first to skip the work around it.
 */
export function startSpan(scope: string, name: string, options: WithSpanOptions = {}): Span {
  return trace.getTracer(scope).startSpan(
    name,
    {
      ...(options.kind !== undefined ? { kind: options.kind } : {}),
      ...(options.attributes ? { attributes: options.attributes } : {}),
      ...(options.links ? { links: options.links } : {}),
    },
    options.parent ?? context.active(),
  );
}

/** The active span's context (for a link); undefined when tracing is off or none is active. */
export function activeSpanContext(): SpanContext | undefined {
  if (!active) return undefined;
  return trace.getSpan(context.active())?.spanContext();
}

/** Marks `span` as failed by `err` (exception event plus error status). */
export function recordError(span: Span, err: unknown): void {
  if (err instanceof Error) span.recordException(err);
  span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
}

/** A W3C trace-context carrier: `traceparent` and, when set, `tracestate`. */
export type TraceCarrier = Record<string, string>;

/**
 * The active trace context as a W3C carrier (`{traceparent, tracestate?}`), to put on a
 * resource or message that crosses a process boundary; empty when tracing is off or no span is
 * active.
 */
export function currentTraceCarrier(): TraceCarrier {
  const carrier: TraceCarrier = {};
  if (!active || trace.getSpan(context.active()) === undefined) return carrier;
  propagation.inject(context.active(), carrier);
  return carrier;
}

/**
 * The context a W3C carrier (`traceparent`, `tracestate`) continues, for the parent of a span
 * started from a resource or message; the root context when tracing is off or the carrier
 * holds no valid trace context.
 */
export function contextFromCarrier(carrier: Readonly<Record<string, string | undefined>>): Context {
  if (!active) return ROOT_CONTEXT;
  return propagation.extract(ROOT_CONTEXT, carrier, recordGetter);
}

/** The span context a carrier names, for a span link; undefined when it names none. */
export function spanContextFromCarrier(
  carrier: Readonly<Record<string, string | undefined>>,
): SpanContext | undefined {
  return trace.getSpanContext(contextFromCarrier(carrier));
}

/** Whether tracing is on and a span is active (work done for a traced request). */
export function hasActiveSpan(): boolean {
  return active && trace.getSpan(context.active()) !== undefined;
}

/**
 * `trace_id` and `span_id` of the active span, for log lines; empty when tracing is off or no
 * span is active (the logger's mixin).
 */
export function activeTraceFields(): { trace_id?: string; span_id?: string } {
  if (!active) return {};
  const span = trace.getSpan(context.active());
  if (span === undefined) return {};
  const sc = span.spanContext();
  return { trace_id: sc.traceId, span_id: sc.spanId };
}

const recordGetter: TextMapGetter<Readonly<Record<string, string | undefined>>> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => carrier[key],
};

const headersGetter: TextMapGetter<Headers> = {
  keys: (headers) => [...headers.keys()],
  get: (headers, key) => headers.get(key) ?? undefined,
};

const headersSetter: TextMapSetter<Headers> = {
  set: (headers, key, value) => headers.set(key, value),
};

const RUNTIME_SCOPE = "@flotilla/runtime";

/** snake_case name of a Connect code (`not_found`), as the RPC semantic conventions write it. */
function connectCodeName(code: Code): string {
  return (Code[code] ?? "unknown").replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase();
}

function rpcAttributes(service: string, method: string): Attributes {
  return { "rpc.system": "connect_rpc", "rpc.service": service, "rpc.method": method };
}

function endRpcSpan(span: Span, err: unknown): void {
  if (err !== undefined) {
    const code = ConnectError.from(err).code;
    span.setAttribute("rpc.connect_rpc.error_code", connectCodeName(code));
    recordError(span, err);
  }
  span.end();
}

/**
 * A Connect server interceptor that continues the caller's trace (W3C `traceparent` request
 * header) with a SERVER span `<service>/<method>`, active while the handler runs, so spans and
 * log lines of the handler join it. A ConnectError sets the span's error status and
 * `rpc.connect_rpc.error_code`. Passes requests straight through when tracing is off.
 * {@link startServer} installs it first on every server.
 */
export function tracingServerInterceptor(): Interceptor {
  return (next) => async (req) => {
    if (!active) return next(req);
    const parent = propagation.extract(ROOT_CONTEXT, req.header, headersGetter);
    const service = req.service.typeName;
    const span = trace
      .getTracer(RUNTIME_SCOPE)
      .startSpan(
        `${service}/${req.method.name}`,
        { kind: SpanKind.SERVER, attributes: rpcAttributes(service, req.method.name) },
        parent,
      );
    try {
      const res = await context.with(trace.setSpan(parent, span), () => next(req));
      endRpcSpan(span, undefined);
      return res;
    } catch (err) {
      endRpcSpan(span, err);
      throw err;
    }
  };
}

/**
 * A Connect client interceptor that wraps each call in a CLIENT span `<service>/<method>`
 * (child of the active span) and sends its context as the W3C `traceparent` / `tracestate`
 * request headers. Passes requests straight through when tracing is off.
 */
export function tracingClientInterceptor(): Interceptor {
  return (next) => async (req) => {
    if (!active) return next(req);
    const service = req.service.typeName;
    const span = trace
      .getTracer(RUNTIME_SCOPE)
      .startSpan(
        `${service}/${req.method.name}`,
        { kind: SpanKind.CLIENT, attributes: rpcAttributes(service, req.method.name) },
        context.active(),
      );
    const ctx = trace.setSpan(context.active(), span);
    propagation.inject(ctx, req.header, headersSetter);
    try {
      const res = await context.with(ctx, () => next(req));
      endRpcSpan(span, undefined);
      return res;
    } catch (err) {
      endRpcSpan(span, err);
      throw err;
    }
  };
}

export { SpanKind, type Span, type SpanContext };
