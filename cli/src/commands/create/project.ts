import { Args, Flags } from "@oclif/core";
import { create } from "@bufbuild/protobuf";
import { DomainSchema, ProjectSchema } from "@flotilla/proto";
import { FlotctlCommand } from "../../base-command.js";
import { parseKeyValues, parseList } from "../../flags.js";

/** `flotctl create project ID`. */
export default class CreateProject extends FlotctlCommand<typeof CreateProject> {
  static override args = { id: Args.string({ description: "Project id (DNS-1123 label).", required: true }) };
  static override flags = {
    name: Flags.string({ summary: "Display name (default: the id)." }),
    description: Flags.string({ summary: "Description." }),
    domains: Flags.string({
      summary: "Comma-separated domain ids (default: development,staging,production).",
    }),
    label: Flags.string({ summary: "Label key=value (repeatable).", multiple: true }),
    isolation: Flags.string({
      summary: "Isolation label: run only on clusters carrying flotilla.io/isolation=<value>.",
    }),
  };

  async run(): Promise<void> {
    const labels = parseKeyValues(this.flags.label, "label");
    const project = create(ProjectSchema, {
      id: this.args.id,
      name: this.flags.name ?? this.args.id,
      description: this.flags.description ?? "",
      domains: parseList(this.flags.domains).map((id) => create(DomainSchema, { id, name: id })),
      labels,
      isolationLabel: this.flags.isolation ?? "",
    });
    const r = await (await this.client()).registerProject({ project });
    const p = r.project!;
    await this.print({
      data: await this.json(ProjectSchema, p),
      table: () => `project ${p.id} registered (domains: ${p.domains.map((d) => d.id).join(", ")})`,
    });
  }
}
