/**
 * Kubernetes resource quantities (`500m`, `2`, `1.5Gi`, `128M`, `1e3`) parsed into exact-enough
 * numbers for quota arithmetic, and formatted back in kube's canonical style.
 */

/** A quantity string that does not follow Kubernetes quantity syntax. */
export class QuantityParseError extends Error {
  readonly value: string;
  constructor(value: string) {
    super(
      `quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$': "${value}"`,
    );
    this.name = "QuantityParseError";
    this.value = value;
  }
}

const BINARY: Record<string, number> = {
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};
const DECIMAL: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  "": 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
};

const PATTERN = /^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?[0-9]+)?$/;

/**
 * Parses a quantity into its value in base units (cores, bytes, counts).
 * Returns a number; throws QuantityParseError for malformed input.
 */
export function parseQuantity(value: string | number): number {
  if (typeof value === "number") return value;
  const match = PATTERN.exec(value.trim());
  if (!match) throw new QuantityParseError(value);
  const base = Number(match[1]);
  const suffix = match[2] ?? "";
  if (suffix in BINARY) return base * BINARY[suffix];
  if (suffix in DECIMAL) return base * DECIMAL[suffix];
  return base * 10 ** Number(suffix.slice(1));
}

/**
 * Parses a quantity into integer milli-units (`500m` → 500, `2` → 2000), the unit quota math
 * uses for every resource so that CPU fractions add up exactly.
 */
export function parseMilli(value: string | number): number {
  return Math.round(parseQuantity(value) * 1000);
}

/**
 * Formats milli-units back into a canonical quantity string: whole values without suffix (or
 * with the largest exact binary suffix for byte-sized values), fractions as `Nm`.
 */
export function formatMilli(milli: number, preferBinary = false): string {
  if (milli % 1000 !== 0) return `${milli}m`;
  const whole = milli / 1000;
  if (preferBinary && whole !== 0) {
    for (const suffix of ["Ei", "Pi", "Ti", "Gi", "Mi", "Ki"]) {
      const unit = BINARY[suffix];
      if (whole % unit === 0) return `${whole / unit}${suffix}`;
    }
  }
  return String(whole);
}
