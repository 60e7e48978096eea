import type { V1Pod } from "@kubernetes/client-node";
import { parseDuration } from "@flotilla/common";

/** Pod annotations that steer the sandbox kubelet. */
export const Annotations = {
  /** "process" or "simulated": overrides the kubelet's mode for this pod. */
  mode: "sandbox.flotilla.io/mode",
  /** Simulated run time, Go duration ("2s", "1m"). */
  duration: "sandbox.flotilla.io/duration",
  /** Exit code of a simulated `fail` outcome (default 1). */
  exitCode: "sandbox.flotilla.io/exit-code",
  /** succeed | fail | oom | preempt | image-pull-error. */
  outcome: "sandbox.flotilla.io/outcome",
  /** Text a simulated container writes to its log when it starts. */
  log: "sandbox.flotilla.io/log",
  /**
   * On a Node: "lost" makes the kubelet lose the node (as faults.loseNode); removing the
   * annotation (or any other value) brings it back.
   */
  nodeFault: "sandbox.flotilla.io/fault",
} as const;

/** How a pod's containers are run. */
export const RuntimeMode = { process: "process", simulated: "simulated" } as const;
/** "process" or "simulated". */
export type RuntimeMode = (typeof RuntimeMode)[keyof typeof RuntimeMode];

/** What a simulated pod does when its time is up (or, for image-pull-error, before it starts). */
export const Outcome = {
  succeed: "succeed",
  fail: "fail",
  oom: "oom",
  preempt: "preempt",
  imagePullError: "image-pull-error",
} as const;
/** One of the simulated outcomes. */
export type Outcome = (typeof Outcome)[keyof typeof Outcome];

/** An annotation with a value the kubelet cannot act on. */
export class InvalidAnnotationError extends Error {
  override readonly name = "InvalidAnnotationError";
  /** @param annotation the key; @param value its value; @param expected what would be valid. */
  constructor(
    readonly annotation: string,
    readonly value: string,
    readonly expected: string,
  ) {
    super(`annotation ${annotation}=${JSON.stringify(value)} is invalid: expected ${expected}`);
  }
}

/** The resolved behaviour of a simulated pod. */
export interface SimulatedBehaviour {
  durationMs: number;
  outcome: Outcome;
  /** Exit code for `fail` (1 unless annotated); 137 for `oom`; 0 for `succeed`. */
  exitCode: number;
  /** Log text written when the container starts, if annotated. */
  log?: string;
}

/** Default simulated run time when a pod has no duration annotation. */
export const DEFAULT_SIMULATED_DURATION_MS = 200;

/**
 * Reads the simulation annotations of `pod`, defaulting to a short (`defaultDurationMs`)
 * success. Throws InvalidAnnotationError naming the bad annotation.
 */
export function readSimulatedBehaviour(
  pod: V1Pod,
  defaultDurationMs = DEFAULT_SIMULATED_DURATION_MS,
): SimulatedBehaviour {
  const a = pod.metadata?.annotations ?? {};
  const outcomeText = a[Annotations.outcome] ?? Outcome.succeed;
  if (!(Object.values(Outcome) as string[]).includes(outcomeText)) {
    throw new InvalidAnnotationError(Annotations.outcome, outcomeText, Object.values(Outcome).join("|"));
  }
  const outcome = outcomeText as Outcome;
  let durationMs = defaultDurationMs;
  const durationText = a[Annotations.duration];
  if (durationText !== undefined) {
    try {
      durationMs = parseDuration(durationText, { bareSeconds: true });
    } catch {
      throw new InvalidAnnotationError(
        Annotations.duration,
        durationText,
        'a duration such as "2s" or "500ms"',
      );
    }
  }
  let exitCode = outcome === Outcome.oom ? 137 : outcome === Outcome.fail ? 1 : 0;
  const exitText = a[Annotations.exitCode];
  if (exitText !== undefined) {
    const parsed = Number(exitText);
    if (!Number.isInteger(parsed) || parsed < 0 || parsed > 255) {
      throw new InvalidAnnotationError(Annotations.exitCode, exitText, "an integer 0..255");
    }
    exitCode = parsed;
    // An explicit non-zero code on an otherwise successful pod means it fails with that code.
  }
  const resolved: SimulatedBehaviour = {
    durationMs,
    outcome: outcome === Outcome.succeed && exitCode !== 0 ? Outcome.fail : outcome,
    exitCode: outcome === Outcome.oom ? 137 : exitCode,
  };
  const log = a[Annotations.log];
  if (log !== undefined) resolved.log = log;
  return resolved;
}

/**
 * The runtime mode of `pod`: its `sandbox.flotilla.io/mode` annotation if set, else `fallback`.
 * Throws InvalidAnnotationError for an unknown mode.
 */
export function podRuntimeMode(pod: V1Pod, fallback: RuntimeMode): RuntimeMode {
  const mode = pod.metadata?.annotations?.[Annotations.mode];
  if (mode === undefined) return fallback;
  if (mode !== RuntimeMode.process && mode !== RuntimeMode.simulated) {
    throw new InvalidAnnotationError(Annotations.mode, mode, "process|simulated");
  }
  return mode;
}

/**
 * Whether pulling `image` fails by sandbox convention: its repository name (last path segment,
 * without tag or digest) is `invalid` or `does-not-exist`, optionally followed by `-suffix`.
 */
export function isUnpullableImage(image: string | undefined): boolean {
  if (!image) return true;
  const withoutDigest = image.split("@")[0] ?? "";
  const lastSegment = withoutDigest.split("/").pop() ?? "";
  const repo = lastSegment.split(":")[0] ?? "";
  return /^(invalid|does-not-exist)([-_.].*)?$/.test(repo);
}
