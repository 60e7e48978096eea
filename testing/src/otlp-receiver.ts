import http from "node:http";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import { listen } from "./listen.js";

/** One span as an OTLP receiver got it: ids in lowercase hex, the resource's `service.name`. */
export interface ReceivedSpan {
  readonly traceId: string;
  readonly spanId: string;
  /** Empty for a root span. */
  readonly parentSpanId: string;
  readonly name: string;
  /** OTLP span kind: 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  readonly kind: number;
  readonly serviceName: string;
  /** The instrumentation scope (tracer) name. */
  readonly scope: string;
}

/** A plain OTLP/HTTP trace receiver on 127.0.0.1 (what a collector's `otlp` receiver does, for tests). */
export interface OtlpReceiver {
  /** Base URL to put in `OTEL_EXPORTER_OTLP_ENDPOINT` (the exporter appends `/v1/traces`). */
  readonly url: string;
  /** Every span received so far, in arrival order. */
  readonly spans: ReceivedSpan[];
  /** The content type of every export request received (`application/x-protobuf`, `application/json`). */
  readonly contentTypes: string[];
  /** Stops listening. */
  close(): Promise<void>;
}

/**
 * Starts an OTLP/HTTP trace receiver on 127.0.0.1 port 0: `POST /v1/traces` with an
 * `ExportTraceServiceRequest` in protobuf (`application/x-protobuf`, decoded with
 * `@bufbuild/protobuf`'s wire reader) or JSON (`application/json`); each span is kept in
 * `spans`. Answers 200 with an empty `ExportTraceServiceResponse`, 400 to a body it cannot
 * decode, 404 to other paths.
 */
export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const contentTypes: string[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      if (req.method !== "POST" || (req.url ?? "").split("?")[0] !== "/v1/traces") {
        res.writeHead(404).end();
        return;
      }
      const type = (req.headers["content-type"] ?? "").split(";")[0]?.trim() ?? "";
      const body = Buffer.concat(chunks);
      try {
        const got = type === "application/json" ? decodeJson(body) : decodeProtobuf(body);
        contentTypes.push(type);
        spans.push(...got);
      } catch (err) {
        res.writeHead(400, { "content-type": "text/plain" }).end(String(err));
        return;
      }
      if (type === "application/json") res.writeHead(200, { "content-type": "application/json" }).end("{}");
      else res.writeHead(200, { "content-type": "application/x-protobuf" }).end();
    });
  });
  const listening = await listen(server);
  return { url: listening.url, spans, contentTypes, close: () => listening.close() };
}

interface JsonKeyValue {
  key: string;
  value?: { stringValue?: string };
}

interface JsonRequest {
  resourceSpans?: {
    resource?: { attributes?: JsonKeyValue[] };
    scopeSpans?: {
      scope?: { name?: string };
      spans?: {
        traceId: string;
        spanId: string;
        parentSpanId?: string;
        name: string;
        kind?: number;
      }[];
    }[];
  }[];
}

function decodeJson(body: Buffer): ReceivedSpan[] {
  const request = JSON.parse(body.toString("utf8")) as JsonRequest;
  const out: ReceivedSpan[] = [];
  for (const rs of request.resourceSpans ?? []) {
    const serviceName =
      rs.resource?.attributes?.find((a) => a.key === "service.name")?.value?.stringValue ?? "";
    for (const ss of rs.scopeSpans ?? []) {
      for (const s of ss.spans ?? []) {
        out.push({
          traceId: s.traceId.toLowerCase(),
          spanId: s.spanId.toLowerCase(),
          parentSpanId: (s.parentSpanId ?? "").toLowerCase(),
          name: s.name,
          kind: s.kind ?? 0,
          serviceName,
          scope: ss.scope?.name ?? "",
        });
      }
    }
  }
  return out;
}

// Field numbers of opentelemetry/proto/collector/trace/v1 and trace/v1 (only those read here).
const F = {
  request: { resourceSpans: 1 },
  resourceSpans: { resource: 1, scopeSpans: 2 },
  resource: { attributes: 1 },
  keyValue: { key: 1, value: 2 },
  anyValue: { stringValue: 1 },
  scopeSpans: { scope: 1, spans: 2 },
  scope: { name: 1 },
  span: { traceId: 1, spanId: 2, parentSpanId: 4, name: 5, kind: 6 },
} as const;

/** Calls `onField(fieldNo, reader)` for each field of the message in `bytes`; unknown fields are skipped by the caller. */
function fields(bytes: Uint8Array, onField: (no: number, wire: WireType, r: BinaryReader) => boolean): void {
  const r = new BinaryReader(bytes);
  while (r.pos < r.len) {
    const [no, wire] = r.tag();
    if (!onField(no, wire, r)) r.skip(wire, no);
  }
}

function decodeProtobuf(body: Buffer): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  fields(body, (no, wire, r) => {
    if (no !== F.request.resourceSpans || wire !== WireType.LengthDelimited) return false;
    const scopes: Uint8Array[] = [];
    let serviceName = "";
    fields(r.bytes(), (no2, wire2, r2) => {
      if (wire2 !== WireType.LengthDelimited) return false;
      if (no2 === F.resourceSpans.scopeSpans) scopes.push(r2.bytes());
      else if (no2 === F.resourceSpans.resource) {
        fields(r2.bytes(), (no3, wire3, r3) => {
          if (no3 !== F.resource.attributes || wire3 !== WireType.LengthDelimited) return false;
          let key = "";
          let value = "";
          fields(r3.bytes(), (no4, wire4, r4) => {
            if (wire4 !== WireType.LengthDelimited) return false;
            if (no4 === F.keyValue.key) key = r4.string();
            else if (no4 === F.keyValue.value) {
              fields(r4.bytes(), (no5, wire5, r5) => {
                if (no5 !== F.anyValue.stringValue || wire5 !== WireType.LengthDelimited) return false;
                value = r5.string();
                return true;
              });
            } else return false;
            return true;
          });
          if (key === "service.name") serviceName = value;
          return true;
        });
      } else return false;
      return true;
    });
    for (const scopeBytes of scopes) decodeScopeSpans(scopeBytes, serviceName, out);
    return true;
  });
  return out;
}

function decodeScopeSpans(bytes: Uint8Array, serviceName: string, out: ReceivedSpan[]): void {
  let scope = "";
  const spans: Uint8Array[] = [];
  fields(bytes, (no, wire, r) => {
    if (wire !== WireType.LengthDelimited) return false;
    if (no === F.scopeSpans.spans) spans.push(r.bytes());
    else if (no === F.scopeSpans.scope) {
      fields(r.bytes(), (no2, wire2, r2) => {
        if (no2 !== F.scope.name || wire2 !== WireType.LengthDelimited) return false;
        scope = r2.string();
        return true;
      });
    } else return false;
    return true;
  });
  for (const s of spans) {
    let traceId = "";
    let spanId = "";
    let parentSpanId = "";
    let name = "";
    let kind = 0;
    fields(s, (no, wire, r) => {
      if (no === F.span.kind && wire === WireType.Varint) kind = r.int32();
      else if (wire !== WireType.LengthDelimited) return false;
      else if (no === F.span.traceId) traceId = Buffer.from(r.bytes()).toString("hex");
      else if (no === F.span.spanId) spanId = Buffer.from(r.bytes()).toString("hex");
      else if (no === F.span.parentSpanId) parentSpanId = Buffer.from(r.bytes()).toString("hex");
      else if (no === F.span.name) name = r.string();
      else return false;
      return true;
    });
    out.push({ traceId, spanId, parentSpanId, name, kind, serviceName, scope });
  }
}
