import { Worker } from "node:worker_threads";
import { KubeApiError } from "./api.js";
import { InvalidAnnotationError } from "./annotations.js";
import { logKubeletErrors } from "./errors.js";
import {
  InvalidKubeletOptionsError,
  KubeletTargetNotFoundError,
  runKubelet,
  type Kubelet,
  type KubeletFaults,
  type KubeletOptions,
} from "./kubelet.js";

/** An error as it crosses the thread boundary. */
export interface WireError {
  name: string;
  message: string;
  fields: Record<string, unknown>;
}

/** Messages from the kubelet thread. */
export type FromKubeletThread =
  | { type: "ready" }
  | { type: "start-failed"; error: WireError }
  | { type: "result"; id: number; error?: WireError }
  | { type: "error"; error: WireError }
  | { type: "stopped" };

/** Messages to the kubelet thread. */
export type ToKubeletThread =
  { type: "call"; id: number; method: keyof KubeletFaults; args: unknown[] } | { type: "stop" };

/** Flattens an error for postMessage, keeping its class name and structured fields. */
export function toWireError(err: unknown): WireError {
  if (!(err instanceof Error)) return { name: "Error", message: String(err), fields: {} };
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(err)) {
    if (k !== "name" && k !== "message" && (typeof v === "string" || typeof v === "number")) fields[k] = v;
  }
  return { name: err.name, message: err.message, fields };
}

/** Rebuilds the typed error a WireError stands for (a plain Error when the class is unknown). */
export function fromWireError(wire: WireError): Error {
  const f = wire.fields;
  const s = (k: string) => {
    const v = f[k];
    return typeof v === "string" || typeof v === "number" ? String(v) : "";
  };
  switch (wire.name) {
    case "KubeletTargetNotFoundError":
      return new KubeletTargetNotFoundError(s("kind") === "node" ? "node" : "pod", s("target"));
    case "InvalidKubeletOptionsError":
      return new InvalidKubeletOptionsError(s("option"), s("detail"));
    case "KubeApiError":
      return new KubeApiError(s("operation"), Number(f.status ?? 0), s("detail"));
    case "InvalidAnnotationError":
      return new InvalidAnnotationError(s("annotation"), s("value"), s("expected"));
    default: {
      const err = new Error(wire.message);
      err.name = wire.name;
      return err;
    }
  }
}

/** A kubelet thread that died before answering. */
export class KubeletThreadExitedError extends Error {
  override readonly name = "KubeletThreadExitedError";
  /** @param exitCode the worker's exit code. */
  constructor(readonly exitCode: number) {
    super(`the kubelet thread exited with code ${exitCode}`);
  }
}

/**
 * Starts the simulated kubelet for one cluster (see runKubelet for what it does): on this
 * thread, or with `thread: true` in a worker thread of its own, so that its client-side work
 * never delays an API server in this process. In a thread, faults are forwarded and resolve
 * (or reject with the same typed errors) once the kubelet has acted, and `onError` receives
 * the thread's errors. Resolves once the kubelet is serving; `stop()` resolves once it has
 * stopped and killed its containers.
 */
export async function startKubelet(options: KubeletOptions): Promise<Kubelet> {
  if (!options.thread) return runKubelet(options);
  const { onError, thread: _thread, ...data } = options;
  const report = onError ?? logKubeletErrors(options.clusterName);
  const worker = new Worker(new URL("./kubelet-worker.js", import.meta.url), { workerData: data });
  const pending = new Map<number, { resolve: () => void; reject: (err: Error) => void }>();
  let nextId = 1;
  let exited: number | undefined;
  const stopped = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
  let confirmStopped!: () => void;
  const stopConfirmed = new Promise<void>((resolve) => (confirmStopped = resolve));
  void stopped.then(() => confirmStopped());
  worker.on("exit", (code) => {
    exited = code;
    for (const p of pending.values()) p.reject(new KubeletThreadExitedError(code));
    pending.clear();
  });
  worker.on("message", (msg: FromKubeletThread) => {
    if (msg.type === "result") {
      const p = pending.get(msg.id);
      pending.delete(msg.id);
      if (msg.error) p?.reject(fromWireError(msg.error));
      else p?.resolve();
    } else if (msg.type === "error") {
      report(fromWireError(msg.error));
    } else if (msg.type === "stopped") {
      confirmStopped();
    }
  });
  await new Promise<void>((resolve, reject) => {
    const onMessage = (msg: FromKubeletThread) => {
      if (msg.type === "ready") done(() => resolve());
      if (msg.type === "start-failed") done(() => reject(fromWireError(msg.error)));
    };
    const onError = (err: Error) => done(() => reject(err));
    const onExit = (code: number) => done(() => reject(new KubeletThreadExitedError(code)));
    const done = (settle: () => void) => {
      worker.off("message", onMessage);
      worker.off("error", onError);
      worker.off("exit", onExit);
      settle();
    };
    worker.on("message", onMessage);
    worker.on("error", onError);
    worker.on("exit", onExit);
  }).catch(async (err: unknown) => {
    await worker.terminate();
    throw err;
  });
  worker.on("error", (err) => report(err));

  const call = (method: keyof KubeletFaults, args: unknown[]): Promise<void> => {
    if (exited !== undefined) return Promise.reject(new KubeletThreadExitedError(exited));
    const id = nextId++;
    return new Promise<void>((resolve, reject) => {
      pending.set(id, { resolve, reject });
      worker.postMessage({ type: "call", id, method, args } satisfies ToKubeletThread);
    });
  };
  const faults: KubeletFaults = {
    oomKill: (namespace, name) => call("oomKill", [namespace, name]),
    preempt: (namespace, name, reason) => call("preempt", [namespace, name, reason]),
    loseNode: (node) => call("loseNode", [node]),
    restoreNode: (node) => call("restoreNode", [node]),
    reclaimNode: (node) => call("reclaimNode", [node]),
    failImagePulls: (image) => void call("failImagePulls", [image]).catch(report),
  };
  let stopping: Promise<void> | undefined;
  return {
    faults,
    stop: () =>
      (stopping ??= (async () => {
        if (exited !== undefined) return;
        worker.postMessage({ type: "stop" } satisfies ToKubeletThread);
        await stopConfirmed;
        // The kubelet has stopped and killed its containers; a straggling handle (an idle
        // keep-alive socket) must not keep the thread, or our caller, waiting.
        const grace = setTimeout(() => void worker.terminate(), 1000);
        await stopped;
        clearTimeout(grace);
      })()),
  };
}
