/**
 * A prebuilt PGlite data directory for new embedded databases. Creating a PGlite database from
 * nothing runs initdb inside WebAssembly (about 7 s of CPU on the 2-core development machine);
 * loading the tarball of a freshly initialised one takes about 1.6 s. The build
 * (`npm run build`, `prepare`) writes the template once per PGlite version; `openDatabase`
 * starts every new embedded database from it when it is there, and runs initdb when it is not.
 */
import { existsSync } from "node:fs";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { PGlite } from "@electric-sql/pglite";

/** The PGlite version the running code uses (the template is only valid for it). */
async function pgliteVersion(): Promise<string> {
  // The package's entry is dist/index.js; its package.json is one level up.
  const entry = fileURLToPath(import.meta.resolve("@electric-sql/pglite"));
  const manifest = JSON.parse(await readFile(join(dirname(entry), "..", "package.json"), "utf8")) as {
    version: string;
  };
  return manifest.version;
}

/** Path of the template tarball for the installed PGlite version (in this package's dist/). */
export async function embeddedTemplatePath(): Promise<string> {
  return fileURLToPath(new URL(`./pglite-template-${await pgliteVersion()}.tar.gz`, import.meta.url));
}

/**
 * Writes the template if it is missing: initdb in memory, then the data directory as a gzip
 * tarball, written to a temporary file and renamed (concurrent builders never leave half a file).
 * Returns its path and whether it was created now.
 */
export async function ensureEmbeddedTemplate(): Promise<{ path: string; created: boolean }> {
  const path = await embeddedTemplatePath();
  if (existsSync(path)) return { path, created: false };
  const pglite = await PGlite.create();
  try {
    const tarball = Buffer.from(await (await pglite.dumpDataDir("gzip")).arrayBuffer());
    await mkdir(dirname(path), { recursive: true });
    const tmp = `${path}.${process.pid}.tmp`;
    await writeFile(tmp, tarball);
    await rename(tmp, path);
  } finally {
    await pglite.close();
  }
  return { path, created: true };
}

/** The template tarball, or undefined when the build has not written it. */
export async function readEmbeddedTemplate(): Promise<Blob | undefined> {
  const path = await embeddedTemplatePath();
  try {
    return new Blob([await readFile(path)]);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}
