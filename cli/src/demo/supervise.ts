/**
 * Runs the demo supervisor until it ends, in whichever process hosts it: the foreground
 * `flotctl demo start`, or the detached process `flotctl demo start --detach` spawns
 * (`supervisor-main.ts`). SIGINT and SIGTERM stop the demo cleanly, also while it starts.
 */
import { DemoInterruptedError, startDemo, type DemoEnd, type DemoOptions } from "./supervisor.js";
import type { DemoState } from "./state.js";

/** Where the supervisor reports. */
export interface SuperviseIo {
  progress(line: string): void;
  ready(state: DemoState): void;
}

/**
 * Starts the demo, reports it ready, and resolves when it ended (stopped by a signal or
 * `demo stop`: ok; a fatal component failure: not ok). Rejects when the start fails (the error
 * of `startDemo`); an interrupted start resolves `{ok: true}`.
 */
export async function superviseDemo(
  options: Omit<DemoOptions, "signal" | "progress">,
  io: SuperviseIo,
): Promise<DemoEnd> {
  const controller = new AbortController();
  let stopRunning: ((reason: string) => Promise<void>) | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    io.progress(`received ${signal}, stopping the demo`);
    if (stopRunning) void stopRunning(`received ${signal}`);
    else controller.abort();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    const running = await startDemo({
      ...options,
      signal: controller.signal,
      progress: (l) => io.progress(l),
    });
    stopRunning = (reason) => running.stop(reason);
    io.ready(running.state);
    return await running.ended;
  } catch (err) {
    if (err instanceof DemoInterruptedError) return { ok: true, reason: err.message };
    throw err;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}
