/**
 * The one duration syntax of Flotilla: a sequence of `<number><unit>` parts with units `ms`,
 * `s`, `m`, `h` and `d` (`"250ms"`, `"30s"`, `"5m"`, `"1h30m"`, `"1.5h"`, `"1d"`). Config files,
 * environment variables, flags and workflow specs all read durations through this module.
 */

const UNIT_MS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/y;

/** What a duration string must look like, for error messages. */
export const DURATION_SYNTAX = 'a duration such as "500ms", "30s", "5m", "1h30m" or "1d"';

/** A duration string that does not follow {@link DURATION_SYNTAX}. */
export class InvalidDurationError extends Error {
  override readonly name = "InvalidDurationError";
  constructor(readonly value: string) {
    super(`expected ${DURATION_SYNTAX}, got ${quoteShort(value)}`);
  }
}

/**
 * Parses a duration string into milliseconds (rounded to a whole millisecond). With
 * `bareSeconds`, a plain number such as `"90"` or `"0.5"` is read as seconds (the CLI's and the
 * kubelet annotations' convention); otherwise a unit is required. Throws
 * {@link InvalidDurationError}.
 */
export function parseDuration(text: string, options: { bareSeconds?: boolean } = {}): number {
  const ms = tryParseDuration(text, options);
  if (ms === undefined) throw new InvalidDurationError(text);
  return ms;
}

/** Like {@link parseDuration}, but returns undefined instead of throwing. */
export function tryParseDuration(text: string, options: { bareSeconds?: boolean } = {}): number | undefined {
  const s = text.trim();
  if (s === "") return undefined;
  if (options.bareSeconds && /^\d+(?:\.\d+)?$/.test(s)) return Math.round(Number(s) * 1000);
  let total = 0;
  let consumed = 0;
  while (consumed < s.length) {
    PART.lastIndex = consumed;
    const match = PART.exec(s);
    if (!match) return undefined;
    total += Number(match[1]) * UNIT_MS[match[2]];
    consumed = PART.lastIndex;
  }
  return Math.round(total);
}

/**
 * Formats milliseconds in the same syntax, exactly: 30_000 → "30s", 5_400_000 → "1h30m",
 * 1500 → "1s500ms", 0 → "0s". The result parses back to the same value.
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`not a duration: ${ms}`);
  let rest = Math.round(ms);
  if (rest === 0) return "0s";
  let out = "";
  for (const unit of ["d", "h", "m", "s", "ms"] as const) {
    const size = UNIT_MS[unit];
    if (rest < size) continue;
    const whole = Math.floor(rest / size);
    out += `${whole}${unit}`;
    rest -= whole * size;
  }
  return out;
}

function quoteShort(value: string): string {
  return JSON.stringify(value.length > 64 ? `${value.slice(0, 64)}…` : value);
}
