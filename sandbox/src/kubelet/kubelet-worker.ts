/**
 * Entry point of the kubelet worker thread started by `startKubelet`: runs the kubelet with the
 * options in `workerData`, answers fault calls, forwards errors, and exits once stopped.
 */
import { parentPort, workerData } from "node:worker_threads";
import { runKubelet, type Kubelet, type KubeletOptions } from "./kubelet.js";
import { toWireError, type FromKubeletThread, type ToKubeletThread } from "./kubelet-thread.js";

const port = parentPort;
if (!port) throw new Error("kubelet-worker must run in a worker thread");
const post = (msg: FromKubeletThread) => port.postMessage(msg);

let kubelet: Kubelet;
try {
  kubelet = await runKubelet({
    ...(workerData as KubeletOptions),
    onError: (err) => post({ type: "error", error: toWireError(err) }),
  });
} catch (err) {
  post({ type: "start-failed", error: toWireError(err) });
  process.exit(0);
}
post({ type: "ready" });

port.on("message", (msg: ToKubeletThread) => {
  if (msg.type === "stop") {
    void kubelet.stop().finally(() => {
      post({ type: "stopped" });
      port.close();
    });
    return;
  }
  const faults = kubelet.faults;
  const [first = "", second = "", third] = msg.args as [string?, string?, string?];
  const invoke = (): Promise<void> | void => {
    switch (msg.method) {
      case "oomKill":
        return faults.oomKill(first, second);
      case "preempt":
        return faults.preempt(
          first,
          second,
          third === "TerminationByKubelet" ? third : "PreemptionByScheduler",
        );
      case "loseNode":
        return faults.loseNode(first);
      case "restoreNode":
        return faults.restoreNode(first);
      case "reclaimNode":
        return faults.reclaimNode(first);
      case "failImagePulls":
        return faults.failImagePulls(first);
    }
  };
  Promise.resolve()
    .then(invoke)
    .then(
      () => post({ type: "result", id: msg.id }),
      (err: unknown) => post({ type: "result", id: msg.id, error: toWireError(err) }),
    );
});
