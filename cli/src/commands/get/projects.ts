import { Args } from "@oclif/core";
import { Project_State, ProjectSchema, type Project } from "@flotilla/proto";
import { FlotctlCommand } from "../../base-command.js";
import { enumName, formatLabels } from "../../output/format.js";
import { renderFields, renderTable } from "../../output/table.js";

/** `flotctl get projects [ID]`. */
export default class GetProjects extends FlotctlCommand<typeof GetProjects> {
  static override summary = "List projects, or show one.";
  static override examples = [
    "<%= config.bin %> get projects",
    "<%= config.bin %> get projects flytesnacks -o yaml",
  ];
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
    const projects: Project[] = [];
    let pageToken = "";
    do {
      const r = await client.listProjects({ pageToken, pageSize: 1000 });
      projects.push(...r.projects);
      pageToken = r.nextPageToken;
    } while (pageToken);
    const data = [];
    for (const p of projects) data.push(await this.json(ProjectSchema, p));
    await this.print({
      data,
      table: () =>
        renderTable(
          [
            { header: "ID", get: (p: Project) => p.id },
            { header: "NAME", get: (p) => p.name },
            { header: "STATE", get: (p) => enumName(Project_State, p.state, "ACTIVE") },
            { header: "DOMAINS", get: (p) => p.domains.map((d) => d.id).join(",") },
            { header: "ISOLATION", get: (p) => p.isolationLabel || "-" },
          ],
          projects,
          { color: this.color },
        ),
    });
  }
}
