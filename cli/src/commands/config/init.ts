import { Flags } from "@oclif/core";
import { FlotctlCommand } from "../../base-command.js";
import { loadConfig, saveConfig, DEFAULT_ADMIN_URL, type CliConfig } from "../../config.js";
import { CliError } from "../../errors.js";
import { examples } from "../../help.js";

/** `flotctl config init`: writes the config file from flags. */
export default class ConfigInit extends FlotctlCommand<typeof ConfigInit> {
  static override summary = "Create or update the config file (~/.flotilla/config.yaml).";
  static override description =
    "Values come from --admin, -p, -d and -o; unset ones keep their current value. The file location can be changed with $FLOTCTL_CONFIG.";
  static override examples = examples(
    "flotctl config init --admin http://127.0.0.1:8088 -p flytesnacks -d development",
    "flotctl config init --force --admin https://flotilla.example.com",
  );
  static override flags = {
    force: Flags.boolean({ summary: "Replace the existing file instead of merging into it." }),
  };

  async run(): Promise<void> {
    const path = this.configFile;
    const existing = this.flags.force ? {} : await loadConfig(path);
    const next: CliConfig = { ...existing };
    if (this.flags.admin) next.admin = this.flags.admin;
    if (this.flags.project) next.project = this.flags.project;
    if (this.flags.domain) next.domain = this.flags.domain;
    if (this.flags.output) next.output = this.flags.output;
    next.admin ??= DEFAULT_ADMIN_URL;
    if (next.output && !["table", "json", "yaml"].includes(next.output)) {
      throw new CliError(
        "usage",
        `output "${next.output}" cannot be a default (use table, json or yaml)`,
        [],
        2,
      );
    }
    await saveConfig(path, next);
    this.note(`wrote ${path}`);
    await this.print({
      data: { path, config: next },
      table: () =>
        `${path}\n${Object.entries(next)
          .map(([k, v]) => `  ${k}: ${v}`)
          .join("\n")}`,
    });
  }

  /** The output of `config init` itself is always table unless asked on the command line. */
  protected override async outputFormat(): Promise<string> {
    return this.flags.output === "json" || this.flags.output === "yaml" ? this.flags.output : "table";
  }
}
