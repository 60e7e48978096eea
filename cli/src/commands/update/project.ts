import { Args, Flags } from "@oclif/core";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import {
  AttributeScopeSchema,
  MatchingAttributesSchema,
  Project_State,
  ProjectSchema,
  type MatchingAttributes,
} from "@flotilla/proto";
import { FlotctlCommand, type FlagsOf } from "../../base-command.js";
import { UsageError } from "../../errors.js";
import { parseKeyValues, parseList } from "../../flags.js";
import { Patterns } from "../../spec/patterns.js";

/** `flotctl update project [ID]`. */
export default class UpdateProject extends FlotctlCommand<typeof UpdateProject> {
  static override args = { id: Args.string({ description: "Project id (default: -p)." }) };
  static override flags = {
    isolation: Flags.string({
      summary: "Isolation label (clusters with flotilla.io/isolation=<value> only).",
      exclusive: ["clear-isolation"],
    }),
    "clear-isolation": Flags.boolean({ summary: "Remove the isolation label (shared clusters)." }),
    "domain-isolation": Flags.string({
      summary: "Per-domain isolation domain=label (repeatable).",
      multiple: true,
    }),
    label: Flags.string({ summary: "Set label key=value (repeatable).", multiple: true }),
    name: Flags.string({ summary: "Display name." }),
    description: Flags.string({ summary: "Description." }),
    archive: Flags.boolean({
      summary: "Archive the project (new executions rejected).",
      exclusive: ["activate"],
    }),
    activate: Flags.boolean({ summary: "Re-activate an archived project." }),
    "add-domain": Flags.string({ summary: "Add a domain (repeatable).", multiple: true }),
    "cluster-label": Flags.string({
      summary: "Attribute: route executions to clusters with this cluster label.",
    }),
    "max-parallelism": Flags.integer({
      summary: "Attribute: default max parallelism of executions.",
      min: 0,
      max: 10000,
    }),
    "cluster-assignment": Flags.string({
      summary: "Attribute: comma-separated cluster names executions are pinned to.",
    }),
  };

  async run(): Promise<void> {
    const id = this.args.id ?? (await this.project());
    const client = await this.client();
    const f = this.flags;
    const labels = parseKeyValues(f.label, "label");
    const domainIsolation = parseKeyValues(f["domain-isolation"], "domain-isolation");
    for (const v of [f.isolation, f["cluster-label"], ...Object.values(domainIsolation)]) {
      if (v !== undefined && !Patterns.dnsLabel.pattern.test(v))
        throw new UsageError(`"${v}" is not ${Patterns.dnsLabel.rule}`);
    }
    const projectChange =
      f.isolation !== undefined ||
      f["clear-isolation"] ||
      Object.keys(domainIsolation).length > 0 ||
      Object.keys(labels).length > 0 ||
      f.name !== undefined ||
      f.description !== undefined ||
      f.archive ||
      f.activate ||
      (f["add-domain"]?.length ?? 0) > 0;
    const attributes = attributeChanges(f);
    if (!projectChange && attributes.length === 0)
      throw new UsageError("nothing to change: give at least one flag (see --help)");
    const changes: string[] = [];
    let result: unknown = undefined;
    if (projectChange) {
      const { project } = await client.getProject({ id });
      const p = create(ProjectSchema, project);
      if (f.isolation !== undefined) p.isolationLabel = f.isolation;
      if (f["clear-isolation"]) p.isolationLabel = "";
      p.domainIsolationLabels = { ...p.domainIsolationLabels, ...domainIsolation };
      p.labels = { ...p.labels, ...labels };
      if (f.name !== undefined) p.name = f.name;
      if (f.description !== undefined) p.description = f.description;
      if (f.archive) p.state = Project_State.ARCHIVED;
      if (f.activate) p.state = Project_State.ACTIVE;
      for (const d of f["add-domain"] ?? [])
        if (!p.domains.some((x) => x.id === d))
          p.domains.push({ $typeName: "flotilla.admin.v1.Domain", id: d, name: d });
      const r = await client.updateProject({ project: p });
      result = await this.json(ProjectSchema, r.project!);
      changes.push(`project ${id} updated (isolation: ${r.project?.isolationLabel || "none"})`);
    }
    const scope = create(AttributeScopeSchema, { project: id, domain: this.flags.domain ?? "" });
    for (const a of attributes) {
      await client.updateMatchableAttributes({ scope, attributes: a });
      changes.push(`attribute ${a.target.case} set for ${id}${scope.domain ? `/${scope.domain}` : ""}`);
    }
    await this.print({ data: { project: result, changes }, table: () => changes.join("\n") });
  }
}

/** The matchable attributes the attribute flags set, one per flag given. */
function attributeChanges(f: FlagsOf<typeof UpdateProject>): MatchingAttributes[] {
  const targets: Array<MessageInitShape<typeof MatchingAttributesSchema>["target"]> = [];
  if (f["cluster-label"] !== undefined)
    targets.push({ case: "executionClusterLabel", value: { value: f["cluster-label"] } });
  if (f["max-parallelism"] !== undefined)
    targets.push({ case: "workflowExecutionConfig", value: { maxParallelism: f["max-parallelism"] } });
  if (f["cluster-assignment"] !== undefined)
    targets.push({ case: "clusterAssignment", value: { clusterNames: parseList(f["cluster-assignment"]) } });
  return targets.map((target) => create(MatchingAttributesSchema, { target }));
}
