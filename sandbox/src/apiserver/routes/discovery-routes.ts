/**
 * The paths that describe the server rather than resources: health (`/healthz`, `/livez`,
 * `/readyz` and their sub-checks), `/version`, legacy discovery (`/api`, `/apis`,
 * `/apis/<g>`, `/api/<v>`, `/apis/<g>/<v>`) and OpenAPI v3.
 */
import type { ServerResponse } from "node:http";
import {
  VERSION_INFO,
  coreVersions,
  groupDoc,
  groupList,
  openApiV3Group,
  openApiV3Index,
  resourceList,
} from "../discovery.js";
import { pathNotFound } from "../errors.js";
import { sendJson, sendText } from "../http/responses.js";
import type { TypeRegistry } from "../registry.js";
import type { ApiPath } from "./api-path.js";

const HEALTH = /^\/(healthz|livez|readyz)(\/|$)/;

/**
 * Answers the health, version, root discovery and OpenAPI paths. Returns false when `path`
 * (without trailing slashes) is none of them. `host` is the request's Host header.
 */
export function serveServerPaths(
  types: TypeRegistry,
  res: ServerResponse,
  path: string,
  host: string,
): boolean {
  if (HEALTH.test(path)) {
    sendText(res, 200, "ok");
    return true;
  }
  if (path === "/version") sendJson(res, 200, VERSION_INFO);
  else if (path === "/api") sendJson(res, 200, coreVersions(host));
  else if (path === "/apis") sendJson(res, 200, groupList(types));
  else if (path === "/openapi/v3") sendJson(res, 200, openApiV3Index(types));
  else if (path.startsWith("/openapi/v3/")) {
    const rest = path.slice("/openapi/v3/".length).split("/");
    const doc =
      rest[0] === "api"
        ? openApiV3Group(types, "", rest[1] ?? "")
        : openApiV3Group(types, rest[1] ?? "", rest[2] ?? "");
    if (!doc) throw pathNotFound();
    sendJson(res, 200, doc);
  } else return false;
  return true;
}

/**
 * Answers discovery of one API group (`/apis/<g>`) or group version (`/api/<v>`,
 * `/apis/<g>/<v>`). Returns false when the path goes on to resources. Throws 404 for
 * unknown groups and versions.
 */
export function serveGroupDiscovery(types: TypeRegistry, res: ServerResponse, path: ApiPath): boolean {
  if (path.version === "") {
    const doc = groupDoc(types, path.group);
    if (!doc) throw pathNotFound();
    sendJson(res, 200, doc);
    return true;
  }
  if (path.rest.length > 0) return false;
  const doc = resourceList(types, path.group, path.version);
  if (!doc) throw pathNotFound();
  sendJson(res, 200, doc);
  return true;
}
