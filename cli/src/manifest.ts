/**
 * The oclif command manifest (`cli/oclif.manifest.json`): with it, `flotctl --help` and command
 * lookup need no command module to be imported, which keeps cold start short. It is build
 * output: regenerated here whenever it is missing or older than the compiled commands.
 */
import { readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { stableJson } from "./output/stable-json.js";

/** Root of the @flotilla/cli package (holds package.json and the manifest). */
export const CLI_ROOT: string = fileURLToPath(new URL("../", import.meta.url));

/** Path of the manifest file. */
export const MANIFEST_PATH: string = join(CLI_ROOT, "oclif.manifest.json");

function mtime(path: string): number | undefined {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return undefined;
  }
}

/** Whether the manifest is missing or older than the last build of dist/. */
export function manifestIsStale(root = CLI_ROOT): boolean {
  const manifest = mtime(join(root, "oclif.manifest.json"));
  if (manifest === undefined) return true;
  const built = mtime(join(root, "dist", ".tsbuildinfo"));
  return built !== undefined && built > manifest;
}

/**
 * Builds the manifest by loading every command class (oclif's own cache format) and writes it
 * atomically. Returns the number of commands. Side effects: imports all command modules,
 * writes `oclif.manifest.json`.
 */
export async function writeManifest(root = CLI_ROOT): Promise<number> {
  const { Plugin } = await import("@oclif/core");
  const plugin = new Plugin({
    root,
    type: "core",
    isRoot: true,
    ignoreManifest: true,
    errorOnManifestCreate: true,
  });
  await plugin.load();
  const path = join(root, "oclif.manifest.json");
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, stableJson(plugin.manifest));
  renameSync(tmp, path);
  return Object.keys(plugin.manifest.commands).length;
}

/**
 * Regenerates the manifest when stale (a no-op costing two stat calls otherwise). When the
 * package folder is read-only (an installed package) the write is skipped and oclif uses the
 * shipped manifest, or loads the command modules directly when there is none.
 */
export async function ensureManifest(root = CLI_ROOT): Promise<void> {
  if (!manifestIsStale(root)) return;
  try {
    await writeManifest(root);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== "EACCES" && code !== "EROFS" && code !== "EPERM") throw err;
  }
}

/** Command ids listed in the manifest (for completion scripts). */
export function manifestCommands(root = CLI_ROOT): Record<
  string,
  {
    summary?: string;
    description?: string;
    flags: Record<string, { char?: string; type: string; options?: string[] }>;
  }
> {
  const m = JSON.parse(readFileSync(join(root, "oclif.manifest.json"), "utf8")) as {
    commands: ReturnType<typeof manifestCommands>;
  };
  return m.commands;
}
