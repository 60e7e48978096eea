/**
 * Writing responses as kube-apiserver does: JSON bodies with `Content-Length`, `Status`
 * objects for errors, stored objects in the requested version, and server-side `Table`
 * output when the client asks for it (`kubectl get`).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { type IncludeObject, toTable } from "../discovery.js";
import type { ApiError } from "../errors.js";
import { type ResourceType, groupVersion } from "../registry.js";
import type { Stored } from "../store.js";

/** The media type of every API response body. */
export const JSON_TYPE = "application/json";

/** Sends `body` serialized as JSON. */
export function sendJson(res: ServerResponse, code: number, body: unknown): void {
  sendRaw(res, code, JSON.stringify(body));
}

/** Sends an already serialized JSON body. */
export function sendRaw(res: ServerResponse, code: number, body: string): void {
  res.writeHead(code, {
    "Content-Type": JSON_TYPE,
    "Content-Length": Buffer.byteLength(body),
    "Cache-Control": "no-cache, private",
  });
  res.end(body);
}

/** Sends plain text (health checks, logs). */
export function sendText(res: ServerResponse, code: number, body: string): void {
  res.writeHead(code, {
    "Content-Type": "text/plain; charset=utf-8",
    "Content-Length": Buffer.byteLength(body),
  });
  res.end(body);
}

/** Sends an error as its kube `Status` body, with its extra headers (e.g. `Retry-After`). */
export function sendError(res: ServerResponse, err: ApiError): void {
  const body = JSON.stringify(err.toStatus());
  res.writeHead(err.code, {
    "Content-Type": JSON_TYPE,
    "Content-Length": Buffer.byteLength(body),
    ...err.headers,
  });
  res.end(body);
}

/** A stored object's JSON in the version of `t` (objects are stored in one version per type). */
export function render(t: ResourceType, s: Stored): string {
  const gv = groupVersion(t);
  return s.obj.apiVersion === gv ? s.json : JSON.stringify({ ...s.obj, apiVersion: gv });
}

/** The JSON of a list of `t` holding already rendered items. */
export function renderList(
  t: ResourceType,
  metadata: Record<string, unknown>,
  items: readonly Stored[],
): string {
  return `{"kind":${JSON.stringify(t.listKind)},"apiVersion":${JSON.stringify(groupVersion(t))},"metadata":${JSON.stringify(metadata)},"items":[${items.map((s) => render(t, s)).join(",")}]}`;
}

/** Sends one stored object, as a `Table` when the client asked for one. */
export function sendStored(
  req: IncomingMessage,
  res: ServerResponse,
  code: number,
  t: ResourceType,
  s: Stored,
  q: URLSearchParams,
): void {
  if (wantsTable(req)) {
    return sendJson(
      res,
      code,
      toTable(t, [s.obj], includeObject(q), { resourceVersion: s.obj.metadata.resourceVersion }),
    );
  }
  sendRaw(res, code, render(t, s));
}

/** Whether the client asked for server-side `Table` output (`Accept: ...;as=Table`). */
export function wantsTable(req: IncomingMessage): boolean {
  const accept = req.headers.accept ?? "";
  return accept.includes("as=Table");
}

/** How much of each object a `Table` row carries (`includeObject`, default PartialObjectMetadata). */
export function includeObject(q: URLSearchParams): IncludeObject {
  const v = q.get("includeObject");
  return v === "Object" || v === "None" ? v : "PartialObjectMetadata";
}
