/** A running {@link probeTimerLag}. */
export interface TimerLagProbe {
  /** The largest lateness seen so far, in ms. */
  readonly maxLagMs: number;
  /** Stops probing; returns the largest lateness seen, in ms. */
  stop(): number;
}

/**
 * Measures how late this process's timers fire (a `periodMs` interval, the largest overshoot
 * seen), so a deadline assertion on a loaded machine can allow the lateness the machine itself
 * shows instead of a guessed margin. Stop it when the measured window ends.
 */
export function probeTimerLag(periodMs = 20): TimerLagProbe {
  let maxLag = 0;
  let last = Date.now();
  const timer = setInterval(() => {
    const now = Date.now();
    maxLag = Math.max(maxLag, now - last - periodMs);
    last = now;
  }, periodMs);
  return {
    get maxLagMs() {
      return maxLag;
    },
    stop() {
      clearInterval(timer);
      return maxLag;
    },
  };
}
