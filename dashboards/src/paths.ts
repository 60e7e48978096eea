/** Where the package's committed artifacts live on disk, and a reader for the built dashboards. */
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The `dashboards/` package folder (this file is `dashboards/dist/paths.js` once built). */
export const PACKAGE_DIR = fileURLToPath(new URL("..", import.meta.url));
/** The committed dashboard JSON (`dashboards/generated`). */
export const GENERATED_DIR = join(PACKAGE_DIR, "generated");
/** The Prometheus alert rule files (`dashboards/alerts/*.yaml`). */
export const ALERTS_DIR = join(PACKAGE_DIR, "alerts");
/** The promtool unit tests of the alert rules (`dashboards/alerts/tests/*.yaml`). */
export const ALERT_TESTS_DIR = join(ALERTS_DIR, "tests");

/** The committed dashboards, parsed, by file name (e.g. `propeller.json`). */
export async function readGeneratedDashboards(): Promise<Map<string, unknown>> {
  const out = new Map<string, unknown>();
  for (const f of (await readdir(GENERATED_DIR)).filter((n) => n.endsWith(".json")).sort())
    out.set(f, JSON.parse(await readFile(join(GENERATED_DIR, f), "utf8")));
  return out;
}
