/**
 * Decoding of Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`) for
 * the built-in kinds that kubectl's typed `create` generators send: Namespace, ConfigMap,
 * Secret, ServiceAccount, ResourceQuota. The envelope is the `k8s\0` magic followed by a
 * `runtime.Unknown` message whose `raw` field holds the typed object; field numbers follow
 * k8s.io/api's generated.proto.
 */
import { ApiError } from "./errors.js";

type FieldType =
  "string" | "bytes" | "bool" | "int" | "time" | { msg: Schema } | { map: "string" | "bytes" | "quantity" };

interface Field {
  name: string;
  type: FieldType;
  repeated?: boolean;
}

type Schema = Record<number, Field>;

const OWNER_REFERENCE: Schema = {
  1: { name: "kind", type: "string" },
  3: { name: "name", type: "string" },
  4: { name: "uid", type: "string" },
  5: { name: "apiVersion", type: "string" },
  6: { name: "controller", type: "bool" },
  7: { name: "blockOwnerDeletion", type: "bool" },
};

const OBJECT_META: Schema = {
  1: { name: "name", type: "string" },
  2: { name: "generateName", type: "string" },
  3: { name: "namespace", type: "string" },
  5: { name: "uid", type: "string" },
  6: { name: "resourceVersion", type: "string" },
  7: { name: "generation", type: "int" },
  8: { name: "creationTimestamp", type: "time" },
  9: { name: "deletionTimestamp", type: "time" },
  10: { name: "deletionGracePeriodSeconds", type: "int" },
  11: { name: "labels", type: { map: "string" } },
  12: { name: "annotations", type: { map: "string" } },
  13: { name: "ownerReferences", type: { msg: OWNER_REFERENCE }, repeated: true },
  14: { name: "finalizers", type: "string", repeated: true },
};

const OBJECT_REFERENCE: Schema = {
  1: { name: "kind", type: "string" },
  2: { name: "namespace", type: "string" },
  3: { name: "name", type: "string" },
  4: { name: "uid", type: "string" },
  5: { name: "apiVersion", type: "string" },
  6: { name: "resourceVersion", type: "string" },
  7: { name: "fieldPath", type: "string" },
};

const LABEL_SELECTOR_REQUIREMENT: Schema = {
  1: { name: "scopeName", type: "string" },
  2: { name: "operator", type: "string" },
  3: { name: "values", type: "string", repeated: true },
};

const KINDS: Record<string, Schema> = {
  Namespace: {
    1: { name: "metadata", type: { msg: OBJECT_META } },
    2: { name: "spec", type: { msg: { 1: { name: "finalizers", type: "string", repeated: true } } } },
  },
  ConfigMap: {
    1: { name: "metadata", type: { msg: OBJECT_META } },
    2: { name: "data", type: { map: "string" } },
    3: { name: "binaryData", type: { map: "bytes" } },
    4: { name: "immutable", type: "bool" },
  },
  Secret: {
    1: { name: "metadata", type: { msg: OBJECT_META } },
    2: { name: "data", type: { map: "bytes" } },
    3: { name: "type", type: "string" },
    4: { name: "stringData", type: { map: "string" } },
    5: { name: "immutable", type: "bool" },
  },
  ServiceAccount: {
    1: { name: "metadata", type: { msg: OBJECT_META } },
    2: { name: "secrets", type: { msg: OBJECT_REFERENCE }, repeated: true },
    3: { name: "imagePullSecrets", type: { msg: { 1: { name: "name", type: "string" } } }, repeated: true },
    4: { name: "automountServiceAccountToken", type: "bool" },
  },
  ResourceQuota: {
    1: { name: "metadata", type: { msg: OBJECT_META } },
    2: {
      name: "spec",
      type: {
        msg: {
          1: { name: "hard", type: { map: "quantity" } },
          2: { name: "scopes", type: "string", repeated: true },
          3: {
            name: "scopeSelector",
            type: {
              msg: {
                1: { name: "matchExpressions", type: { msg: LABEL_SELECTOR_REQUIREMENT }, repeated: true },
              },
            },
          },
        },
      },
    },
  },
};

class Reader {
  pos = 0;
  constructor(readonly buf: Uint8Array) {}

