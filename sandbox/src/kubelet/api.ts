import { Agent } from "node:http";
import {
  ApiException,
  CoordinationV1Api,
  CoreV1Api,
  KubeConfig,
  PatchStrategy,
  setHeaderMiddleware,
  V1MicroTime,
  type ConfigurationOptions,
  type ObservableMiddleware,
  type V1Lease,
  type V1Node,
  type V1Pod,
  type V1PodCondition,
  type V1PodStatus,
  type V1Taint,
} from "@kubernetes/client-node";

/** A request the API server answered with an unexpected status. */
export class KubeApiError extends Error {
  override readonly name = "KubeApiError";
  /** @param operation what was attempted; @param status HTTP status (0 when unreachable); @param detail server message. */
  constructor(
    readonly operation: string,
    readonly status: number,
    readonly detail: string,
  ) {
    super(`${operation} failed${status ? ` (HTTP ${status})` : ""}: ${detail}`);
  }
}

/** HTTP status of a client-node error, 0 when there was no response. */
export function statusOf(err: unknown): number {
  if (err instanceof ApiException) return err.code;
  if (err instanceof KubeApiError) return err.status;
  return 0;
}

function wrap(operation: string, err: unknown): KubeApiError {
  if (err instanceof KubeApiError) return err;
  if (err instanceof ApiException) {
    const body: unknown = err.body;
    let detail = typeof body === "string" ? body : JSON.stringify(body);
    try {
      const parsed = (typeof body === "string" ? JSON.parse(body) : body) as { message?: string };
      if (parsed?.message) detail = parsed.message;
    } catch {
      // Not JSON: keep the raw text.
    }
    return new KubeApiError(operation, err.code, detail);
  }
  return new KubeApiError(operation, 0, err instanceof Error ? err.message : String(err));
}

/** A KubeConfig for an unauthenticated sandbox API server at `server` (http or https). */
export function kubeConfigFor(server: string, clusterName: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: clusterName, server, skipTLSVerify: true }],
    users: [{ name: "sandbox-kubelet" }],
    contexts: [{ name: clusterName, cluster: clusterName, user: "sandbox-kubelet" }],
    currentContext: clusterName,
  });
  return kc;
}

/**
 * The kubelet's view of the API: exactly the calls a real kubelet and scheduler make (node
 * registration and status, leases, pod binding, pod status, final pod deletion), plus the
 * sandbox's log-append extension. Every Kubernetes call goes through @kubernetes/client-node
 * on one shared keep-alive agent; the log extension, which client-node has no call for, uses
 * fetch with the same KubeConfig's request options. Failures are thrown as KubeApiError.
 */
