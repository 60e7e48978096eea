import { Flags } from "@oclif/core";
import { create } from "@bufbuild/protobuf";
import { readFile } from "node:fs/promises";
import {
  ExecutionMetadata_Mode,
  ExecutionMetadataSchema,
  ExecutionSpecSchema,
  LiteralMapSchema,
  Sort_Direction,
  type Identifier,
  type Literal,
  type LiteralType,
} from "@flotilla/proto";
import { FlotctlCommand } from "../../base-command.js";
import type { AdminClient } from "../../client.js";
import { CliError, UsageError } from "../../errors.js";
import { parseExecFile, type ExecFile } from "../../exec-file.js";
import { parseKeyValues } from "../../flags.js";
import { describeType, LiteralValueError, textToLiteral, valueToLiteral } from "../../literals.js";
import { entityId } from "../../resources.js";
import { Patterns } from "../../spec/patterns.js";

/** `flotctl create execution`. */
export default class CreateExecution extends FlotctlCommand<typeof CreateExecution> {
  static override flags = {
    launchplan: Flags.string({
      summary: "Launch plan name.",
      aliases: ["launch-plan"],
      exclusive: ["workflow"],
    }),
    workflow: Flags.string({ summary: "Workflow name.", exclusive: ["launchplan"] }),
    version: Flags.string({ summary: "Version of the launch plan or workflow (default: latest)." }),
    inputs: Flags.string({ summary: "Input name=value (repeatable).", multiple: true }),
    "exec-file": Flags.string({ summary: "YAML exec file with target, inputs and options." }),
    name: Flags.string({ summary: "Execution name (DNS-1123 label, 1-20 chars; default: generated)." }),
    "cluster-label": Flags.string({ summary: "Request a cluster label (never overrides isolation)." }),
    label: Flags.string({ summary: "Execution label key=value (repeatable).", multiple: true }),
    "max-parallelism": Flags.integer({ summary: "Maximum nodes running at once.", min: 0, max: 10000 }),
  };

  async run(): Promise<void> {
    const project = await this.project();
    const domain = await this.domain();
    const file: ExecFile = this.flags["exec-file"]
      ? parseExecFile(this.flags["exec-file"], await this.readExecFile(this.flags["exec-file"]))
      : { inputs: {}, labels: {}, annotations: {} };
    const target = this.flags.launchplan
      ? { kind: "LaunchPlan" as const, name: this.flags.launchplan }
      : this.flags.workflow
        ? { kind: "Workflow" as const, name: this.flags.workflow }
        : file.target;
    if (!target)
      throw new UsageError(
        "what to run is missing: pass --launchplan NAME or --workflow NAME (or set it in --exec-file)",
      );
    const name = this.flags.name ?? file.name ?? "";
    if (name && !Patterns.executionName.pattern.test(name))
      throw new UsageError(`--name "${name}" is not ${Patterns.executionName.rule}`);
    const textInputs = parseKeyValues(this.flags.inputs, "inputs");
    const labels = { ...file.labels, ...parseKeyValues(this.flags.label, "label") };
    const client = await this.client();
    const version =
      this.flags.version ??
      file.version ??
      (await this.latestVersion(client, target.kind, project, domain, target.name));
    const id = entityId(target.kind, project, domain, target.name, version);
    const types = await this.inputTypes(client, target.kind, id);
    const literals: Record<string, Literal> = {};
    const problems: string[] = [];
    const convert = (k: string, f: () => Literal) => {
      if (!(k in types)) {
        problems.push(
          `${k}: not an input of ${target.name} (inputs: ${Object.keys(types).join(", ") || "none"})`,
        );
        return;
      }
      try {
        literals[k] = f();
      } catch (err) {
        if (err instanceof LiteralValueError)
          problems.push(`${k}: ${err.message} (${describeType(types[k])})`);
        else throw err;
      }
    };
    for (const [k, v] of Object.entries(file.inputs)) convert(k, () => valueToLiteral(k, v, types[k]));
    for (const [k, v] of Object.entries(textInputs)) convert(k, () => textToLiteral(k, v, types[k]));
    if (problems.length) {
      throw new CliError(
        "invalid_inputs",
        `invalid inputs:\n  ${problems.join("\n  ")}`,
        problems.map((message) => ({ message })),
        2,
      );
    }
    const spec = create(ExecutionSpecSchema, {
      target:
        target.kind === "LaunchPlan" ? { case: "launchPlan", value: id } : { case: "workflow", value: id },
      inputs: create(LiteralMapSchema, { literals }),
      clusterLabel: this.flags["cluster-label"] ?? file.clusterLabel ?? "",
      labels,
      annotations: file.annotations,
      maxParallelism: this.flags["max-parallelism"] ?? file.maxParallelism ?? 0,
      metadata: create(ExecutionMetadataSchema, { mode: ExecutionMetadata_Mode.MANUAL }),
    });
    const r = await client.createExecution({ project, domain, name, spec });
    const data = {
      project,
      domain,
      name: r.id?.name ?? "",
      alreadyExisted: r.alreadyExisted,
      target: `${target.kind}/${target.name}:${version}`,
    };
    await this.print({
      data,
      table: () =>
        `execution ${data.name} ${r.alreadyExisted ? "already existed" : "created"} (${target.kind === "LaunchPlan" ? "launch plan" : "workflow"} ${target.name}:${version})\n` +
        `follow it with: flotctl watch execution ${data.name} -p ${project} -d ${domain}`,
    });
  }

  private async readExecFile(path: string): Promise<string> {
    try {
      return await readFile(path, "utf8");
    } catch (err) {
      throw new UsageError(`cannot read --exec-file ${path}: ${(err as Error).message}`);
    }
  }

  /** The newest version of a launch plan or workflow; NotFound when none is registered. */
  private async latestVersion(
    client: AdminClient,
    kind: "LaunchPlan" | "Workflow",
    project: string,
    domain: string,
    name: string,
  ): Promise<string> {
    const req = {
      id: { project, domain, name },
      pageSize: 1,
      sort: { key: "created_at", direction: Sort_Direction.DESCENDING },
    };
    const items =
      kind === "LaunchPlan"
        ? (await client.listLaunchPlans(req)).launchPlans
        : (await client.listWorkflows(req)).workflows;
    const version = items[0]?.id?.version;
    if (!version)
      throw new CliError(
        "not_found",
        `${kind === "LaunchPlan" ? "launch plan" : "workflow"} ${name} is not registered in ${project}/${domain}`,
      );
    return version;
  }

  /** Input name → type for the target. */
  private async inputTypes(
    client: AdminClient,
    kind: "LaunchPlan" | "Workflow",
    id: Identifier,
  ): Promise<Record<string, LiteralType | undefined>> {
    if (kind === "LaunchPlan") {
      const { launchPlan } = await client.getLaunchPlan({ id });
      return Object.fromEntries(
        Object.entries(launchPlan?.expectedInputs?.parameters ?? {}).map(([k, p]) => [k, p.var?.type]),
      );
    }
    const { workflow } = await client.getWorkflow({ id });
    return Object.fromEntries(
      Object.entries(workflow?.closure?.primary?.template?.interface?.inputs?.variables ?? {}).map(
        ([k, v]) => [k, v.type],
      ),
    );
  }
}
