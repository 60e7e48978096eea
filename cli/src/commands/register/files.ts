import { Args, Flags } from "@oclif/core";
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { FlotctlCommand } from "../../base-command.js";
import { UsageError } from "../../errors.js";
import type { SpecSource } from "../../spec/parse.js";
import { Patterns } from "../../spec/patterns.js";
import { registerSpecs } from "../../spec/register.js";

/** `flotctl register files <paths...> --version V`. */
export default class RegisterFiles extends FlotctlCommand<typeof RegisterFiles> {
  static override strict = false;
  static override args = {
    paths: Args.string({ description: "Spec files or directories.", required: true }),
  };
  static override flags = {
    version: Flags.string({ summary: "Version to register every entity under.", required: true }),
    "dry-run": Flags.boolean({ summary: "Validate only; register nothing." }),
  };

  async run(): Promise<void> {
    const version = this.flags.version;
    if (!Patterns.version.pattern.test(version))
      throw new UsageError(`--version "${version}" is not ${Patterns.version.rule}`);
    const { argv } = await this.parse(RegisterFiles);
    const sources = await this.readSources(argv as string[]);
    const project = await this.project();
    const domain = await this.domain();
    const results = await registerSpecs(await this.client(), sources, {
      project,
      domain,
      version,
      dryRun: this.flags["dry-run"],
    });
    await this.print({
      data: results,
      table: () =>
        this.table(
          [
            { header: "KIND", get: (r: (typeof results)[number]) => r.kind },
            { header: "NAME", get: (r) => r.name },
            { header: "VERSION", get: (r) => r.version },
            { header: "STATUS", get: (r) => r.status },
          ],
          results,
        ),
    });
  }

  private async readSources(paths: string[]): Promise<SpecSource[]> {
    const files: string[] = [];
    for (const p of paths) {
      let s;
      try {
        s = await stat(p);
      } catch {
        throw new UsageError(`no such file or directory: ${p}`);
      }
      if (s.isDirectory()) {
        const entries = (await readdir(p)).filter((n) => /\.ya?ml$/.test(n)).sort();
        if (entries.length === 0) throw new UsageError(`directory ${p} contains no .yaml/.yml files`);
        files.push(...entries.map((n) => join(p, n)));
      } else files.push(p);
    }
    return Promise.all(files.map(async (file) => ({ file, text: await readFile(file, "utf8") })));
  }
}
