/**
 * The flotctl configuration file (`~/.flotilla/config.yaml`, or `$FLOTCTL_CONFIG`):
 *
 * ```yaml
 * admin: http://127.0.0.1:8088   # admin URL
 * project: flytesnacks           # default -p
 * domain: development            # default -d
 * output: table                  # default -o
 * ```
 *
 * Precedence for every setting: flag, then environment variable (FLOTILLA_ADMIN,
 * FLOTILLA_PROJECT, FLOTILLA_DOMAIN), then this file, then the built-in default.
 */
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { parse, stringify } from "yaml";
import { ConfigError } from "./errors.js";

/** Contents of the config file; every field optional. */
export interface CliConfig {
  admin?: string;
  project?: string;
  domain?: string;
  output?: string;
}

/** The admin URL used when nothing else sets one. */
export const DEFAULT_ADMIN_URL = "http://127.0.0.1:8088";

/** Output formats every command accepts. */
export const OUTPUT_FORMATS = ["table", "json", "yaml"] as const;

const KEYS: ReadonlyArray<keyof CliConfig> = ["admin", "project", "domain", "output"];

/** Path of the config file for `env`/`homeDir` (`$FLOTCTL_CONFIG` wins). */
export function configPath(env: NodeJS.ProcessEnv, homeDir: string): string {
  return env.FLOTCTL_CONFIG || join(homeDir, ".flotilla", "config.yaml");
}

/** Checks a parsed config document; throws {@link ConfigError} naming the bad key. */
export function validateConfig(path: string, doc: unknown): CliConfig {
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== "object" || Array.isArray(doc)) throw new ConfigError(path, "must be a YAML mapping");
  const out: CliConfig = {};
  for (const [key, value] of Object.entries(doc as Record<string, unknown>)) {
    if (!(KEYS as string[]).includes(key)) {
      throw new ConfigError(path, `unknown key "${key}" (known: ${KEYS.join(", ")})`);
    }
    if (typeof value !== "string" || value === "") {
      throw new ConfigError(path, `${key} must be a non-empty string`);
    }
    out[key as keyof CliConfig] = value;
  }
  if (out.admin !== undefined && !/^https?:\/\/[^\s/]+/.test(out.admin)) {
    throw new ConfigError(path, `admin must be an http:// or https:// URL, got "${out.admin}"`);
  }
  if (out.output !== undefined && !(OUTPUT_FORMATS as readonly string[]).includes(out.output)) {
    throw new ConfigError(path, `output must be one of ${OUTPUT_FORMATS.join(", ")}, got "${out.output}"`);
  }
  return out;
}

/** Reads the config file at `path`; a missing file is an empty config. Throws {@link ConfigError}. */
export async function loadConfig(path: string): Promise<CliConfig> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw new ConfigError(path, `cannot be read: ${(err as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new ConfigError(path, `is not valid YAML: ${(err as Error).message}`);
  }
  return validateConfig(path, doc);
}

/** Writes `config` to `path` (atomically, creating the folder). Side effect: file system write. */
export async function saveConfig(path: string, config: CliConfig): Promise<void> {
  validateConfig(path, config);
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  const body = Object.fromEntries(KEYS.filter((k) => config[k] !== undefined).map((k) => [k, config[k]]));
  await writeFile(tmp, `# flotctl configuration (see flotctl config --help)\n${stringify(body)}`, "utf8");
  await rename(tmp, path);
}
