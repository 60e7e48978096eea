/**
 * One Kubernetes API client set per cluster, built from the cluster's kubeconfig (file or
 * inline, with an optional context) or, for unauthenticated endpoints such as sandboxes and
 * `kubectl proxy`, from its API endpoint alone.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { ApiextensionsV1Api, CoreV1Api, CustomObjectsApi, KubeConfig } from "@kubernetes/client-node";
import { ClusterCredentialsError } from "./errors.js";

/** Where a cluster's credentials come from. */
export type ClusterCredentials =
  | { kind: "kubeconfigFile"; path: string; context?: string | undefined }
  | { kind: "kubeconfigInline"; kubeconfig: string; context?: string | undefined }
  | { kind: "endpoint"; server: string };

/** The API clients admin uses on one cluster. */
export interface ClusterConnection {
  readonly cluster: string;
  /** The API server URL the kubeconfig context points at. */
  readonly server: string;
  readonly core: CoreV1Api;
  readonly custom: CustomObjectsApi;
  readonly extensions: ApiextensionsV1Api;
}

/**
 * Builds a {@link KubeConfig} for the credentials. Reads the kubeconfig file when given one.
 * Throws {@link ClusterCredentialsError} when the file is unreadable or the context unknown.
 */
export function loadKubeConfig(cluster: string, credentials: ClusterCredentials): KubeConfig {
  const kc = new KubeConfig();
  try {
    switch (credentials.kind) {
      case "kubeconfigFile":
        kc.loadFromString(readFileSync(credentials.path, "utf8"));
        break;
      case "kubeconfigInline":
        kc.loadFromString(credentials.kubeconfig);
        break;
      case "endpoint":
        kc.loadFromOptions({
          clusters: [
            {
              name: cluster,
              server: credentials.server,
              skipTLSVerify: credentials.server.startsWith("http:"),
            },
          ],
          users: [{ name: "anonymous" }],
          contexts: [{ name: cluster, cluster, user: "anonymous" }],
          currentContext: cluster,
        });
        break;
    }
  } catch (err) {
    throw new ClusterCredentialsError(cluster, `cannot load kubeconfig: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (credentials.kind !== "endpoint" && credentials.context) {
    if (!kc.getContexts().some((c) => c.name === credentials.context)) {
      throw new ClusterCredentialsError(
        cluster,
        `kubeconfig has no context ${JSON.stringify(credentials.context)}`,
      );
    }
    kc.setCurrentContext(credentials.context);
  }
  if (!kc.getCurrentCluster()) {
    throw new ClusterCredentialsError(cluster, "kubeconfig has no current context with a cluster");
  }
  return kc;
}

/** Creates the API clients for a cluster. Throws {@link ClusterCredentialsError} on bad credentials. */
export function connectCluster(cluster: string, credentials: ClusterCredentials): ClusterConnection {
  const kc = loadKubeConfig(cluster, credentials);
  return {
    cluster,
    server: kc.getCurrentCluster()?.server ?? "",
    core: kc.makeApiClient(CoreV1Api),
    custom: kc.makeApiClient(CustomObjectsApi),
    extensions: kc.makeApiClient(ApiextensionsV1Api),
  };
}

/**
 * Interprets a registered cluster's `credentials_ref` / `api_endpoint`: an absolute kubeconfig
 * path or `file://` URL (optionally `#context`), or empty with an `http(s)://` endpoint for an
 * unauthenticated API server. Returns the credentials; throws {@link ClusterCredentialsError}
 * for references admin cannot resolve (e.g. `secret://`).
 */
export function credentialsFromRef(
  cluster: string,
  credentialsRef: string,
  apiEndpoint: string,
): ClusterCredentials {
  const ref = credentialsRef.trim();
  if (ref === "") {
    if (/^https?:\/\//.test(apiEndpoint)) return { kind: "endpoint", server: apiEndpoint };
    throw new ClusterCredentialsError(cluster, "neither credentials_ref nor an http(s) api_endpoint is set");
  }
  const hash = ref.indexOf("#");
  const location = hash >= 0 ? ref.slice(0, hash) : ref;
  const context = hash >= 0 ? decodeURIComponent(ref.slice(hash + 1)) : undefined;
  if (location.startsWith("file://")) {
    return { kind: "kubeconfigFile", path: fileURLToPath(location), context };
  }
  if (location.startsWith("/")) return { kind: "kubeconfigFile", path: location, context };
  throw new ClusterCredentialsError(
    cluster,
    `unsupported credentials_ref ${JSON.stringify(ref)} (expected an absolute kubeconfig path or file:// URL)`,
  );
}

/** Caches one {@link ClusterConnection} per cluster and rebuilds it when the credentials change. */
export class ClusterConnections {
  private readonly entries = new Map<string, { key: string; connection: ClusterConnection }>();

  /**
   * The connection for `cluster` with `credentials`, created on first use or when the
   * credentials differ from the cached ones. Throws {@link ClusterCredentialsError}.
   */
  get(cluster: string, credentials: ClusterCredentials): ClusterConnection {
    const key = JSON.stringify(credentials);
    const hit = this.entries.get(cluster);
    if (hit && hit.key === key) return hit.connection;
    const connection = connectCluster(cluster, credentials);
    this.entries.set(cluster, { key, connection });
    return connection;
  }

  /** Forgets a cluster's cached connection. */
  forget(cluster: string): void {
    this.entries.delete(cluster);
  }
}
