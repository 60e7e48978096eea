import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { SpanKind, trace } from "@opentelemetry/api";
import { InMemorySpanExporter } from "@opentelemetry/sdk-trace-base";
import { eventually, startOtlpReceiver } from "@flotilla/testing";
import { captureLogger } from "./logger.js";
import { startServer } from "./server.js";
import { silentLogger } from "@flotilla/common";
import {
  contextFromCarrier,
  currentTraceCarrier,
  isTracing,
  startTracing,
  tracingClientInterceptor,
  tracingEnabled,
  withSpan,
} from "./tracing.js";
import { UsageError } from "./errors.js";
import { ConnectError, Code } from "@connectrpc/connect";
import { AdminService } from "@flotilla/proto";

describe("tracingEnabled", () => {
  const cases: [NodeJS.ProcessEnv, boolean][] = [
    [{}, false],
    [{ OTEL_SERVICE_NAME: "admin" }, false],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318" }, true],
    [{ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://127.0.0.1:4318/v1/traces" }, true],
    [{ OTEL_TRACES_EXPORTER: "otlp" }, true],
    [{ OTEL_TRACES_EXPORTER: "console" }, true],
    [{ OTEL_TRACES_EXPORTER: "none", OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318" }, false],
    [{ OTEL_SDK_DISABLED: "true", OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318" }, false],
    [{ OTEL_SDK_DISABLED: "false", OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318" }, true],
  ];
  for (const [env, on] of cases) {
    it(`${JSON.stringify(env)} → ${on ? "on" : "off"}`, () => assert.equal(tracingEnabled(env), on));
  }
});

describe("tracing off", () => {
  it("registers no provider: spans do not record, helpers pass through, logs carry no ids", async () => {
    assert.equal(await startTracing("svc", {}), undefined);
    assert.equal(
      await startTracing("svc", { OTEL_SDK_DISABLED: "true", OTEL_TRACES_EXPORTER: "otlp" }),
      undefined,
    );
    assert.equal(isTracing(), false);
    assert.equal(trace.getTracer("t").startSpan("s").isRecording(), false);
    const log = captureLogger();
    const seen = await withSpan("t", "s", async (span) => {
      log.info("inside");
      return span;
    });
    assert.equal(seen, undefined, "withSpan starts no span");
    assert.deepEqual(currentTraceCarrier(), {});
    assert.equal(log.lines[0]?.trace_id, undefined);
  });

  it("refuses a protocol or exporter it cannot export with, naming the variable", async () => {
    await assert.rejects(
      startTracing("svc", { OTEL_EXPORTER_OTLP_ENDPOINT: "http://x", OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" }),
      (err: Error) => err instanceof UsageError && /OTEL_EXPORTER_OTLP_PROTOCOL=grpc/.test(err.message),
    );
    await assert.rejects(
      startTracing("svc", { OTEL_TRACES_EXPORTER: "zipkin" }),
      (err: Error) => err instanceof UsageError && /OTEL_TRACES_EXPORTER=zipkin/.test(err.message),
    );
    assert.equal(isTracing(), false);
  });
});

describe("tracing on", () => {
  it("an RPC through the runtime server continues the client's trace; log lines carry the ids", async (t) => {
    const exporter = new InMemorySpanExporter();
    const tracing = await startTracing("echo-svc", {}, { exporter });
    assert.ok(tracing);
    t.after(() => tracing.shutdown());
    assert.equal(tracing.serviceName, "echo-svc");
    const log = captureLogger();
    const server = await startServer({
      host: "127.0.0.1",
      port: 0,
      logger: silentLogger,
      routes: (router) =>
        router.service(AdminService, {
          getVersion() {
            log.info("handling");
            return {};
          },
          getProject() {
            log.info("handling");
            throw new ConnectError("refused", Code.FailedPrecondition);
          },
        }),
    });
    t.after(() => server.close(0));
    const client = createClient(
      AdminService,
      createConnectTransport({
        baseUrl: server.url,
        httpVersion: "1.1",
        interceptors: [tracingClientInterceptor()],
      }),
    );
    await withSpan("@flotilla/test", "caller", async () => {
      await client.getVersion({});
      await assert.rejects(client.getProject({ id: "p" }));
    });
    const spans = exporter.getFinishedSpans();
    const caller = spans.find((s) => s.name === "caller");
    assert.ok(caller);
    const traceId = caller.spanContext().traceId;
    assert.ok(
      spans.every((s) => s.spanContext().traceId === traceId),
      "one trace",
    );
    const rpc = (s: (typeof spans)[number]) =>
      s.attributes["rpc.service"] === "flotilla.admin.v1.AdminService";
    const clients = spans.filter((s) => rpc(s) && s.kind === SpanKind.CLIENT);
    const servers = spans.filter((s) => rpc(s) && s.kind === SpanKind.SERVER);
    assert.deepEqual(
      servers.map((s) => s.name),
      ["flotilla.admin.v1.AdminService/GetVersion", "flotilla.admin.v1.AdminService/GetProject"],
    );
    assert.equal(clients.length, 2);
    assert.equal(servers.length, 2);
    for (const [i, server] of servers.entries()) {
      assert.equal(
        server.parentSpanContext?.spanId,
        clients[i]?.spanContext().spanId,
        "server span is the client's child",
      );
      assert.equal(clients[i]?.parentSpanContext?.spanId, caller.spanContext().spanId);
      assert.equal(server.resource.attributes["service.name"], "echo-svc");
    }
    assert.equal(servers[1]?.status.code, 2, "a failed RPC is an error span");
    assert.equal(servers[1]?.attributes["rpc.connect_rpc.error_code"], "failed_precondition");
    const lines = log.lines.filter((l) => l.msg === "handling");
    assert.equal(lines.length, 2);
    assert.equal(lines[0]?.trace_id, traceId);
    assert.equal(lines[0]?.span_id, servers[0]?.spanContext().spanId);
  });

  it("a W3C carrier taken from one span parents a span started from it (the CR annotation path)", async (t) => {
    const exporter = new InMemorySpanExporter();
    const tracing = await startTracing("svc", { OTEL_SERVICE_NAME: "from-env" }, { exporter });
    assert.ok(tracing);
    t.after(() => tracing.shutdown());
    assert.equal(tracing.serviceName, "from-env", "OTEL_SERVICE_NAME wins");
    const carrier = await withSpan("a", "create", async () => currentTraceCarrier());
    assert.match(carrier.traceparent ?? "", /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    await withSpan("b", "round", async () => undefined, { parent: contextFromCarrier(carrier) });
    const [create, round] = exporter.getFinishedSpans();
    assert.equal(round?.spanContext().traceId, create?.spanContext().traceId);
    assert.equal(round?.parentSpanContext?.spanId, create?.spanContext().spanId);
    assert.equal(round?.resource.attributes["service.name"], "from-env");
  });

  it("exports to an OTLP/HTTP receiver with http/json and shuts down to no tracing", async (t) => {
    const receiver = await startOtlpReceiver();
    t.after(() => receiver.close());
    const tracing = await startTracing("json-svc", {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
    });
    assert.ok(tracing);
    await withSpan("@flotilla/test", "exported", async () => undefined);
    await tracing.shutdown();
    await eventually(() => assert.equal(receiver.spans.length, 1));
    assert.equal(receiver.spans[0]?.name, "exported");
    assert.equal(receiver.spans[0]?.serviceName, "json-svc");
    assert.deepEqual(receiver.contentTypes, ["application/json"]);
    assert.equal(isTracing(), false);
    assert.equal(trace.getTracer("t").startSpan("s").isRecording(), false, "the provider is gone");
  });

  it("exports http/protobuf by default", async (t) => {
    const receiver = await startOtlpReceiver();
    t.after(() => receiver.close());
    const tracing = await startTracing("proto-svc", { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url });
    assert.ok(tracing);
    await withSpan("@flotilla/test", "exported", async () => undefined);
    await tracing.shutdown();
    assert.deepEqual(
      receiver.spans.map((s) => [s.name, s.serviceName, s.scope]),
      [["exported", "proto-svc", "@flotilla/test"]],
    );
    assert.deepEqual(receiver.contentTypes, ["application/x-protobuf"]);
  });
});
