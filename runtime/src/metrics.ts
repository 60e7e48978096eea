import { Counter, Gauge, Histogram, collectDefaultMetrics, type Registry } from "prom-client";

/**
 * Declares a service's Prometheus metrics in one registry with one name prefix, so each metric
 * is one line of name, help and labels. Names follow the conventions: `<prefix><what>_<unit>`,
 * `_total` for counters, base units (seconds, bytes); labels must stay bounded (project, domain,
 * cluster, phase, reason — never execution names or ids).
 */
export interface MetricFactory {
  readonly registry: Registry;
  counter<L extends string = never>(name: string, help: string, labelNames?: readonly L[]): Counter<L>;
  histogram<L extends string = never>(
    name: string,
    help: string,
    buckets: readonly number[],
    labelNames?: readonly L[],
  ): Histogram<L>;
  /**
   * A gauge set by the code, or, with `collect`, computed at scrape time (the scrape waits for
   * a returned promise, e.g. a database count).
   */
  gauge<L extends string = never>(
    name: string,
    help: string,
    labelNames?: readonly L[],
    collect?: (gauge: Gauge<L>) => void | Promise<void>,
  ): Gauge<L>;
}

/**
 * prom-client's default metrics that break the naming conventions: gauges ending in `_total`.
 * Their per-type siblings (`nodejs_active_handles{type}`, ...) carry the same numbers.
 */
const UNCONVENTIONAL_DEFAULT_METRICS = [
  "nodejs_active_handles_total",
  "nodejs_active_requests_total",
  "nodejs_active_resources_total",
];

/**
 * Registers prom-client's Node.js process metrics (CPU, memory, event loop, GC) under `prefix`
 * in `registry`, minus the gauges named like counters, so `promtool check metrics` stays clean.
 */
export function collectProcessMetrics(registry: Registry, prefix: string): void {
  collectDefaultMetrics({ register: registry, prefix });
  for (const name of UNCONVENTIONAL_DEFAULT_METRICS) registry.removeSingleMetric(prefix + name);
}

/** Options of {@link createMetricFactory}. */
export interface MetricFactoryOptions {
  /** Prepended to every name, e.g. `flotilla_admin_`. */
  readonly prefix: string;
  /** Also export Node.js process metrics under the prefix (default false). */
  readonly defaultMetrics?: boolean;
}

/** Returns a {@link MetricFactory} registering into `registry`. */
export function createMetricFactory(registry: Registry, options: MetricFactoryOptions): MetricFactory {
  const { prefix } = options;
  if (options.defaultMetrics) collectProcessMetrics(registry, prefix);
  return {
    registry,
    counter: (name, help, labelNames = []) =>
      new Counter({ name: prefix + name, help, labelNames, registers: [registry] }),
    histogram: (name, help, buckets, labelNames = []) =>
      new Histogram({ name: prefix + name, help, labelNames, buckets: [...buckets], registers: [registry] }),
    gauge: <L extends string>(
      name: string,
      help: string,
      labelNames: readonly L[] = [],
      collect?: (gauge: Gauge<L>) => void | Promise<void>,
    ) =>
      new Gauge<L>({
        name: prefix + name,
        help,
        labelNames,
        registers: [registry],
        ...(collect
          ? {
              collect(this: Gauge<L>) {
                return collect(this);
              },
            }
          : {}),
      }),
  };
}

/** Histogram buckets in seconds for fast operations (0.5 ms – 1 s): database writes, decisions. */
export const FAST_SECONDS_BUCKETS: readonly number[] = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1,
];
