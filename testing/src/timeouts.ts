/**
 * Shared time limits for tests, in milliseconds, so suites agree on what "eventually" and "ready"
 * mean on the 2-core CI machine instead of each guessing its own numbers.
 */
export const Timeouts = {
  /** Default limit of {@link eventually}: how long a condition may take to become true. */
  eventually: 10_000,
  /** Default pause between two attempts of {@link eventually}. */
  interval: 50,
  /** How long a spawned bin may take to print its ready line. */
  spawnReady: 30_000,
  /** How long a stopped process gets between SIGTERM and SIGKILL. */
  stopGrace: 5_000,
  /** Upper bound for one slow operation in a test (starting a cluster, a database). */
  slow: 60_000,
} as const;
