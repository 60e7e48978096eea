import type { ContainerExit } from "./pod-status.js";
import { exitWithCode } from "./pod-status.js";
import type { ContainerHandle, ContainerRuntime, StartRequest } from "./runtime.js";

/** How a simulated container ends by itself. */
export interface SimulatedPlan {
  /** Run time before the container ends. */
  durationMs: number;
  /** The exit it reports at the end of its run. */
  exit: ContainerExit;
  /** Output written when it starts. */
  log?: string;
}

/**
 * Creates the runtime that runs nothing: each container "runs" for the duration of the plan
 * that `planOf(request)` returns (read from pod annotations by the kubelet), writes the plan's
 * log when it starts, then ends with the plan's exit. Stopping it ends it at once with 143
 * (SIGTERM honoured) or 137 when there is no grace period.
 */
export function createSimulatedRuntime(planOf: (request: StartRequest) => SimulatedPlan): ContainerRuntime {
  return {
    name: "sandbox-simulated",
    start(request: StartRequest): Promise<ContainerHandle> {
      const plan = planOf(request);
      const handle = new SimulatedHandle(plan);
      if (plan.log !== undefined && plan.log !== "")
        request.onOutput(plan.log.endsWith("\n") ? plan.log : `${plan.log}\n`);
      return Promise.resolve(handle);
    },
  };
}

class SimulatedHandle implements ContainerHandle {
  readonly startedAt = new Date();
  readonly exited: Promise<ContainerExit>;
  private finish!: (exit: ContainerExit) => void;
  private readonly timer: NodeJS.Timeout;
  private done = false;

  constructor(plan: SimulatedPlan) {
    this.exited = new Promise((resolve) => {
      this.finish = (exit) => {
        if (this.done) return;
        this.done = true;
        clearTimeout(this.timer);
        resolve(exit);
      };
    });
    this.timer = setTimeout(() => this.finish(plan.exit), Math.max(0, plan.durationMs));
  }

  stop(graceMs: number): Promise<ContainerExit> {
    this.finish(graceMs > 0 ? { ...exitWithCode(143), signal: 15 } : { ...exitWithCode(137), signal: 9 });
    return this.exited;
  }

  oomKill(): Promise<ContainerExit> {
    this.finish({ exitCode: 137, reason: "OOMKilled", signal: 9 });
    return this.exited;
  }
}
