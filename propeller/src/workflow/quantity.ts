/** Parsing of Kubernetes resource quantities into numbers, for cost reporting in task events. */

const SUFFIX: Record<string, number> = {
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
  Ki: 1024,
  Mi: 1024 ** 2,
  Gi: 1024 ** 3,
  Ti: 1024 ** 4,
  Pi: 1024 ** 5,
  Ei: 1024 ** 6,
};

/** The numeric value of a quantity ("500m" → 0.5, "2Gi" → 2147483648); 0 for empty or invalid text. */
export function quantityValue(text: string | undefined): number {
  if (!text) return 0;
  const m = /^([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)([a-zA-Z]*)$/.exec(text.trim());
  if (!m) return 0;
  const factor = SUFFIX[m[2] ?? ""];
  return factor === undefined ? 0 : Number(m[1]) * factor;
}
