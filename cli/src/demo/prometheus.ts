/**
 * Prometheus beside the demo (`flotctl demo start --prometheus`): its configuration (every
 * component scraped each second, Flotilla's alert rules loaded) and its scrape targets, kept in
 * file-discovery files that the supervisor rewrites whenever a component's endpoint changes (a
 * restarted propeller listens on a new port). Prometheus itself is the Debian package's binary,
 * found on PATH; the demo never downloads it.
 */
import { constants } from "node:fs";
import { access, mkdir, readdir, rename, writeFile } from "node:fs/promises";
import { delimiter, join } from "node:path";
import { ALERTS_DIR, JOBS } from "@flotilla/dashboards";
import { stringify } from "yaml";
import type { DemoLayout } from "./layout.js";
import type { ComponentState } from "./state.js";

/** How often the demo's Prometheus scrapes and evaluates the rules. */
export const DEMO_SCRAPE_INTERVAL = "1s";

/** The `prometheus` executable on `env.PATH`, or undefined when it is not installed. */
export async function findPrometheus(env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  for (const dir of (env.PATH ?? "").split(delimiter).filter(Boolean)) {
    const candidate = join(dir, "prometheus");
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

/** The alert rule files shipped in `dashboards/alerts`. */
export async function alertRuleFiles(): Promise<string[]> {
  return (await readdir(ALERTS_DIR))
    .filter((f) => f.endsWith(".yaml"))
    .sort()
    .map((f) => join(ALERTS_DIR, f));
}

/** The file-discovery file of a scrape job. */
const targetsFile = (layout: DemoLayout, job: string) => join(layout.prometheusTargetsDir, `${job}.json`);

/** Prometheus's configuration document (YAML text): one job per component kind, rules loaded. */
export function prometheusConfigYaml(layout: DemoLayout, ruleFiles: string[]): string {
  return stringify({
    global: { scrape_interval: DEMO_SCRAPE_INTERVAL, evaluation_interval: DEMO_SCRAPE_INTERVAL },
    rule_files: ruleFiles,
    scrape_configs: Object.values(JOBS).map((job) => ({
      job_name: job,
      file_sd_configs: [{ files: [targetsFile(layout, job)], refresh_interval: "5s" }],
    })),
  });
}

/** `host:port` of an endpoint URL. */
const hostOf = (url: string) => new URL(url).host;

/**
 * The targets of each job, in Prometheus's file-discovery shape, from the components' current
 * endpoints: the admin, the resource manager, and each propeller with its `cluster` label.
 */
export function scrapeTargets(
  components: readonly ComponentState[],
): Map<string, Array<{ targets: string[]; labels: Record<string, string> }>> {
  const jobs = new Map(
    Object.values(JOBS).map((j) => [j, [] as Array<{ targets: string[]; labels: Record<string, string> }>]),
  );
  for (const c of components) {
    if (!c.url) continue;
    if (c.name === "admin") jobs.get(JOBS.admin)!.push({ targets: [hostOf(c.url)], labels: {} });
    else if (c.name === "resource-manager")
      jobs.get(JOBS.resourceManager)!.push({ targets: [hostOf(c.url)], labels: {} });
    else if (c.name.startsWith("propeller-"))
      jobs.get(JOBS.propeller)!.push({
        targets: [hostOf(c.url)],
        labels: { cluster: c.name.slice("propeller-".length) },
      });
  }
  return jobs;
}

/**
 * Writes each job's targets file (whole, through a rename, so Prometheus never reads half of
 * one). Side effect: creates the targets folder.
 */
export async function writeScrapeTargets(
  layout: DemoLayout,
  components: readonly ComponentState[],
): Promise<void> {
  await mkdir(layout.prometheusTargetsDir, { recursive: true });
  for (const [job, groups] of scrapeTargets(components)) {
    const path = targetsFile(layout, job);
    await writeFile(`${path}.tmp`, JSON.stringify(groups, null, 2) + "\n");
    await rename(`${path}.tmp`, path);
  }
}
