/**
 * Kubernetes resource quantities ("100m", "1.5", "2Gi", "1e3") and Go-style durations ("1m30s").
 */

/** A quantity or duration string that cannot be parsed. */
export class InvalidQuantityError extends Error {
  override readonly name = "InvalidQuantityError";
  /** @param value the offending text; @param kind what it was meant to be ("quantity", "duration"). */
  constructor(
    readonly value: string,
    readonly kind: "quantity" | "duration",
  ) {
    super(`invalid ${kind} ${JSON.stringify(value)}`);
  }
}

const SUFFIXES: Readonly<Record<string, number>> = {
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

const QUANTITY = /^([+-]?(?:\d+\.?\d*|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?)$/;

/**
 * Parses a Kubernetes quantity into a number of base units (cores, bytes, items).
 * Returns e.g. 0.1 for "100m", 2147483648 for "2Gi", 1000 for "1e3".
 * Throws InvalidQuantityError for anything the API server would reject.
 */
export function parseQuantity(value: string | number): number {
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new InvalidQuantityError(String(value), "quantity");
    return value;
  }
  const match = QUANTITY.exec(value.trim());
  if (!match) throw new InvalidQuantityError(value, "quantity");
  const [, digits, exponent, suffix] = match;
  const base = Number(digits);
  if (exponent !== undefined) return base * 10 ** Number(exponent.slice(1));
  return base * (SUFFIXES[suffix ?? ""] ?? 1);
}

/**
 * Parses a CPU quantity into whole millicores, rounding up like the scheduler does
 * ("100m" → 100, "1.5" → 1500, "0.0001" → 1).
 */
export function parseCpuMillis(value: string | number): number {
  return Math.ceil(parseQuantity(value) * 1000 - 1e-9);
}

/**
 * Parses a resource quantity into the integer unit the scheduler compares: millicores for
 * `cpu`, and whole units (rounded up) for every other resource (bytes, pods, GPUs).
 */
export function parseResource(resource: string, value: string | number): number {
  return resource === "cpu" ? parseCpuMillis(value) : Math.ceil(parseQuantity(value) - 1e-9);
}

const DURATION_UNITS: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/**
 * Parses a Go-style duration ("2s", "500ms", "1m30s", "1.5h") or a bare number of seconds
 * ("3", "0.25") into milliseconds. Throws InvalidQuantityError on anything else.
 */
export function parseDurationMs(value: string): number {
  const text = value.trim();
  if (/^\d+(?:\.\d+)?$/.test(text)) return Number(text) * 1000;
  const part = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/y;
  let total = 0;
  let consumed = 0;
  while (consumed < text.length) {
    part.lastIndex = consumed;
    const match = part.exec(text);
    if (!match) throw new InvalidQuantityError(value, "duration");
    total += Number(match[1]) * (DURATION_UNITS[match[2] ?? "s"] ?? 1000);
    consumed = part.lastIndex;
  }
  if (consumed === 0) throw new InvalidQuantityError(value, "duration");
  return total;
}
