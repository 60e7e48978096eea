/**
 * Flags shared by every flotctl command: `-p/--project`, `-d/--domain`, `-o/--output` and
 * `--admin`, plus helpers for commands with extra output formats.
 */
import { Flags } from "@oclif/core";

/** Help group the global flags are listed under. */
const GLOBAL = "GLOBAL";

/** `-o/--output`, with `extra` formats (e.g. "dot") beyond table|json|yaml. */
export function outputFlag(extra: string[] = []) {
  return Flags.string({
    char: "o",
    summary: "Output format.",
    options: ["table", "json", "yaml", ...extra],
    helpGroup: GLOBAL,
  });
}

/** The flags every command accepts (oclif `baseFlags`). */
export const globalFlags = {
  project: Flags.string({
    char: "p",
    summary: "Project (default: $FLOTILLA_PROJECT or the config file).",
    helpGroup: GLOBAL,
  }),
  domain: Flags.string({
    char: "d",
    summary: "Domain (default: $FLOTILLA_DOMAIN or the config file).",
    helpGroup: GLOBAL,
  }),
  output: outputFlag(),
  admin: Flags.string({
    summary: "Admin URL (default: $FLOTILLA_ADMIN, the config file, or http://127.0.0.1:8088).",
    helpGroup: GLOBAL,
  }),
};

/** Parses repeated `key=value` flag values into a record; throws a message naming the bad entry. */
export function parseKeyValues(values: readonly string[] | undefined, flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of values ?? []) {
    const eq = entry.indexOf("=");
    if (eq <= 0) throw new Error(`--${flag} expects key=value, got "${entry}"`);
    out[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return out;
}

/** `--dir` of the demo commands: the demo directory. */
export const demoDirFlag = Flags.string({
  summary: "Demo directory: data, logs and state (default: $FLOTILLA_DEMO_DIR or ~/.flotilla/demo).",
});
