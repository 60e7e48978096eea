import { ScheduleStatusSchema, type ScheduleStatus } from "@flotilla/proto";
import { nameArg } from "../../args.js";
import { FlotctlCommand } from "../../base-command.js";
import { limitFlag } from "../../flags.js";
import { formatCatchUp, formatSchedule, formatTime } from "../../output/format.js";
import type { Column } from "../../output/table.js";
import { readPages } from "../../resources.js";

/** The columns of the schedule list. */
const SCHEDULE_COLUMNS: Column<ScheduleStatus>[] = [
  { header: "LAUNCH PLAN", get: (s) => s.launchPlan?.name ?? "" },
  { header: "VERSION", get: (s) => s.launchPlan?.version ?? "" },
  { header: "SCHEDULE", get: (s) => formatSchedule(s.schedule) },
  { header: "CATCH-UP", get: (s) => formatCatchUp(s.schedule) },
  { header: "NEXT", get: (s) => formatTime(s.nextFireAt) },
  { header: "LAST", get: (s) => formatTime(s.lastFireAt) },
  { header: "LAST EXECUTION", get: (s) => s.lastExecution?.name || "-" },
  { header: "ERROR", get: (s) => s.lastError || "-" },
];

/** `flotctl get schedules [NAME]`: the schedules of active launch plans, next and last firing. */
export default class GetSchedules extends FlotctlCommand<typeof GetSchedules> {
  static override args = { name: nameArg("Launch plan") };
  static override flags = { limit: limitFlag };

  async run(): Promise<void> {
    const project = await this.project();
    const domain = await this.domain();
    const client = await this.client();
    const schedules = await readPages(
      this.flags.limit,
      (page) => client.listSchedules({ project, domain, name: this.args.name ?? "", ...page }),
      (r) => r.schedules,
    );
    await this.printList(ScheduleStatusSchema, schedules, SCHEDULE_COLUMNS);
  }
}
