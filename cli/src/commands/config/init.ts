import { Flags } from "@oclif/core";
import { FlotctlCommand } from "../../base-command.js";
import { loadConfig, saveConfig, DEFAULT_ADMIN_URL, type CliConfig } from "../../config.js";
import { CliError } from "../../errors.js";

/** `flotctl config init`: writes the config file from flags. */
export default class ConfigInit extends FlotctlCommand<typeof ConfigInit> {
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
