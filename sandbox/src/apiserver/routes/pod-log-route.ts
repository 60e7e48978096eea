/**
 * `.../pods/<name>/log`: reading a container's log (`container`, `tailLines`, `limitBytes`,
 * `follow=true` streaming until the pod ends) and the sandbox's extension for writing it
 * (`PUT`/`POST` appends the body), since there is no kubelet port to proxy to.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { badRequest, methodNotAllowed } from "../errors.js";
import { readBody } from "../http/request-body.js";
import { sendJson, sendText } from "../http/responses.js";
import type { RouteContext } from "./route-context.js";

/** Serves a read or an append of pod `ns/name`'s log. Throws 400 for an unknown container. */
export async function servePodLog(
  ctx: RouteContext,
  req: IncomingMessage,
  res: ServerResponse,
  ns: string,
  name: string,
  q: URLSearchParams,
): Promise<void> {
  const podType = ctx.api.types.get("", "v1", "pods")!;
  const pod = ctx.api.get(podType, ns, name).obj;
  const spec = (pod.spec ?? {}) as Record<string, unknown>;
  const namesOf = (list: unknown): string[] =>
    (Array.isArray(list) ? list : []).map((c) => String((c as Record<string, unknown>).name));
  const mainNames = namesOf(spec.containers);
  let container = q.get("container") ?? undefined;
  if (!container) {
    if (mainNames.length !== 1) {
      throw badRequest(
        `a container name must be specified for pod ${name}, choose one of: [${mainNames.join(" ")}]`,
      );
    }
    container = mainNames[0]!;
  }
  if (![...namesOf(spec.initContainers), ...mainNames].includes(container)) {
    throw badRequest(`container ${container} is not valid for pod ${name}`);
  }
  const uid = pod.metadata.uid!;
  const method = req.method ?? "GET";
  if (method === "PUT" || method === "POST") {
    ctx.logs.append(uid, container, await readBody(req, ctx.requestLimit));
    return sendJson(res, 200, {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Success",
      code: 200,
    });
  }
  if (method !== "GET") throw methodNotAllowed(method);
  let text = ctx.logs.read(uid, container);
  const tail = q.get("tailLines");
  if (tail !== null) {
    const n = Number(tail);
    const lines = text.split("\n");
    const trailing = text.endsWith("\n") ? lines.pop() : undefined;
    text = lines.slice(Math.max(0, lines.length - n)).join("\n") + (trailing !== undefined ? "\n" : "");
    if (n === 0) text = "";
  }
  const limitBytes = q.get("limitBytes");
  if (limitBytes !== null) text = Buffer.from(text).subarray(0, Number(limitBytes)).toString("utf8");
  const phase = ((pod.status ?? {}) as Record<string, unknown>).phase;
  if (q.get("follow") !== "true" || phase === "Succeeded" || phase === "Failed") {
    return sendText(res, 200, text);
  }
  res.writeHead(200, {
    "Content-Type": "text/plain",
    "Cache-Control": "no-cache, private",
    "Transfer-Encoding": "chunked",
  });
  res.write(text);
  const unsubscribe = ctx.logs.follow(uid, container, (chunk) => {
    if (chunk === null) {
      unsubscribe();
      res.end();
    } else {
      res.write(chunk);
    }
  });
  req.on("close", unsubscribe);
}
