/**
 * Reading request bodies as kube-apiserver does: a size limit answered with 413 before or
 * while reading, JSON or YAML objects, protobuf for the kinds kubectl's `create` generators
 * send, and 415 for any other media type.
 */
import type { IncomingMessage } from "node:http";
import { parse as parseYaml } from "yaml";
import { ApiError, badRequest, requestTooLarge } from "../errors.js";
import { decodeKubeProtobuf } from "../protobuf.js";

/**
 * Reads a request body as an object: JSON, YAML, or protobuf for the kinds kubectl's `create`
 * generators send; other media types get kube's 415 answer. Throws 400 on malformed bodies
 * and 413 past `limit` bytes.
 */
export async function readObject(req: IncomingMessage, limit: number): Promise<unknown> {
  const type = (req.headers["content-type"] ?? "application/json").split(";")[0].trim();
  if (type === "application/vnd.kubernetes.protobuf") return decodeKubeProtobuf(await readBuffer(req, limit));
  const text = await readBody(req, limit);
  if (type === "application/json" || type === "" || type === "*/*") return parseJson(text);
  if (type === "application/yaml") {
    try {
      return parseYaml(text);
    } catch (err) {
      throw badRequest(`error decoding request body: ${(err as Error).message}`);
    }
  }
  throw new ApiError(
    415,
    "UnsupportedMediaType",
    `the body of the request was in an unknown format - accepted media types include: application/json, application/yaml (got ${type})`,
  );
}

/** Reads a request body as UTF-8 text; throws 413 past `limit` bytes. */
export async function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return (await readBuffer(req, limit)).toString("utf8");
}

/** Parses JSON sent by a client; throws 400 with the parser's message. */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw badRequest(`error decoding request body: ${(err as Error).message}`);
  }
}

async function readBuffer(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers["content-length"] ?? "0");
  if (declared > limit) {
    req.resume();
    throw requestTooLarge(limit);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > limit) {
      req.resume();
      throw requestTooLarge(limit);
    }
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}
