/**
 * Helpers shared by the API server tests: a raw HTTP client, a polling `eventually`, and
 * builders for common objects. Not part of the package's public entry.
 */
import { setTimeout as sleep } from "node:timers/promises";

/** Parsed JSON of unknown shape; tests index into it freely. */
export type Json = ReturnType<typeof JSON.parse>;

/** Response of `call`: status, headers and parsed JSON (or text) body. */
export interface CallResult {
  status: number;
  headers: Headers;
  body: Json;
  text: string;
}

/** Sends one request to the server and parses the answer. */
export async function call(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  contentType = "application/json",
): Promise<CallResult> {
  const init: RequestInit = { method, headers: {} };
  if (body !== undefined) {
    init.body = typeof body === "string" ? body : JSON.stringify(body);
    (init.headers as Record<string, string>)["content-type"] = contentType;
  }
  const res = await fetch(base + path, init);
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = text;
  }
  return { status: res.status, headers: res.headers, body: parsed, text };
}

/** Options of `eventually`. */
export interface EventuallyOptions {
  timeout?: number;
  interval?: number;
}

/**
 * Retries `fn` until it stops throwing or the timeout passes (then rethrows the last error).
 * Returns what `fn` returned.
 */
export async function eventually<T>(fn: () => T | Promise<T>, options: EventuallyOptions = {}): Promise<T> {
  const deadline = Date.now() + (options.timeout ?? 5000);
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(options.interval ?? 20);
    }
  }
}

/** A minimal pod manifest. */
export function aPod(
  name: string,
  extra: { labels?: Record<string, string>; cpu?: string; memory?: string } = {},
): Json {
  const resources: Record<string, Record<string, string>> = {};
  if (extra.cpu || extra.memory) {
    resources.requests = {};
    if (extra.cpu) resources.requests.cpu = extra.cpu;
    if (extra.memory) resources.requests.memory = extra.memory;
  }
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, ...(extra.labels ? { labels: extra.labels } : {}) },
    spec: { containers: [{ name: "main", image: "busybox:1.36", resources }] },
  };
}

/** A namespaced CRD `widgets.example.com` (v1, status subresource, `spec.size` required). */
export function widgetCrd(scope: "Namespaced" | "Cluster" = "Namespaced"): Json {
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: "widgets.example.com" },
    spec: {
      group: "example.com",
      scope,
      names: { plural: "widgets", singular: "widget", kind: "Widget", shortNames: ["wd"] },
      versions: [
        {
          name: "v1",
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: [{ name: "Size", type: "integer", jsonPath: ".spec.size" }],
          schema: {
            openAPIV3Schema: {
              type: "object",
              properties: {
                spec: {
                  type: "object",
                  required: ["size"],
                  properties: {
                    size: { type: "integer", minimum: 0 },
                    color: { type: "string", enum: ["red", "blue"] },
                    tags: { type: "array", items: { type: "string" } },
                  },
                },
                status: { type: "object", properties: { phase: { type: "string" } } },
              },
            },
          },
        },
      ],
    },
  };
}
