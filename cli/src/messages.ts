/**
 * The help text of flotctl commands, kept out of the command classes in one Markdown file per
 * command (`cli/messages/<topic>/<command>.md`, as the Salesforce CLI plugins do it):
 *
 * ```md
 * # summary
 *
 * One line.
 *
 * # description
 *
 * Optional; any number of paragraphs.
 *
 * # examples
 *
 * - flotctl get workflows -p flytesnacks -d development
 * ```
 *
 * Each example is one command line as the user types it; {@link examples} turns its `flotctl`
 * into oclif's `<%= config.bin %>`.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { examples } from "./help.js";
import { CLI_ROOT } from "./manifest.js";

/** The help text of one command, in the shape oclif reads from a command class. */
export interface CommandMessages {
  /** One line, shown in command lists and atop the command's help. */
  summary: string;
  /** Longer text under DESCRIPTION; undefined when the file has no description section. */
  description: string | undefined;
  /** Example command lines, `flotctl` already replaced by `<%= config.bin %>`. */
  examples: string[];
}

/** A messages file that is missing, lacks a required section or has a malformed one. */
export class MessagesError extends Error {
  constructor(
    /** Path of the messages file. */
    readonly file: string,
    /** What is wrong, naming the section. */
    readonly problem: string,
  ) {
    super(`${file}: ${problem}`);
    this.name = "MessagesError";
  }
}

/** The sections a messages file may have, in any order, each at most once. */
const SECTIONS = ["summary", "description", "examples"] as const;
type Section = (typeof SECTIONS)[number];

/** Folder of the messages files (`cli/messages`, beside `src/` and `dist/`). */
export const MESSAGES_DIR: string = join(CLI_ROOT, "messages");

/** Path of the messages file of an oclif command id (`get:workflows` → `messages/get/workflows.md`). */
export function messagesPath(commandId: string, dir = MESSAGES_DIR): string {
  return `${join(dir, ...commandId.split(":"))}.md`;
}

/**
 * Parses the text of a messages file. `file` only names the file in errors. Throws
 * {@link MessagesError} on an unknown or repeated `#` heading, text before the first heading, a
 * missing or multi-line summary, or an examples section that is not a non-empty `- ` list.
 */
export function parseMessages(text: string, file: string): CommandMessages {
  const sections = new Map<Section, string[]>();
  let current: string[] | undefined;
  for (const line of text.split(/\r?\n/)) {
    const heading = /^#\s+(.*?)\s*$/.exec(line);
    if (heading) {
      const name = heading[1].toLowerCase() as Section;
      if (!SECTIONS.includes(name))
        throw new MessagesError(file, `unknown section "# ${heading[1]}" (expected ${SECTIONS.join(", ")})`);
      if (sections.has(name)) throw new MessagesError(file, `section "# ${name}" appears twice`);
      current = [];
      sections.set(name, current);
    } else if (current) {
      current.push(line);
    } else if (line.trim()) {
      throw new MessagesError(file, `text before the first section: "${line.trim()}"`);
    }
  }
  const body = (name: Section) => sections.get(name)?.join("\n").trim() || undefined;

  const summary = body("summary");
  if (!summary) throw new MessagesError(file, `section "# summary" is missing or empty`);
  if (summary.includes("\n")) throw new MessagesError(file, `section "# summary" must be a single line`);

  const list = body("examples");
  if (!list) throw new MessagesError(file, `section "# examples" is missing or empty`);
  const lines = list.split("\n").filter((line) => line.trim());
  const bad = lines.find((line) => !/^- \S/.test(line));
  if (bad)
    throw new MessagesError(file, `section "# examples": "${bad}" is not a "- <command line>" list item`);

  return {
    summary,
    description: body("description"),
    examples: examples(...lines.map((line) => line.slice(2).trim())),
  };
}

const cache = new Map<string, CommandMessages>();

/**
 * The help text of an oclif command id, read synchronously from its messages file (oclif reads
 * `summary`, `description` and `examples` as plain static properties) and cached per process.
 * Throws {@link MessagesError} naming the file when it is missing or malformed.
 */
export function commandMessages(commandId: string, dir = MESSAGES_DIR): CommandMessages {
  const file = messagesPath(commandId, dir);
  let messages = cache.get(file);
  if (!messages) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (err) {
      throw new MessagesError(file, `cannot read the messages of "${commandId}" (${(err as Error).message})`);
    }
    messages = parseMessages(text, file);
    cache.set(file, messages);
  }
  return messages;
}
