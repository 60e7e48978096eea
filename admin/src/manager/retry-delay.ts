/**
 * The delay before retrying a data-plane operation (a CR create or delete) that failed.
 */
import type { ResolvedRoutingSettings } from "../routing/config.js";

/**
 * Exponential backoff from `retryInitialBackoffMs`, doubling per attempt up to
 * `retryMaxBackoffMs`, with ±20 % jitter so many executions queued by one outage do not retry
 * in lockstep. `attempts` counts from 1. Returns milliseconds; pure apart from `random`.
 */
export function retryDelay(
  attempts: number,
  settings: Pick<ResolvedRoutingSettings, "retryInitialBackoffMs" | "retryMaxBackoffMs">,
  random: () => number = Math.random,
): number {
  const { retryInitialBackoffMs, retryMaxBackoffMs } = settings;
  const base = Math.min(retryMaxBackoffMs, retryInitialBackoffMs * 2 ** Math.min(30, attempts - 1));
  return Math.round(base * (0.8 + random() * 0.4));
}