  done(): boolean {
    return this.pos >= this.buf.length;
  }

  varint(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      if (this.pos >= this.buf.length) throw malformed("truncated varint");
      const b = this.buf[this.pos++];
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result;
      shift += 7;
      if (shift > 63) throw malformed("varint too long");
    }
  }

  bytes(): Uint8Array {
    const len = this.varint();
    if (this.pos + len > this.buf.length) throw malformed("truncated length-delimited field");
    const out = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }

  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.pos += 8;
    else if (wire === 2) this.bytes();
    else if (wire === 5) this.pos += 4;
    else throw malformed(`unsupported wire type ${wire}`);
  }
}

function malformed(why: string): ApiError {
  return new ApiError(400, "BadRequest", `error decoding protobuf request body: ${why}`);
}

const utf8 = new TextDecoder();

function decodeMessage(buf: Uint8Array, schema: Schema): Record<string, unknown> {
  const r = new Reader(buf);
  const out: Record<string, unknown> = {};
  while (!r.done()) {
    const tag = r.varint();
    const num = Math.floor(tag / 8);
    const wire = tag & 7;
    const field = schema[num];
    if (!field) {
      r.skip(wire);
      continue;
    }
    const value = decodeValue(r, wire, field.type);
    if (typeof field.type === "object" && "map" in field.type) {
      const [k, v] = value as [string, unknown];
      const map = (out[field.name] ??= {}) as Record<string, unknown>;
      map[k] = v;
    } else if (field.repeated) {
      ((out[field.name] ??= []) as unknown[]).push(value);
    } else {
      out[field.name] = value;
    }
  }
  return out;
}

function decodeValue(r: Reader, wire: number, type: FieldType): unknown {
  if (type === "bool") return r.varint() !== 0;
  if (type === "int") return r.varint();
  if (wire !== 2) throw malformed(`unexpected wire type ${wire}`);
  const raw = r.bytes();
  if (type === "string") return utf8.decode(raw);
  if (type === "bytes") return Buffer.from(raw).toString("base64");
  if (type === "time") {
    const t = decodeMessage(raw, { 1: { name: "seconds", type: "int" } });
    return new Date(Number(t.seconds ?? 0) * 1000).toISOString().replace(/\.\d+Z$/, "Z");
  }
  if ("msg" in type) return decodeMessage(raw, type.msg);
  const entry = decodeMessage(raw, {
    1: { name: "key", type: "string" },
    2: {
      name: "value",
      type: type.map === "quantity" ? { msg: { 1: { name: "string", type: "string" } } } : type.map,
    },
  });
  const value =
    type.map === "quantity"
      ? ((entry.value as { string?: string } | undefined)?.string ?? "0")
      : (entry.value ?? "");
  return [entry.key ?? "", value];
}

/**
 * Decodes a protobuf-encoded Kubernetes object into its JSON form. Returns the object with
 * `apiVersion` and `kind` set; throws a 400 ApiError for malformed input and 415 for kinds the
 * sandbox cannot decode.
 */
export function decodeKubeProtobuf(body: Uint8Array): Record<string, unknown> {
  if (body.length < 4 || body[0] !== 0x6b || body[1] !== 0x38 || body[2] !== 0x73 || body[3] !== 0x00) {
    throw malformed("missing the k8s protobuf magic prefix");
  }
  const unknown = decodeMessage(body.subarray(4), {
    1: {
      name: "typeMeta",
      type: { msg: { 1: { name: "apiVersion", type: "string" }, 2: { name: "kind", type: "string" } } },
    },
    2: { name: "raw", type: "bytes" },
  });
  const typeMeta = (unknown.typeMeta ?? {}) as { apiVersion?: string; kind?: string };
  const kind = typeMeta.kind ?? "";
  const schema = KINDS[kind];
  if (!schema) {
    throw new ApiError(
      415,
      "UnsupportedMediaType",
      `the sandbox cannot decode protobuf bodies of kind ${JSON.stringify(kind)}; send application/json`,
    );
  }
  const raw = Buffer.from(typeof unknown.raw === "string" ? unknown.raw : "", "base64");
  return { apiVersion: typeMeta.apiVersion, kind, ...decodeMessage(raw, schema) };
}
