import { Flags } from "@oclif/core";
import { create } from "@bufbuild/protobuf";
import {
  ExecutionFilterSchema,
  ExecutionSchema,
  WorkflowExecution_Phase,
  type Execution,
} from "@flotilla/proto";
import { nameArg } from "../../args.js";
import { FlotctlCommand } from "../../base-command.js";
import { UsageError } from "../../errors.js";
import { labelFilterFlag, limitFlag, parseKeyValues } from "../../flags.js";
import { colorPhase, type Column } from "../../output/table.js";
import { durationToMs, formatDuration, formatTime, phaseName } from "../../output/format.js";
import { entityId, executionId, readPages } from "../../resources.js";
import { fetchExecutionView, withExecutionData } from "../../views/snapshot.js";
import { renderExecutionDetails } from "../../views/execution-text.js";

const PHASES = [
  "QUEUED",
  "RUNNING",
  "SUCCEEDING",
  "SUCCEEDED",
  "FAILING",
  "FAILED",
  "ABORTING",
  "ABORTED",
  "TIMED_OUT",
];

/** `flotctl get executions [NAME] [--details] [filters]`. */
export default class GetExecutions extends FlotctlCommand<typeof GetExecutions> {
  static override args = { name: nameArg("Execution") };
  static override flags = {
    details: Flags.boolean({
      summary: "With a name: show the node tree with phases, durations, attempts and errors.",
    }),
    phase: Flags.string({
      summary: "Only executions in this phase (repeatable).",
      multiple: true,
      options: PHASES,
    }),
    workflow: Flags.string({ summary: "Only executions of this workflow name." }),
    launchplan: Flags.string({ summary: "Only executions of this launch plan name." }),
    cluster: Flags.string({ summary: "Only executions placed on this cluster." }),
    label: labelFilterFlag("executions"),
    limit: limitFlag,
  };

  async run(): Promise<void> {
    const client = await this.client();
    const project = await this.project();
    const domain = await this.domain();
    if (this.args.name) {
      const id = executionId(project, domain, this.args.name);
      if (this.flags.details) {
        const view = await withExecutionData(client, id, await fetchExecutionView(client, id));
        await this.print({ data: view, table: () => renderExecutionDetails(view, this.color) });
        return;
      }
      const { execution } = await client.getExecution({ id });
      await this.print({
        data: await this.json(ExecutionSchema, execution!),
        table: () => this.table(executionColumns(this.color), [execution!]),
      });
      return;
    }
    if (this.flags.details) throw new UsageError("--details needs an execution name");
    const labels = parseKeyValues(this.flags.label, "label");
    const filter = create(ExecutionFilterSchema, {
      phases: (this.flags.phase ?? []).map(
        (p) => WorkflowExecution_Phase[p as keyof typeof WorkflowExecution_Phase],
      ),
      cluster: this.flags.cluster ?? "",
      labels,
    });
    if (this.flags.workflow) filter.workflow = entityId("Workflow", project, domain, this.flags.workflow, "");
    if (this.flags.launchplan)
      filter.launchPlan = entityId("LaunchPlan", project, domain, this.flags.launchplan, "");
    const executions = await readPages(
      this.flags.limit,
      (page) => client.listExecutions({ project, domain, filter, ...page }),
      (r) => r.executions,
    );
    await this.printList(ExecutionSchema, executions, executionColumns(this.color));
  }
}

/** The columns of the execution list; phases are coloured when `color`. */
function executionColumns(color: boolean): Column<Execution>[] {
  return [
    { header: "NAME", get: (e) => e.id?.name ?? "" },
    {
      header: "PHASE",
      get: (e) => colorPhase(phaseName(WorkflowExecution_Phase, e.closure?.phase ?? 0), color),
    },
    {
      header: "TARGET",
      get: (e) => {
        const t = e.spec?.target;
        return t?.value ? `${t.case === "launchPlan" ? "lp" : "wf"}/${t.value.name}:${t.value.version}` : "-";
      },
    },
    { header: "CLUSTER", get: (e) => e.closure?.cluster || "-" },
    { header: "CREATED", get: (e) => formatTime(e.closure?.createdAt) },
    { header: "DURATION", get: (e) => formatDuration(durationToMs(e.closure?.duration)) },
    { header: "MESSAGE", get: (e) => e.closure?.error?.code || e.closure?.message || "" },
  ];
}
