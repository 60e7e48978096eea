import { Args } from "@oclif/core";
import { Project_State, ProjectSchema, type Project } from "@flotilla/proto";
import { FlotctlCommand } from "../../base-command.js";
import { enumName, formatLabels } from "../../output/format.js";
import { renderFields, type Column } from "../../output/table.js";
import { readPages } from "../../resources.js";

/** The columns of the project list. */
const PROJECT_COLUMNS: Column<Project>[] = [
  { header: "ID", get: (p) => p.id },
  { header: "NAME", get: (p) => p.name },
  { header: "STATE", get: (p) => enumName(Project_State, p.state, "ACTIVE") },
  { header: "DOMAINS", get: (p) => p.domains.map((d) => d.id).join(",") },
  { header: "ISOLATION", get: (p) => p.isolationLabel || "-" },
];

/** `flotctl get projects [ID]`. */
export default class GetProjects extends FlotctlCommand<typeof GetProjects> {
  static override args = { id: Args.string({ description: "Project id to show." }) };

  async run(): Promise<void> {
    const client = await this.client();
    if (this.args.id) {
      const { project } = await client.getProject({ id: this.args.id });
      const p = project!;
      await this.print({
        data: await this.json(ProjectSchema, p),
        table: () =>
          renderFields([
            ["Id", p.id],
            ["Name", p.name],
            ["State", enumName(Project_State, p.state, "ACTIVE")],
            ["Domains", p.domains.map((d) => d.id).join(", ")],
            ["Isolation", p.isolationLabel || "- (shared clusters)"],
            ["Domain isolation", formatLabels(p.domainIsolationLabels)],
            ["Labels", formatLabels(p.labels)],
            ["Description", p.description || "-"],
          ]),
      });
      return;
    }
    const projects = await readPages(
      Infinity,
      (page) => client.listProjects(page),
      (r) => r.projects,
    );
    await this.printList(ProjectSchema, projects, PROJECT_COLUMNS);
  }
}
