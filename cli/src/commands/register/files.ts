import { Args, Flags } from "@oclif/core";
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { FlotctlCommand } from "../../base-command.js";
import { UsageError } from "../../errors.js";
import { examples } from "../../help.js";
import type { SpecSource } from "../../spec/parse.js";
import { Patterns } from "../../spec/patterns.js";
import { registerSpecs } from "../../spec/register.js";

/** `flotctl register files <paths...> --version V`. */
export default class RegisterFiles extends FlotctlCommand<typeof RegisterFiles> {
  static override summary = "Validate and register tasks, workflows and launch plans from YAML spec files.";
  static override description =
    "Every document of every file is validated first (YAML syntax, fields, references, binding types, cycles); each problem is reported with file:line:column and field path, and nothing is registered when there is any. Then tasks, workflows and launch plans are registered in dependency order under --version. Re-registering identical content is a no-op; different content under an existing version fails. Directories are searched for *.yaml/*.yml files. See cli/README.md for the spec format.";
  static override examples = examples(
    "flotctl register files examples/hello-world.yaml --version v1 -p flytesnacks -d development",
    "flotctl register files examples/ --version $(git rev-parse --short HEAD)",
    "flotctl register files wf.yaml --version v2 --dry-run -o json",
  );
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
