/**
 * The resource verbs over HTTP: counts the request, applies injected latency and errors, then
 * answers get/list/watch/create/update/patch/delete/deletecollection (and the pod `log` and
 * `binding` and namespace `finalize` subresources) through `ClusterApi`.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import type { DeleteOptions } from "../api.js";
import { toTable } from "../discovery.js";
import { ApiError, methodNotAllowed } from "../errors.js";
import { parseJson, readBody, readObject } from "../http/request-body.js";
import { includeObject, renderList, sendJson, sendRaw, sendStored, wantsTable } from "../http/responses.js";
import { typeKey } from "../registry.js";
import { parseFieldSelector, parseLabelSelector } from "../selectors.js";
import type { ResourceRoute } from "./api-path.js";
import { verbOf } from "./api-path.js";
import { servePodBinding } from "./binding-route.js";
import { servePodLog } from "./pod-log-route.js";
import type { RouteContext } from "./route-context.js";

/**
 * Serves one request on a resolved resource route. Throws ApiError for anything kube answers
 * with a Status (the caller sends it).
 */
export async function serveResource(
  ctx: RouteContext,
  req: IncomingMessage,
  res: ServerResponse,
  route: ResourceRoute,
  q: URLSearchParams,
): Promise<void> {
  const method = req.method ?? "GET";
  const isWatch = route.watchPath || q.get("watch") === "true" || q.get("watch") === "1";
  const verb = verbOf(method, route, isWatch);
  ctx.counters.countRequest(
    verb,
    route.subresource ? `${route.t.resource}/${route.subresource}` : route.t.resource,
  );
  if (ctx.faults.latencyMs > 0) await sleep(ctx.faults.latencyMs);
  const injected = ctx.faults.injectedError(verb, route.t.resource);
  if (injected) throw injected;
  await serveVerb(ctx, req, res, route, verb, q);
}

async function serveVerb(
  ctx: RouteContext,
  req: IncomingMessage,
  res: ServerResponse,
  route: ResourceRoute,
  verb: string,
  q: URLSearchParams,
): Promise<void> {
  const { api, requestLimit } = ctx;
  const { t, namespace, name, subresource } = route;
  const dryRun = q.getAll("dryRun").includes("All");
  const writeOptions = { dryRun, strict: q.get("fieldValidation") === "Strict" };
  const method = req.method ?? "GET";
  const isPods = typeKey(t) === "/pods";
  if (isPods && subresource === "log") return servePodLog(ctx, req, res, namespace!, name!, q);
  if (isPods && subresource === "binding") {
    if (method !== "POST") throw methodNotAllowed(method);
    return servePodBinding(api, res, namespace!, name!, await readObject(req, requestLimit));
  }
  if (subresource === "finalize") {
    if (method !== "PUT") throw methodNotAllowed(method);
    const body = await readObject(req, requestLimit);
    return sendStored(req, res, 200, t, api.update(t, undefined, name!, body, writeOptions), q);
  }
  switch (verb) {
    case "get":
      return sendStored(req, res, 200, t, api.get(t, namespace, name!), q);
    case "list": {
      const label = parseLabelSelector(q.get("labelSelector"));
      const field = parseFieldSelector(q.get("fieldSelector"));
      const limit = q.get("limit") ? Number(q.get("limit")) : undefined;
      const result = api.list(t, namespace, label, field, limit, q.get("continue") ?? undefined);
      const meta: Record<string, unknown> = { resourceVersion: result.resourceVersion };
      if (result.continueToken) {
        meta.continue = result.continueToken;
        meta.remainingItemCount = result.remainingItemCount;
      }
      if (wantsTable(req)) {
        return sendJson(
          res,
          200,
          toTable(
            t,
            result.items.map((s) => s.obj),
            includeObject(q),
            meta,
          ),
        );
      }
      return sendRaw(res, 200, renderList(t, meta, result.items));
    }
    case "watch":
      return ctx.watches.serve(req, res, { t, namespace, name, q });
    case "create": {
      if (name !== undefined || (t.namespaced && namespace === undefined)) throw methodNotAllowed(method);
      const stored = api.create(t, namespace, await readObject(req, requestLimit), writeOptions);
      if (isPods && !dryRun)
        ctx.counters.countPodCreate(stored.obj.metadata.namespace!, stored.obj.metadata.name!);
      return sendStored(req, res, 201, t, stored, q);
    }
    case "update": {
      const body = await readObject(req, requestLimit);
      return sendStored(
        req,
        res,
        200,
        t,
        api.update(t, namespace, name!, body, { ...writeOptions, subresource }),
        q,
      );
    }
    case "patch": {
      const body = await readBody(req, requestLimit);
      const contentType = req.headers["content-type"] ?? "";
      const stored = api.patch(t, namespace, name!, contentType, body, { ...writeOptions, subresource });
      return sendStored(req, res, 200, t, stored, q);
    }
    case "delete": {
      const options = await deleteOptions(req, q, requestLimit);
      const result = api.delete(t, namespace, name!, { ...options, dryRun });
      if (result.deleted && !isPods && typeKey(t) !== "/namespaces" && !t.crdName) {
        return sendJson(res, 200, {
          kind: "Status",
          apiVersion: "v1",
          metadata: {},
          status: "Success",
          details: {
            name: result.stored.obj.metadata.name,
            group: t.group || undefined,
            kind: t.resource,
            uid: result.stored.obj.metadata.uid,
          },
        });
      }
      return sendStored(req, res, result.deleted ? 200 : 202, t, result.stored, q);
    }
    case "deletecollection": {
      const options = await deleteOptions(req, q, requestLimit);
      const label = parseLabelSelector(q.get("labelSelector"));
      const field = parseFieldSelector(q.get("fieldSelector"));
      const items = dryRun ? [] : api.deleteCollection(t, namespace, label, field, options);
      return sendRaw(res, 200, renderList(t, { resourceVersion: String(api.store.currentRv()) }, items));
    }
    default:
      throw methodNotAllowed(method);
  }
}

/** Reads kube `DeleteOptions` from the query and the body (the query wins). Throws 422 for an unknown policy. */
async function deleteOptions(
  req: IncomingMessage,
  q: URLSearchParams,
  limit: number,
): Promise<DeleteOptions> {
  const text = await readBody(req, limit);
  const body = text.trim() ? (parseJson(text) as Record<string, unknown>) : {};
  const options: DeleteOptions = {};
  const policy = q.get("propagationPolicy") ?? (body.propagationPolicy as string | undefined);
  if (policy !== undefined && policy !== null) {
    if (policy !== "Background" && policy !== "Foreground" && policy !== "Orphan") {
      throw new ApiError(
        422,
        "Invalid",
        `DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: "${policy}": supported values: "Foreground", "Background", "Orphan", "nil"`,
      );
    }
    options.propagationPolicy = policy;
  } else if (body.orphanDependents === true || q.get("orphanDependents") === "true") {
    options.propagationPolicy = "Orphan";
  }
  const grace = q.get("gracePeriodSeconds") ?? body.gracePeriodSeconds;
  if (grace !== undefined && grace !== null) options.gracePeriodSeconds = Number(grace);
  if (body.preconditions && typeof body.preconditions === "object")
    options.preconditions = body.preconditions;
  return options;
}
