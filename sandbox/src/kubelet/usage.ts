/**
 * The resource usage the simulated kubelet reports for a finished pod: a plausible fraction of
 * what its containers requested (30-90 % of CPU, 40-95 % of memory, every requested GPU),
 * derived from the pod's name so a rerun of the same pod reports the same usage. It is written
 * as the `flotilla.io/resource-usage` annotation (see `@flotilla/common`) before the terminal
 * status, so whoever sees the pod finish also sees its usage.
 */
import { createHash } from "node:crypto";
import type { V1Pod } from "@kubernetes/client-node";
import { tryParseQuantity, type PodResourceUsage } from "@flotilla/common";

/** Usage of `pod`'s containers as the sandbox reports it (see the module comment). */
export function simulatedUsage(pod: V1Pod): PodResourceUsage {
  let cpu = 0;
  let memory = 0;
  let gpus = 0;
  for (const c of pod.spec?.containers ?? []) {
    const r = { ...c.resources?.limits, ...c.resources?.requests };
    cpu += tryParseQuantity(r.cpu) ?? 0;
    memory += tryParseQuantity(r.memory) ?? 0;
    gpus += tryParseQuantity(r["nvidia.com/gpu"]) ?? 0;
  }
  const h = createHash("sha256")
    .update(pod.metadata?.name ?? "")
    .digest();
  const fraction = (byte: number, low: number, high: number) => low + ((high - low) * h[byte]) / 255;
  return {
    cpuCores: Math.round(cpu * fraction(0, 0.3, 0.9) * 1000) / 1000,
    memoryBytes: Math.round(memory * fraction(1, 0.4, 0.95)),
    gpus,
  };
}
