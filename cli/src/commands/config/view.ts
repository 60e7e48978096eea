import { FlotctlCommand } from "../../base-command.js";
import { DEFAULT_ADMIN_URL } from "../../config.js";
import { renderFields } from "../../output/table.js";

/** `flotctl config view`: the effective settings and where each comes from. */
export default class ConfigView extends FlotctlCommand<typeof ConfigView> {
  async run(): Promise<void> {
    const file = await this.fileConfig();
    const source = (name: "admin" | "project" | "domain" | "output") => {
      if (this.flags[name]) return "flag";
      if (this.runtime.env[`FLOTILLA_${name.toUpperCase()}`]) return "env";
      if (file[name] !== undefined) return "config";
      return "default";
    };
    const settings = {
      admin: { value: await this.adminUrl(), source: source("admin") },
      project: { value: (await this.setting("project")) ?? "", source: source("project") },
      domain: { value: (await this.setting("domain")) ?? "", source: source("domain") },
      output: { value: await this.outputFormat(), source: source("output") },
    };
    if (settings.admin.source === "default") settings.admin.value = DEFAULT_ADMIN_URL;
    await this.print({
      data: { path: this.configFile, file, settings },
      table: () =>
        renderFields([
          ["Config file", this.configFile],
          ...Object.entries(settings).map(([k, v]): [string, string] => [
            k[0].toUpperCase() + k.slice(1),
            v.value ? `${v.value} (${v.source})` : `- (unset)`,
          ]),
        ]),
    });
  }
}
