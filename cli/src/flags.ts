/**
 * Flags shared by flotctl commands: the global `-p/--project`, `-d/--domain`, `-o/--output` and
 * `--admin`, the flags several commands repeat (`--limit`, `--version`, `--dir`), and the parsing
 * of repeatable `key=value` flags.
 */
import { Flags } from "@oclif/core";
import { UsageError } from "./errors.js";

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

/**
 * Parses the values of a repeatable `key=value` flag (`--label team=ml --label tier=1`) into a
 * record; a later key wins. Throws {@link UsageError} naming the flag and the bad entry.
 */
export function parseKeyValues(values: readonly string[] | undefined, flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of values ?? []) {
    const eq = entry.indexOf("=");
    if (eq <= 0) throw new UsageError(`--${flag} expects key=value, got "${entry}"`);
    out[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return out;
}

/** `--dir` of the demo commands: the demo directory. */
export const demoDirFlag = Flags.string({
  summary: "Demo directory: data, logs and state (default: $FLOTILLA_DEMO_DIR or ~/.flotilla/demo).",
});

/** Splits a comma-separated flag value (`--domains a, b,c`) into its trimmed, non-empty items. */
export function parseList(value: string | undefined): string[] {
  return (value ?? "")
    .split(",")
    .map((item) => item.trim())
    .filter(Boolean);
}

/** A label filter of a list command: `--<name> key=value`, repeatable; `plural` names what it keeps. */
export function labelFilterFlag(plural: string) {
  return Flags.string({ summary: `Only ${plural} with this label (key=value, repeatable).`, multiple: true });
}

/** `--limit` of the list commands: the most rows to print (default 100). */
export const limitFlag = Flags.integer({ summary: "Maximum rows to list.", default: 100, min: 1 });

/** `--version` of the registry `get` commands: show that version of the named `noun` ("launch plan"). */
export function entityVersionFlag(noun: string) {
  return Flags.string({ summary: `Show this version of the named ${noun}.` });
}
