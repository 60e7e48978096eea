/**
 * Reading Prometheus text exposition in tests: the sum of the samples of one metric whose labels
 * include the given ones, so a test asserts on what a service exports over /metrics.
 */

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** Labels of one exposition line's `{...}` part (escapes left as written). */
function labelsOf(text: string | undefined): Map<string, string> {
  const labels = new Map<string, string>();
  if (!text) return labels;
  for (const m of text.matchAll(LABEL)) labels.set(m[1] ?? "", m[2] ?? "");
  return labels;
}

/**
 * Sum of the samples named exactly `name` in the exposition `text` whose labels include every
 * pair of `labels`; 0 when there is none. Throws on a sample value that is not a number.
 */
export function metricSum(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) continue;
    const m = SAMPLE.exec(line.trim());
    if (!m || m[1] !== name) continue;
    const have = labelsOf(m[2]);
    if (!Object.entries(labels).every(([k, v]) => have.get(k) === v)) continue;
    const value = Number(m[3]);
    if (Number.isNaN(value) && m[3] !== "NaN")
      throw new Error(`metric ${name}: sample value ${m[3]} is not a number`);
    sum += value;
  }
  return sum;
}

/** Fetches `${baseUrl}/metrics` and returns {@link metricSum} of it. */
export async function scrapeMetric(
  baseUrl: string,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const res = await fetch(`${baseUrl.replace(/\/+$/, "")}/metrics`);
  if (!res.ok) throw new Error(`GET ${baseUrl}/metrics answered ${res.status}`);
  return metricSum(await res.text(), name, labels);
}
