/**
 * The pod annotation that carries what a pod's containers used, for cost and waste accounting:
 * `flotilla.io/resource-usage: {"cpu":"250m","memory":"300Mi","gpu":"1"}` — average CPU cores,
 * peak memory and GPUs as Kubernetes quantities. A usage reporter on the node writes it when
 * the pod's containers finish (the sandbox kubelet does; on a real cluster, an agent reading the
 * kubelet's summary API); the propeller forwards it as the task event's `used_resources`.
 */
import { tryParseQuantity } from "../units/quantity.js";

/** Annotation key of a pod's reported resource usage. */
export const RESOURCE_USAGE_ANNOTATION = "flotilla.io/resource-usage";

/** Resource usage of a pod: CPU cores, memory bytes, GPUs. */
export interface PodResourceUsage {
  cpuCores: number;
  memoryBytes: number;
  gpus: number;
}

/** The annotation value for `usage` (CPU in millicores, memory in bytes). */
export function formatResourceUsage(usage: PodResourceUsage): string {
  return JSON.stringify({
    cpu: `${Math.round(usage.cpuCores * 1000)}m`,
    memory: String(Math.round(usage.memoryBytes)),
    gpu: String(usage.gpus),
  });
}

/**
 * Reads the annotation value; undefined when it is absent or malformed (not JSON, a field that
 * is not a quantity, or a negative amount) — usage is then unknown, never guessed.
 */
export function parseResourceUsage(text: string | undefined): PodResourceUsage | undefined {
  if (!text) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) return undefined;
  const o = raw as Record<string, unknown>;
  const q = (v: unknown) =>
    v === undefined ? 0 : typeof v === "string" || typeof v === "number" ? tryParseQuantity(v) : undefined;
  const cpuCores = q(o.cpu);
  const memoryBytes = q(o.memory);
  const gpus = q(o.gpu);
  if (cpuCores === undefined || memoryBytes === undefined || gpus === undefined) return undefined;
  if (cpuCores < 0 || memoryBytes < 0 || gpus < 0) return undefined;
  return { cpuCores, memoryBytes, gpus };
}
