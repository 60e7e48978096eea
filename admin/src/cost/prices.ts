/**
 * Checks of a cluster price table (dollars per unit-hour) before it is stored. Costs are summed
 * across clusters in one currency, so only USD is accepted; the database keeps each price as
 * whole micro-dollars (half away from zero), hence the upper bound keeps sums exact.
 */

/** A price table as the API and the config give it. */
export interface PriceTableInput {
  currency: string;
  cpuHour: number;
  memoryGibHour: number;
  gpuHour: number;
}

/** The one currency costs are kept in. */
export const COST_CURRENCY = "USD";

/** Largest accepted price per unit-hour, in dollars. */
export const MAX_PRICE_PER_HOUR = 1_000_000;

/**
 * The first problem of a price table, naming its field with `names` (proto or config spelling),
 * or undefined when it is valid.
 */
export function priceTableProblem(
  t: PriceTableInput,
  names: Record<keyof PriceTableInput, string>,
): { field: string; problem: string } | undefined {
  if (t.currency !== "" && t.currency !== COST_CURRENCY)
    return {
      field: names.currency,
      problem: `must be ${COST_CURRENCY} (costs are summed across clusters in dollars), got ${JSON.stringify(t.currency)}`,
    };
  for (const key of ["cpuHour", "memoryGibHour", "gpuHour"] as const) {
    const v = t[key];
    if (typeof v !== "number" || !Number.isFinite(v) || v < 0 || v > MAX_PRICE_PER_HOUR)
      return {
        field: names[key],
        problem: `must be a number from 0 to ${MAX_PRICE_PER_HOUR} (got ${String(v)})`,
      };
  }
  return undefined;
}
