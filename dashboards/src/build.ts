/**
 * `node dashboards/dist/build.js` writes the dashboards' JSON and the provisioning files from
 * code (see catalog.ts); with `--check` it writes nothing and exits 1, naming each file, when a
 * committed file differs from what the code builds (or is missing, or is left over).
 */
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { buildFiles } from "./catalog.js";
import { GENERATED_DIR, PACKAGE_DIR } from "./paths.js";

/** Committed files that differ from the build: changed, missing, or not built any more. */
export async function staleFiles(files: Map<string, string>): Promise<string[]> {
  const stale: string[] = [];
  for (const [path, content] of files) {
    const committed = await readFile(join(PACKAGE_DIR, path), "utf8").catch(() => undefined);
    if (committed === undefined) stale.push(`${path} (missing)`);
    else if (committed !== content) stale.push(`${path} (differs)`);
  }
  const generated = await readdir(GENERATED_DIR).catch(() => [] as string[]);
  for (const f of generated)
    if (!files.has(`generated/${f}`)) stale.push(`generated/${f} (no dashboard builds it)`);
  return stale;
}

async function main(): Promise<void> {
  const files = buildFiles();
  if (process.argv.includes("--check")) {
    const stale = await staleFiles(files);
    if (stale.length > 0) {
      process.stderr.write(
        `dashboards: committed files differ from what dashboards/src builds; run npm run dashboards:build\n` +
          stale.map((s) => `  ${s}\n`).join(""),
      );
      process.exit(1);
    }
    process.stdout.write(`dashboards: ${files.size} files match the code\n`);
    return;
  }
  await rm(GENERATED_DIR, { recursive: true, force: true });
  for (const [path, content] of files) {
    const target = join(PACKAGE_DIR, path);
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, content);
  }
  process.stdout.write(`dashboards: wrote ${files.size} files under ${PACKAGE_DIR}\n`);
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
