import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { test } from "node:test";
import { ensureManifest, manifestCommands } from "./manifest.js";
import { commandMessages, MESSAGES_DIR, MessagesError, parseMessages } from "./messages.js";

/** Command ids of the messages files under `dir` (`get/workflows.md` → `get:workflows`). */
function messageIds(dir = MESSAGES_DIR): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((file) => file.endsWith(".md"))
    .map((file) => relative(dir, join(dir, file)).slice(0, -".md".length).split(sep).join(":"))
    .sort();
}

test("every command in the manifest has a messages file with a summary and examples, shown by its help", async () => {
  await ensureManifest();
  const commands = manifestCommands() as Record<string, { summary?: string; examples?: string[] }>;
  assert.ok(Object.keys(commands).length >= 18);
  for (const [id, command] of Object.entries(commands)) {
    const messages = commandMessages(id);
    assert.ok(messages.summary, `${id} has a summary`);
    assert.ok(messages.examples.length >= 1, `${id} has examples`);
    assert.equal(
      command.summary,
      messages.summary,
      `${id}: the manifest carries the messages file's summary`,
    );
    assert.deepEqual(command.examples, messages.examples, `${id}: the manifest carries its examples`);
  }
});

test("every messages file belongs to a command (no orphans)", async () => {
  await ensureManifest();
  assert.deepEqual(messageIds(), Object.keys(manifestCommands()).sort());
});

test("a messages file parses into summary, multi-paragraph description and examples with the bin substituted", () => {
  const messages = parseMessages(
    [
      "# summary",
      "",
      "Do a thing.",
      "",
      "# description",
      "",
      "First paragraph.",
      "",
      "Second paragraph.",
      "",
      "# examples",
      "",
      "- flotctl do thing -o json",
      "- source <(flotctl completion bash) > /etc/flotctl",
      "",
    ].join("\n"),
    "do/thing.md",
  );
  assert.deepEqual(messages, {
    summary: "Do a thing.",
    description: "First paragraph.\n\nSecond paragraph.",
    examples: [
      "<%= config.bin %> do thing -o json",
      "source <(<%= config.bin %> completion bash) > /etc/flotctl",
    ],
  });
  assert.equal(parseMessages("# summary\nS\n# examples\n- flotctl s\n", "s.md").description, undefined);
});

test("a missing or malformed section is an error naming the file and the section", () => {
  const cases: [text: string, problem: RegExp][] = [
    ["# examples\n- flotctl x\n", /"# summary" is missing/],
    ["# summary\nOne\nTwo\n# examples\n- flotctl x\n", /"# summary" must be a single line/],
    ["# summary\nS\n", /"# examples" is missing/],
    [
      "# summary\nS\n# examples\nflotctl x\n",
      /"# examples": "flotctl x" is not a "- <command line>" list item/,
    ],
    ["# summary\nS\n# usage\nx\n# examples\n- flotctl x\n", /unknown section "# usage"/],
    ["# summary\nS\n# summary\nT\n# examples\n- flotctl x\n", /"# summary" appears twice/],
    ["intro\n# summary\nS\n# examples\n- flotctl x\n", /text before the first section/],
  ];
  for (const [text, problem] of cases) {
    assert.throws(
      () => parseMessages(text, "messages/get/thing.md"),
      (err: unknown) =>
        err instanceof MessagesError &&
        err.file === "messages/get/thing.md" &&
        err.message.startsWith("messages/get/thing.md: ") &&
        problem.test(err.message),
      `${JSON.stringify(text)} fails with ${problem}`,
    );
  }
  assert.throws(
    () => commandMessages("get:nothing"),
    (err: unknown) => err instanceof MessagesError && err.file === join(MESSAGES_DIR, "get", "nothing.md"),
  );
});
