import { readFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { parseArgs } from "node:util";
import { DURATION_SYNTAX, formatDuration, tryParseDuration } from "@flotilla/common";
import { LineCounter, parse as parseYaml, parseDocument, stringify, type Document } from "yaml";
import { z } from "zod";
import { ConfigError, quoteValue, UsageError } from "./errors.js";

/**
 * The one configuration loader of every Flotilla service. A service declares its settings once
 * as a zod schema; values come from, later winning:
 *
 *   defaults in the schema → the YAML file (`--config FILE`) → environment
 *   (`FLOTILLA_<SERVICE>_<KEY_PATH>`, e.g. `FLOTILLA_ADMIN_SERVER_PORT`) → flags
 *   (`--set server.port=8080`, or the service's own short flags such as `--port`)
 *
 * Errors name the key path and where its value came from; `--print-config` prints the effective
 * configuration with secrets redacted; `--help` lists the flags and every key with its variable.
 */

const durations = new WeakSet<z.ZodType>();
const secrets = new WeakSet<z.ZodType>();

function durationSchema() {
  const schema = z.unknown().transform((value, ctx) => {
    const ms = typeof value === "string" ? tryParseDuration(value) : undefined;
    if (ms === undefined) {
      ctx.addIssue({ code: "custom", message: `expected ${DURATION_SYNTAX}, got ${quoteValue(value)}` });
      return z.NEVER;
    }
    return ms;
  });
  durations.add(schema);
  return schema;
}

/** The schema {@link durationMs} returns without a default. */
export type DurationSchema = ReturnType<typeof durationSchema>;

/**
 * A duration setting in the one duration syntax (`"500ms"`, `"30s"`, `"5m"`, `"1h"`), parsed to
 * milliseconds; `defaultText` (same syntax) applies when the key is absent.
 */
export function durationMs(): DurationSchema;
export function durationMs(defaultText: string): z.ZodPrefault<DurationSchema>;
export function durationMs(defaultText?: string): DurationSchema | z.ZodPrefault<DurationSchema> {
  const schema = durationSchema();
  return defaultText === undefined ? schema : schema.prefault(defaultText);
}

/** A TCP port number (0 asks the system for a free one). */
export function port() {
  return z.number().int().min(0).max(65535);
}

/** A setting whose value `--print-config` never shows (passwords, tokens). */
export function secret<T extends z.ZodType>(schema: T): T {
  secrets.add(schema);
  return schema;
}

/** A flag that sets one key path (e.g. `--port` → `server.port`). */
export interface FlagAlias {
  readonly path: string;
  readonly description: string;
  /** Boolean flags take no value and set `true`. Default: a value follows. */
  readonly boolean?: boolean;
  readonly short?: string;
}

/** What {@link defineConfig} returns: everything {@link loadConfig} needs to know. */
export interface ConfigDefinition<S extends z.ZodType> {
  readonly service: string;
  /** The bin's name for usage lines (`flotilla-admin`). */
  readonly bin: string;
  readonly schema: S;
  readonly envPrefix: string;
  readonly flags: Readonly<Record<string, FlagAlias>>;
  /** Older variable names kept working, mapped to their key path. */
  readonly envAliases: Readonly<Record<string, string>>;
}

/**
 * Declares a service's configuration. `schema` should be a strict object (unknown keys are
 * errors); sections with defaults use `.prefault({})`.
 */
export function defineConfig<S extends z.ZodType>(
  service: string,
  schema: S,
  options: {
    bin?: string;
    flags?: Record<string, FlagAlias>;
    envAliases?: Record<string, string>;
  } = {},
): ConfigDefinition<S> {
  return {
    service,
    bin: options.bin ?? `flotilla-${service}`,
    schema,
    envPrefix: `FLOTILLA_${service.toUpperCase().replace(/[^A-Z0-9]+/g, "_")}`,
    flags: options.flags ?? {},
    envAliases: options.envAliases ?? {},
  };
}

/** Inputs of {@link loadConfig}. */
export interface LoadConfigInput {
  /** The command line after the bin (`process.argv.slice(2)`). */
  readonly argv: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  /** Where `--help` and `--print-config` write (default standard output). */
  readonly stdout?: NodeJS.WritableStream;
  /** Relative paths in flags and environment resolve against it (default the working directory). */
  readonly cwd?: string;
}

/** The outcome of {@link loadConfig}. */
export interface LoadedConfig<T> {
  /** The validated, defaulted configuration. */
  readonly config: T;
  /** `--help` or `--print-config` was given and answered: the service should exit 0 now. */
  readonly done: boolean;
  /** The config file, when one was given. */
  readonly file?: string;
  /** Folder relative paths in the file resolve against: the file's folder, else `cwd`. */
  readonly baseDir: string;
}

type Path = readonly string[];

/**
 * Loads a service's configuration from file, environment and flags (see the module comment).
 * Returns the validated config, or `done` after printing help or the effective config. Throws
 * {@link ConfigError} naming every bad key and its source, {@link UsageError} for an unknown flag.
 */
export async function loadConfig<S extends z.ZodType>(
  def: ConfigDefinition<S>,
  input: LoadConfigInput,
): Promise<LoadedConfig<z.output<S>>> {
  const env = input.env ?? process.env;
  const stdout = input.stdout ?? process.stdout;
  const cwd = input.cwd ?? process.cwd();
  const args = parseCommandLine(def, input.argv);
  if (args.help) {
    stdout.write(usage(def));
    return { config: undefined as z.output<S>, done: true, baseDir: cwd };
  }
  const sources = new Map<string, string>();
  const file = args.config === undefined ? undefined : resolve(cwd, args.config);
  const loadedFile = file === undefined ? undefined : await readConfigFile(def.service, file);
  const raw: Record<string, unknown> = isRecord(loadedFile?.value) ? loadedFile.value : {};
  if (loadedFile !== undefined && !isRecord(loadedFile.value) && loadedFile.value != null) {
    throw new ConfigError(def.service, [
      { keyPath: "", source: `file ${file}`, problem: "must be a mapping of keys" },
    ]);
  }
  const leaves = leafPaths(def.schema);
  const envNames = new Map<string, Path>(leaves.map((p) => [envName(def, p), p]));
  for (const [name, path] of Object.entries(def.envAliases)) envNames.set(name, path.split("."));
  for (const [name, path] of envNames) {
    const value = env[name];
    if (value === undefined || value === "") continue;
    setIn(raw, path, fromText(def.schema, path, value));
    sources.set(path.join("."), `env ${name}`);
  }
  for (const { path, value, source } of args.overrides) {
    setIn(raw, path, typeof value === "string" ? fromText(def.schema, path, value) : value);
    sources.set(path.join("."), source);
  }
  const config = validate(def, raw, (path) =>
    sourceOf(path, sources, file, loadedFile?.doc, loadedFile?.lines),
  );
  const baseDir = file === undefined ? cwd : dirname(file);
  if (args.printConfig) {
    stdout.write(stringify(printable(def.schema, config)));
    return { config, done: true, baseDir, ...(file ? { file } : {}) };
  }
  return { config, done: false, baseDir, ...(file ? { file } : {}) };
}

/**
 * Validates an in-memory configuration document against the service's schema (tests and
 * embedders that build their config in code): the same defaults and checks as a file, without
 * environment or flags. Returns the config; throws {@link ConfigError} naming every bad key, with
 * `source` as its origin.
 */
export function parseConfigDocument<S extends z.ZodType>(
  def: ConfigDefinition<S>,
  doc: unknown,
  source = "document",
): z.output<S> {
  return validate(def, doc ?? {}, () => source);
}

/** Runs the schema; every issue becomes a problem naming its key path and where it came from. */
function validate<S extends z.ZodType>(
  def: ConfigDefinition<S>,
  raw: unknown,
  sourceFor: (path: Path) => string,
): z.output<S> {
  const result = def.schema.safeParse(raw);
  if (result.success) return result.data;
  const problems = result.error.issues.flatMap((issue) => {
    const base = issue.path.map(String);
    const paths = issue.code === "unrecognized_keys" ? issue.keys.map((k) => [...base, k]) : [base];
    return paths.map((path) => ({
      keyPath: path.join("."),
      source: sourceFor(path),
      problem: issue.code === "unrecognized_keys" ? "unknown key" : issue.message,
    }));
  });
  throw new ConfigError(def.service, problems);
}

interface CommandLine {
  config?: string;
  help: boolean;
  printConfig: boolean;
  overrides: { path: Path; value: unknown; source: string }[];
}

function parseCommandLine(def: ConfigDefinition<z.ZodType>, argv: readonly string[]): CommandLine {
  const options: Record<string, { type: "string" | "boolean"; short?: string; multiple?: boolean }> = {
    config: { type: "string", short: "c" },
    set: { type: "string", multiple: true },
    "print-config": { type: "boolean" },
    help: { type: "boolean", short: "h" },
  };
  for (const [name, flag] of Object.entries(def.flags)) {
    options[name] = {
      type: flag.boolean ? "boolean" : "string",
      ...(flag.short ? { short: flag.short } : {}),
    };
  }
  let values: Record<string, unknown>;
  try {
    ({ values } = parseArgs({ args: [...argv], options, strict: true, allowPositionals: false }));
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n${usageLine(def)}`);
  }
  const overrides: CommandLine["overrides"] = [];
  for (const [name, flag] of Object.entries(def.flags)) {
    if (values[name] === undefined) continue;
    overrides.push({ path: flag.path.split("."), value: values[name], source: `flag --${name}` });
  }
  for (const assignment of (values.set as string[] | undefined) ?? []) {
    const eq = assignment.indexOf("=");
    if (eq <= 0) throw new UsageError(`--set expects KEY=VALUE, got ${quoteValue(assignment)}`);
    const key = assignment.slice(0, eq);
    overrides.push({ path: key.split("."), value: assignment.slice(eq + 1), source: `flag --set ${key}` });
  }
  return {
    ...(typeof values.config === "string" ? { config: values.config } : {}),
    help: values.help === true,
    printConfig: values["print-config"] === true,
    overrides,
  };
}

async function readConfigFile(
  service: string,
  file: string,
): Promise<{ value: unknown; doc: Document; lines: LineCounter }> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    throw new ConfigError(service, [
      { keyPath: "", source: `file ${file}`, problem: `cannot read: ${(err as Error).message}` },
    ]);
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(service, [
      { keyPath: "", source: `file ${file}`, problem: `not valid YAML: ${doc.errors[0]?.message ?? ""}` },
    ]);
  }
  return { value: doc.toJS() as unknown, doc, lines };
}

function sourceOf(
  path: Path,
  sources: ReadonlyMap<string, string>,
  file: string | undefined,
  doc: Document | undefined,
  lines: LineCounter | undefined,
): string {
  for (let n = path.length; n > 0; n--) {
    const source = sources.get(path.slice(0, n).join("."));
    if (source !== undefined) return source;
  }
  if (doc !== undefined && file !== undefined) {
    for (let n = path.length; n > 0; n--) {
      const node = doc.getIn(path.slice(0, n), true) as { range?: [number, number, number] } | undefined;
      if (node?.range) return `file ${file} line ${lines?.linePos(node.range[0]).line ?? "?"}`;
      // An unknown key has no value node of its own here; its pair is found through the parent.
      if (n === path.length && path.length > 0) {
        const parent = path.length === 1 ? doc.contents : doc.getIn(path.slice(0, -1), true);
        const pair = (
          parent as { items?: { key?: { value?: unknown; range?: number[] } }[] } | null
        )?.items?.find((item) => item.key?.value === path[path.length - 1]);
        if (pair?.key?.range?.[0] !== undefined)
          return `file ${file} line ${lines?.linePos(pair.key.range[0]).line}`;
      }
    }
    return `file ${file}`;
  }
  return "default";
}

interface ZodDef {
  type: string;
  innerType?: z.ZodType;
  in?: z.ZodType;
  shape?: Record<string, z.ZodType>;
}

function defOf(schema: z.ZodType): ZodDef {
  return (schema as unknown as { _zod: { def: ZodDef } })._zod.def;
}

/** Strips optional/default/prefault/nullable wrappers; stops at durations and secrets. */
function unwrap(schema: z.ZodType): z.ZodType {
  let s = schema;
  for (;;) {
    if (durations.has(s) || secrets.has(s)) return s;
    const def = defOf(s);
    if (["optional", "default", "prefault", "nullable", "readonly"].includes(def.type) && def.innerType) {
      s = def.innerType;
    } else return s;
  }
}

function shapeOf(schema: z.ZodType): Record<string, z.ZodType> | undefined {
  const s = unwrap(schema);
  const def = defOf(s);
  return def.type === "object" ? def.shape : undefined;
}

function leafPaths(schema: z.ZodType, prefix: Path = []): Path[] {
  const shape = shapeOf(schema);
  if (shape === undefined) return prefix.length > 0 ? [prefix] : [];
  return Object.entries(shape).flatMap(([key, child]) => leafPaths(child, [...prefix, key]));
}

function schemaAt(schema: z.ZodType, path: Path): z.ZodType | undefined {
  let s: z.ZodType | undefined = schema;
  for (const key of path) s = s === undefined ? undefined : shapeOf(s)?.[key];
  return s === undefined ? undefined : unwrap(s);
}

function envName(def: ConfigDefinition<z.ZodType>, path: Path): string {
  const words = path.map((key) => key.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase());
  return `${def.envPrefix}_${words.join("_")}`;
}

/**
 * A value given as text (environment, `--set`, flags) becomes what the file would hold: text
 * for string-like keys, a YAML scalar or flow collection (`8080`, `true`, `[a, b]`) otherwise.
 */
function fromText(schema: z.ZodType, path: Path, text: string): unknown {
  const leaf = schemaAt(schema, path);
  if (leaf === undefined) return text;
  if (durations.has(leaf) || ["string", "enum", "literal", "template_literal"].includes(defOf(leaf).type)) {
    return text;
  }
  if (secrets.has(leaf) && defOf(leaf).type === "string") return text;
  try {
    return parseYaml(text) as unknown;
  } catch {
    return text;
  }
}

function setIn(root: Record<string, unknown>, path: Path, value: unknown): void {
  let node = root;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (!isRecord(next)) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  const last = path[path.length - 1];
  if (last !== undefined) node[last] = value;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The effective config as `--print-config` shows it: durations in their syntax, secrets redacted. */
function printable(schema: z.ZodType | undefined, value: unknown): unknown {
  const leaf = schema === undefined ? undefined : unwrap(schema);
  if (value === undefined) return undefined;
  if (leaf !== undefined && secrets.has(leaf)) return "<redacted>";
  if (leaf !== undefined && durations.has(leaf) && typeof value === "number") return formatDuration(value);
  if (typeof value === "string") return redactUrlPassword(value);
  if (Array.isArray(value)) return value.map((v) => printable(undefined, v));
  if (isRecord(value)) {
    const shape = leaf === undefined ? undefined : shapeOf(leaf);
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, printable(shape?.[k], v)]));
  }
  return value;
}

function redactUrlPassword(text: string): string {
  if (!/^[a-z][a-z0-9+.-]*:\/\/[^/]*:[^/]*@/i.test(text)) return text;
  try {
    const url = new URL(text);
    if (url.password === "") return text;
    url.password = "redacted";
    return url.toString();
  } catch {
    return text;
  }
}

function usageLine(def: ConfigDefinition<z.ZodType>): string {
  const flags = Object.entries(def.flags).map(([name, f]) =>
    f.boolean ? `[--${name}]` : `[--${name} VALUE]`,
  );
  return `usage: ${def.bin} [--config FILE] [--set KEY=VALUE]... [--print-config] ${flags.join(" ")}`.trimEnd();
}

function usage(def: ConfigDefinition<z.ZodType>): string {
  const lines = [usageLine(def), "", "Flags:"];
  lines.push("  -c, --config FILE     YAML configuration file");
  lines.push("  --set KEY=VALUE       set one key (e.g. --set server.port=8080); repeatable");
  lines.push("  --print-config        print the effective configuration (secrets redacted) and exit");
  for (const [name, f] of Object.entries(def.flags)) {
    const flag = `  --${name}${f.boolean ? "" : " VALUE"}`;
    lines.push(
      `${flag.padEnd(24)}${flag.length >= 24 ? "\n" + " ".repeat(24) : ""}${f.description} (${f.path})`,
    );
  }
  lines.push("", "Keys (file path, environment variable):");
  for (const path of leafPaths(def.schema)) lines.push(`  ${path.join(".").padEnd(32)}${envName(def, path)}`);
  lines.push(
    "",
    `Durations use ${DURATION_SYNTAX}. Exit codes: 0 ok, 1 runtime failure, 2 usage or config error.`,
  );
  return lines.join("\n") + "\n";
}
