/**
 * The cost model, pure: what one task attempt costs and how much of that is waste, in exact
 * integer micro-dollars.
 *
 *   cost  = Σ over cpu, memory, gpu of requested × wall time × price per unit-hour
 *   waste = cost                                  when the attempt produced nothing
 *                                                 (failed, retryable-failed i.e. retried, aborted)
 *         = Σ max(0, requested − used) × time × price   when it succeeded and usage was reported
 *         = 0                                     when it succeeded without usage
 *
 * Units: CPU in millicores, memory in bytes (priced per GiB = 2^30 bytes), GPUs whole; wall time
 * in milliseconds from the attempt's start (first RUNNING) to its terminal event; prices in
 * integer micro-dollars per unit-hour. The price applied is the cluster's price version in
 * effect when the attempt started, so a later price change never rewrites a cost.
 *
 * Rounding: the exact rational amount of an attempt (all three resources together) is rounded
 * half-up to a whole micro-dollar once; reports and counters only add those integers, and
 * dollars are shown rounded half-up to the cent ({@link formatDollars}).
 */
import { TaskExecution_Phase } from "@flotilla/proto";

/** Resource amounts in the model's integer units. */
export interface ResourceAmounts {
  cpuMillicores: number;
  memoryBytes: number;
  gpus: number;
}

/** One price version of a cluster, in micro-dollars per unit-hour. */
export interface PriceVersion {
  effectiveFrom: Date;
  cpuCoreHourMicros: number;
  memoryGibHourMicros: number;
  gpuHourMicros: number;
}

/** What pricing one attempt needs. */
export interface AttemptCostInput {
  /** Terminal task phase (SUCCEEDED, FAILED, RETRYABLE_FAILED or ABORTED). */
  phase: TaskExecution_Phase;
  /** When it started running; undefined when it never ran (costs nothing). */
  startedAt: Date | undefined;
  /** When it reached its terminal phase. */
  endedAt: Date;
  requested: ResourceAmounts;
  /** Average usage reported by the runtime, when it reports any. */
  used?: ResourceAmounts | undefined;
  /** The cluster's price versions, in any order. */
  prices: readonly PriceVersion[];
}

/** The priced attempt. */
export interface AttemptCost {
  costMicros: number;
  wasteMicros: number;
  /** Wall time priced, in milliseconds. */
  wallMs: number;
  /** The price version applied; undefined when the cluster had none at the start (cost 0). */
  price: PriceVersion | undefined;
}

const MS_PER_HOUR = 3_600_000n;
const MILLI = 1000n;
const GIB = 1n << 30n;
/** Common denominator of the three terms: micro-dollars × (millicores, GiB, hour in ms). */
const DENOMINATOR = MILLI * GIB * MS_PER_HOUR;

/** The price version in effect at `at` (the latest with effectiveFrom <= at), if any. */
export function priceAt(versions: readonly PriceVersion[], at: Date): PriceVersion | undefined {
  let found: PriceVersion | undefined;
  for (const v of versions) {
    if (v.effectiveFrom.getTime() <= at.getTime() && (!found || v.effectiveFrom > found.effectiveFrom))
      found = v;
  }
  return found;
}

/** True for the phases whose attempt produced nothing: its whole cost is waste. */
export function isUnproductive(phase: TaskExecution_Phase): boolean {
  return (
    phase === TaskExecution_Phase.FAILED ||
    phase === TaskExecution_Phase.RETRYABLE_FAILED ||
    phase === TaskExecution_Phase.ABORTED
  );
}

/** The exact numerator (over {@link DENOMINATOR}) of amounts × wall time × price. */
function numerator(r: ResourceAmounts, wallMs: bigint, p: PriceVersion): bigint {
  return (
    BigInt(r.cpuMillicores) * BigInt(p.cpuCoreHourMicros) * wallMs * GIB +
    BigInt(r.memoryBytes) * BigInt(p.memoryGibHourMicros) * wallMs * MILLI +
    BigInt(r.gpus) * BigInt(p.gpuHourMicros) * wallMs * MILLI * GIB
  );
}

/** Rounds a non-negative numerator over DENOMINATOR half-up to whole micro-dollars. */
function roundMicros(n: bigint): number {
  return Number((n * 2n + DENOMINATOR) / (2n * DENOMINATOR));
}

/** Prices one attempt (see the module comment for the rule and rounding). Pure. */
export function attemptCost(input: AttemptCostInput): AttemptCost {
  const start = input.startedAt;
  const wallMs = start ? Math.max(0, input.endedAt.getTime() - start.getTime()) : 0;
  const price = start ? priceAt(input.prices, start) : undefined;
  if (!price || wallMs === 0) return { costMicros: 0, wasteMicros: 0, wallMs, price };
  const ms = BigInt(wallMs);
  const costMicros = roundMicros(numerator(input.requested, ms, price));
  let wasteMicros = 0;
  if (isUnproductive(input.phase)) wasteMicros = costMicros;
  else if (input.used) {
    const idle: ResourceAmounts = {
      cpuMillicores: Math.max(0, input.requested.cpuMillicores - input.used.cpuMillicores),
      memoryBytes: Math.max(0, input.requested.memoryBytes - input.used.memoryBytes),
      gpus: Math.max(0, input.requested.gpus - input.used.gpus),
    };
    wasteMicros = roundMicros(numerator(idle, ms, price));
  }
  return { costMicros, wasteMicros, wallMs, price };
}

/**
 * Converts a reported amount (cores, bytes, GPUs as doubles) to the model's integer units:
 * millicores and bytes rounded to the nearest, GPUs rounded up (a fraction of a GPU is a GPU).
 * Negative or non-finite values count as 0.
 */
export function toResourceAmounts(r: {
  cpuCores: number;
  memoryBytes: number;
  gpus: number;
}): ResourceAmounts {
  const clean = (v: number) => (Number.isFinite(v) && v > 0 ? v : 0);
  return {
    cpuMillicores: Math.round(clean(r.cpuCores) * 1000),
    memoryBytes: Math.round(clean(r.memoryBytes)),
    gpus: Math.ceil(clean(r.gpus)),
  };
}

/** Dollars with cents ("12.35") from non-negative micro-dollars, rounded half-up to the cent. */
export function formatDollars(micros: number | bigint): string {
  const cents = (BigInt(micros) + 5000n) / 10000n;
  const whole = cents / 100n;
  const rest = (cents % 100n).toString().padStart(2, "0");
  return `${whole}.${rest}`;
}
