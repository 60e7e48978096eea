/**
 * The one reading of Kubernetes resource quantities (`500m`, `2`, `1.5Gi`, `128M`, `1e3`) in
 * Flotilla: the sandbox API server's quota arithmetic, its scheduler's fit checks and the
 * propeller's cost reporting all parse quantities through this module, so that a value one of
 * them accepts the others read the same way.
 */

/** What a quantity string must look like, for error messages. */
export const QUANTITY_SYNTAX = 'a Kubernetes quantity such as "500m", "2", "1.5Gi", "128M" or "1e3"';

/** A quantity string (or number) that does not follow {@link QUANTITY_SYNTAX}. */
export class InvalidQuantityError extends Error {
  override readonly name = "InvalidQuantityError";
  /** @param value the offending text (a number is shown as its decimal text). */
  constructor(readonly value: string) {
    super(`expected ${QUANTITY_SYNTAX}, got ${JSON.stringify(value)}`);
  }
}

const BINARY_SUFFIXES = ["Ei", "Pi", "Ti", "Gi", "Mi", "Ki"] as const;

const SUFFIX_FACTOR: Readonly<Record<string, number>> = {
  "": 1,
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

// A signed decimal, then either one suffix or a decimal exponent ("1E" is exa, "1E3" is 1000).
const QUANTITY =
  /^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(?:(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])|[eE]([+-]?[0-9]+))?$/;

/**
 * Parses a quantity into its value in base units (cores, bytes, counts): `"100m"` → 0.1,
 * `"2Gi"` → 2147483648, `"1e3"` → 1000. A number is taken as already in base units. Throws
 * {@link InvalidQuantityError} for anything the Kubernetes API server would reject, and for
 * values that are not finite.
 */
export function parseQuantity(value: string | number): number {
  const parsed = tryParseQuantity(value);
  if (parsed === undefined) throw new InvalidQuantityError(String(value));
  return parsed;
}

/**
 * Like {@link parseQuantity}, but returns undefined instead of throwing (also for an undefined
 * input), for callers that treat a missing or malformed quantity as absent.
 */
export function tryParseQuantity(value: string | number | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value === "number") return Number.isFinite(value) ? value : undefined;
  const match = QUANTITY.exec(value.trim());
  if (!match) return undefined;
  const [, digits, suffix, exponent] = match;
  const factor = exponent !== undefined ? 10 ** Number(exponent) : SUFFIX_FACTOR[suffix ?? ""];
  const result = Number(digits) * factor;
  return Number.isFinite(result) ? result : undefined;
}

/** How {@link parseMilli} rounds a value that is not a whole number of milli-units. */
export type MilliRounding = "nearest" | "up";

/**
 * Parses a quantity into integer milli-units (`"500m"` → 500, `"2"` → 2000), the unit quota
 * arithmetic uses for every resource so that CPU fractions add up exactly. `rounding` decides
 * what happens below a milli-unit: `"nearest"` (quota accounting) or `"up"` (what the scheduler
 * and Kubernetes' `MilliValue()` do, so `"0.0001"` still needs 1 millicore). Throws
 * {@link InvalidQuantityError}.
 */
export function parseMilli(value: string | number, rounding: MilliRounding = "nearest"): number {
  const milli = parseQuantity(value) * 1000;
  // The tolerance absorbs binary floating-point noise (0.3 * 1000 = 300.00000000000006).
  return rounding === "up" ? Math.ceil(milli - 1e-9) : Math.round(milli);
}

/**
 * Parses a resource quantity into the integer unit a scheduler compares: millicores for `cpu`
 * and whole units for every other resource (bytes, pods, GPUs), both rounded up like
 * Kubernetes' `MilliValue()` and `Value()`. Throws {@link InvalidQuantityError}.
 */
export function parseResourceUnits(resource: string, value: string | number): number {
  return resource === "cpu" ? parseMilli(value, "up") : Math.ceil(parseQuantity(value) - 1e-9);
}

/**
 * Formats milli-units back into a canonical quantity string: whole values without suffix (or,
 * with `preferBinary`, with the largest binary suffix that divides them exactly, for byte-sized
 * values), fractions as `Nm`. The result parses back to the same milli-units.
 */
export function formatMilli(milli: number, preferBinary = false): string {
  if (milli % 1000 !== 0) return `${milli}m`;
  const whole = milli / 1000;
  if (preferBinary && whole !== 0) {
    for (const suffix of BINARY_SUFFIXES) {
      const unit = SUFFIX_FACTOR[suffix];
      if (whole % unit === 0) return `${whole / unit}${suffix}`;
    }
  }
  return String(whole);
}