export class KubeletApi {
  readonly kubeConfig: KubeConfig;
  readonly core: CoreV1Api;
  private readonly coordination: CoordinationV1Api;
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 64 });
  private readonly options: ConfigurationOptions<ObservableMiddleware>;
  private readonly mergePatch: ConfigurationOptions<ObservableMiddleware>;
  private readonly server: string;

  /** @param server API server URL; @param clusterName name used for the kubeconfig context. */
  constructor(server: string, clusterName: string) {
    this.server = server.replace(/\/$/, "");
    this.kubeConfig = kubeConfigFor(this.server, clusterName);
    this.core = this.kubeConfig.makeApiClient(CoreV1Api);
    this.coordination = this.kubeConfig.makeApiClient(CoordinationV1Api);
    this.options = { middleware: [this.middleware()], middlewareMergeStrategy: "append" };
    this.mergePatch = {
      middleware: [this.middleware(), setHeaderMiddleware("Content-Type", PatchStrategy.MergePatch)],
      middlewareMergeStrategy: "append",
    };
  }

  private middleware(): ObservableMiddleware {
    const header = setHeaderMiddleware("User-Agent", "flotilla-sandbox-kubelet/0.1");
    return {
      pre: (context) => {
        context.setAgent(this.agent);
        return header.pre(context);
      },
      post: (response) => header.post(response),
    };
  }

  /** Closes pooled connections. */
  close(): void {
    this.agent.destroy();
  }

  /** Creates the node, or if it exists replaces its labels/taints and status. Returns it. */
  async registerNode(node: V1Node): Promise<V1Node> {
    const name = node.metadata?.name ?? "";
    try {
      await this.core.createNode({ body: node }, this.options);
    } catch (err) {
      if (statusOf(err) !== 409) throw wrap(`register node ${name}`, err);
      const existing = await this.core.readNode({ name }, this.options).catch((e: unknown) => {
        throw wrap(`read node ${name}`, e);
      });
      await this.core
        .replaceNode(
          {
            name,
            body: {
              ...node,
              metadata: { ...node.metadata, resourceVersion: existing.metadata?.resourceVersion },
            },
          },
          this.options,
        )
        .catch((e: unknown) => {
          throw wrap(`update node ${name}`, e);
        });
    }
    return this.patchNodeStatus(name, node.status ?? {});
  }

  /** Merge-patches a node's status subresource. */
  async patchNodeStatus(name: string, status: NonNullable<V1Node["status"]>): Promise<V1Node> {
    try {
      return await this.core.patchNodeStatus({ name, body: { status } }, this.mergePatch);
    } catch (err) {
      throw wrap(`update status of node ${name}`, err);
    }
  }

  /** Replaces a node's taints (merge patch of spec.taints). */
  async setNodeTaints(name: string, taints: V1Taint[]): Promise<void> {
    try {
      await this.core.patchNode({ name, body: { spec: { taints } } }, this.mergePatch);
    } catch (err) {
      throw wrap(`update taints of node ${name}`, err);
    }
  }

  /** Ensures a namespace exists. */
  async ensureNamespace(name: string): Promise<void> {
    try {
      await this.core.createNamespace({ body: { metadata: { name } } }, this.options);
    } catch (err) {
      if (statusOf(err) !== 409) throw wrap(`create namespace ${name}`, err);
    }
  }

  /**
   * Creates or renews the node's Lease in kube-node-lease (holder = node, 40 s duration).
   * `current` is the last lease written (for its resourceVersion); returns the new one.
   */
  async renewLease(nodeName: string, current: V1Lease | undefined, now: Date): Promise<V1Lease> {
    const namespace = "kube-node-lease";
    const body: V1Lease = {
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      metadata: {
        name: nodeName,
        namespace,
        ...(current?.metadata?.resourceVersion ? { resourceVersion: current.metadata.resourceVersion } : {}),
      },
      spec: { holderIdentity: nodeName, leaseDurationSeconds: 40, renewTime: new V1MicroTime(now.getTime()) },
    };
    try {
      if (current)
        return await this.coordination.replaceNamespacedLease(
          { name: nodeName, namespace, body },
          this.options,
        );
      return await this.coordination.createNamespacedLease({ namespace, body }, this.options);
    } catch (err) {
      const status = statusOf(err);
      if (status === 409 || status === 404) {
        // Stale resourceVersion, or created/deleted meanwhile: start over from the server's copy.
        const existing = await this.coordination
          .readNamespacedLease({ name: nodeName, namespace }, this.options)
          .catch(() => undefined);
        const retry = {
          ...body,
          metadata: { ...body.metadata, resourceVersion: existing?.metadata?.resourceVersion },
        };
        try {
          if (existing)
            return await this.coordination.replaceNamespacedLease(
              { name: nodeName, namespace, body: retry },
              this.options,
            );
          return await this.coordination.createNamespacedLease(
            { namespace, body: { ...body, metadata: { name: nodeName, namespace } } },
            this.options,
          );
        } catch (again) {
          throw wrap(`renew lease of node ${nodeName}`, again);
        }
      }
      throw wrap(`renew lease of node ${nodeName}`, err);
    }
  }

  /** Lists all nodes (for the node informer). */
  listNodes(): Promise<{ items: V1Node[]; metadata?: { resourceVersion?: string } }> {
    return this.core.listNode({}, this.options);
  }

  /** Lists all pods (for the informer). */
  listPods(): Promise<{ items: V1Pod[]; metadata?: { resourceVersion?: string } }> {
    return this.core.listPodForAllNamespaces({}, this.options);
  }

  /** Binds a pod to a node through the pods/binding subresource, as kube-scheduler does. */
  async bindPod(namespace: string, name: string, uid: string | undefined, nodeName: string): Promise<void> {
    try {
      await this.core.createNamespacedPodBinding(
        {
          name,
          namespace,
          body: {
            apiVersion: "v1",
            kind: "Binding",
            metadata: { name, namespace, ...(uid ? { uid } : {}) },
            target: { apiVersion: "v1", kind: "Node", name: nodeName },
          },
        },
        this.options,
      );
    } catch (err) {
      throw wrap(`bind pod ${namespace}/${name} to ${nodeName}`, err);
    }
  }

  /** Merge-patches annotations onto a pod's metadata. */
  async annotatePod(namespace: string, name: string, annotations: Record<string, string>): Promise<V1Pod> {
    try {
      return await this.core.patchNamespacedPod(
        { name, namespace, body: { metadata: { annotations } } },
        this.mergePatch,
      );
    } catch (err) {
      throw wrap(`annotate pod ${namespace}/${name}`, err);
    }
  }

  /** Merge-patches a pod's status subresource with `status`. */
  async patchPodStatus(namespace: string, name: string, status: V1PodStatus): Promise<V1Pod> {
    try {
      return await this.core.patchNamespacedPodStatus({ name, namespace, body: { status } }, this.mergePatch);
    } catch (err) {
      throw wrap(`update status of pod ${namespace}/${name}`, err);
    }
  }

  /** Sets the pod's conditions only (used for PodScheduled=False and DisruptionTarget). */
  async patchPodConditions(namespace: string, name: string, conditions: V1PodCondition[]): Promise<V1Pod> {
    return this.patchPodStatus(namespace, name, { conditions });
  }

  /**
   * Deletes a pod. With `gracePeriodSeconds: 0` and the pod's uid as precondition this is the
   * kubelet's final confirmation that its containers are gone; tolerates 404 and uid conflicts
   * (a newer pod of the same name is not ours to delete).
   */
  async deletePod(
    namespace: string,
    name: string,
    options: { gracePeriodSeconds?: number; uid?: string } = {},
  ): Promise<void> {
    try {
      await this.core.deleteNamespacedPod(
        {
          name,
          namespace,
          ...(options.gracePeriodSeconds !== undefined
            ? { gracePeriodSeconds: options.gracePeriodSeconds }
            : {}),
          ...(options.uid
            ? {
                body: {
                  preconditions: { uid: options.uid },
                  ...(options.gracePeriodSeconds !== undefined
                    ? { gracePeriodSeconds: options.gracePeriodSeconds }
                    : {}),
                },
              }
            : {}),
        },
        this.options,
      );
    } catch (err) {
      const status = statusOf(err);
      if (status === 404 || status === 409) return;
      throw wrap(`delete pod ${namespace}/${name}`, err);
    }
  }

  /**
   * Appends `text` to the pod's log through the sandbox extension `PUT .../pods/{name}/log`
   * (client-node has no call for it, so this uses the KubeConfig's request options directly).
   */
  async appendLog(namespace: string, name: string, container: string, text: string): Promise<void> {
    const url = `${this.server}/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(name)}/log?container=${encodeURIComponent(container)}`;
    const init = await this.kubeConfig.applyToFetchOptions({});
    const headers: Record<string, string> = {};
    (
      init.headers as unknown as { forEach(cb: (value: string, key: string) => void): void } | undefined
    )?.forEach((value, key) => {
      headers[key] = value;
    });
    headers["content-type"] = "text/plain; charset=utf-8";
    let response: Response;
    try {
      response = await fetch(url, { method: "PUT", headers, body: text });
    } catch (err) {
      throw new KubeApiError(
        `append log of pod ${namespace}/${name}`,
        0,
        err instanceof Error ? err.message : String(err),
      );
    }
    if (!response.ok) {
      const detail = await response.text().catch(() => "");
      if (response.status === 404) return; // The pod is gone; its log went with it.
      throw new KubeApiError(`append log of pod ${namespace}/${name}`, response.status, detail);
    }
    await response.arrayBuffer();
  }
}
