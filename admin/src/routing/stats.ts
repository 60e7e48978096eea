/**
 * Small statistics used to check that routing spreads executions by weight.
 */

/**
 * Pearson's chi-square statistic of observed counts against expected counts (same length,
 * expected > 0). Returns the statistic; throws a RangeError on mismatched or empty input.
 */
export function chiSquare(observed: readonly number[], expected: readonly number[]): number {
  if (observed.length !== expected.length || observed.length === 0) {
    throw new RangeError(
      `chiSquare needs equally long, non-empty arrays (got ${observed.length} and ${expected.length})`,
    );
  }
  let stat = 0;
  for (let i = 0; i < observed.length; i++) {
    const e = expected[i] ?? 0;
    if (!(e > 0)) throw new RangeError(`expected count at ${i} must be > 0 (got ${e})`);
    const d = (observed[i] ?? 0) - e;
    stat += (d * d) / e;
  }
  return stat;
}
