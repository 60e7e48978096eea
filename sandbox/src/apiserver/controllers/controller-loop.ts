/**
 * Runs the API server's controllers the way kube-controller-manager's run beside
 * kube-apiserver: after the write that gave them work, never inside it. Controllers queue work
 * from store change events and ask for a pass; one pass per event-loop turn runs them in a
 * fixed order:
 *
 *   cleanup  (CRD removal: a deleted CRD's instances go before anything else looks at them)
 *   converge (garbage collector and namespace controller, alternately until neither has work:
 *             each one's deletes give the other work)
 *   status   (quota status, once the counts above have settled)
 */
import type { Logger } from "@flotilla/runtime";
import { ApiError } from "../errors.js";

/** A controller as the loop drives it. */
export interface QueuedController {
  /** Whether work is queued. */
  pending(): boolean;
  /** Processes what is queued now; work queued meanwhile waits for the next round. */
  drain(): void;
}

/** The controllers of each phase, in the order they run. */
export interface ControllerPhases {
  cleanup: QueuedController[];
  converge: QueuedController[];
  status: QueuedController[];
}

/** Rounds of the converge phase per pass before the rest waits for the next pass. */
const CONVERGE_ROUNDS = 100;

/** Schedules and runs controller passes; reports unexpected controller failures to a logger. */
export class ControllerLoop {
  private phases: ControllerPhases = { cleanup: [], converge: [], status: [] };
  private scheduled = false;
  private stopped = false;

  constructor(private readonly logger: Logger) {}

  /** Sets the controllers the passes run. */
  setPhases(phases: ControllerPhases): void {
    this.phases = phases;
  }

  /** Asks for a pass at the end of this event-loop turn (one pass however often it is asked). */
  schedule(): void {
    if (this.scheduled || this.stopped) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (this.stopped) return;
      this.pass();
    });
  }

  /**
   * Runs one controller step. Expected races (the object went away: 404, or changed: 409)
   * end the step quietly, as a requeue would find nothing to do; anything else is logged.
   */
  step(controller: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      if (err instanceof ApiError && (err.code === 404 || err.code === 409)) return;
      this.logger.error("sandbox apiserver controller step failed", { controller, error: err });
    }
  }

  /** Stops scheduling passes; queued work is dropped. */
  stop(): void {
    this.stopped = true;
  }

  private pass(): void {
    for (const c of this.phases.cleanup) c.drain();
    const converging = (): boolean => this.phases.converge.some((c) => c.pending());
    for (let round = 0; round < CONVERGE_ROUNDS && converging(); round++) {
      for (const c of this.phases.converge) c.drain();
    }
    for (const c of this.phases.status) c.drain();
    if (converging()) this.schedule();
  }
}
