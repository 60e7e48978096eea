import { create, fromBinary } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { Queryable } from "@flotilla/db";
import {
  IdentifierSchema,
  LaunchPlanSpecSchema,
  LaunchPlan_State,
  ResourceType,
  ScheduleStatusSchema,
  SimpleType,
  WorkflowExecutionIdentifierSchema,
  type LaunchPlanSpec,
  type ParameterMap,
  type ScheduleStatus,
} from "@flotilla/proto";
import { InvalidArgumentError } from "../errors.js";
import type { LaunchPlanRow } from "../repository/registry-repository.js";
import type { ScheduleRepository, ScheduleRow } from "../repository/schedule-repository.js";
import type { Page, PageRequest } from "../repository/sql.js";
import { compileSchedule, type CompiledSchedule, type ScheduleLimits } from "../schedules/firings.js";
import { requireDnsLabel, requireEntityName } from "./validation.js";

/** Settings of {@link ScheduleManager}. */
export interface ScheduleManagerOptions extends ScheduleLimits {
  /** The clock activations are stamped with. */
  now: () => Date;
}

/**
 * Rules for schedules: what a launch plan's schedule may be (checked at registration), when it
 * starts (activation of its version) and stops (deactivation), and where each one stands.
 */
export class ScheduleManager {
  constructor(
    private readonly repo: ScheduleRepository,
    private readonly options: ScheduleManagerOptions,
  ) {}

  /**
   * Checks the schedule of a launch plan being registered: the expression (see
   * `compileSchedule`), and that the launch plan can start without a caller: the kickoff input,
   * when named, is an expected DATETIME input, and every other expected input has a default.
   * Throws InvalidArgumentError naming the field. No-op without a schedule.
   */
  validate(spec: LaunchPlanSpec, expected: ParameterMap): void {
    const schedule = spec.schedule;
    if (!schedule) return;
    compileSchedule(schedule, this.options);
    const kickoff = schedule.kickoffTimeInputArg;
    if (kickoff) {
      const param = expected.parameters[kickoff];
      const type = param?.var?.type?.type;
      if (!param || type?.case !== "simple" || type.value !== SimpleType.DATETIME) {
        throw new InvalidArgumentError(
          "spec.schedule.kickoff_time_input_arg",
          `"${kickoff}" must name a DATETIME input of the workflow that is not fixed`,
        );
      }
    }
    for (const [name, param] of Object.entries(expected.parameters)) {
      if (name !== kickoff && param.behavior.case === "required") {
        throw new InvalidArgumentError(
          "spec.schedule",
          `input "${name}" is required: a scheduled launch plan needs a default or fixed value for every input but the kickoff time`,
        );
      }
    }
  }

  /**
   * Starts or stops the schedule of a launch plan version whose state just changed, inside the
   * transaction `tx` that changed it: activating a scheduled version starts its schedule now
   * (replacing the previous version's), deactivating stops it.
   */
  async stateChanged(tx: Queryable, row: LaunchPlanRow): Promise<void> {
    if ((row.state as LaunchPlan_State) === LaunchPlan_State.ACTIVE) {
      const spec = fromBinary(LaunchPlanSpecSchema, row.body);
      // A version without a schedule ends the schedule of the version it replaced.
      if (spec.schedule) await this.repo.activate(tx, row, this.options.now());
      else await this.repo.clear(tx, row);
    } else {
      await this.repo.deactivate(tx, row);
    }
  }

  /**
   * Lists the schedules of the active launch plans of a project/domain (or of one name), each
   * with its next firing from now and its last handled firing.
   */
  async list(
    project: string,
    domain: string,
    name: string,
    page: PageRequest,
  ): Promise<Page<ScheduleStatus>> {
    requireDnsLabel("project", project);
    requireDnsLabel("domain", domain);
    if (name) requireEntityName("name", name);
    const res = await this.repo.list({ project, domain, ...(name ? { name } : {}) }, page);
    const now = this.options.now();
    const items: ScheduleStatus[] = [];
    for (const row of res.items) {
      const status = this.status(row, now);
      if (status) items.push(status);
    }
    return { items, nextPageToken: res.nextPageToken };
  }

  private status(row: ScheduleRow, now: Date): ScheduleStatus | undefined {
    const spec = fromBinary(LaunchPlanSpecSchema, row.spec);
    const compiled = this.compileStored(spec);
    if (!spec.schedule || !compiled) return undefined;
    const handled = row.lastFireAt ?? row.activatedAt;
    const next = compiled.firings(row.activatedAt).next(handled < now ? handled : now);
    return create(ScheduleStatusSchema, {
      launchPlan: create(IdentifierSchema, {
        resourceType: ResourceType.LAUNCH_PLAN,
        project: row.project,
        domain: row.domain,
        name: row.name,
        version: row.version,
      }),
      schedule: spec.schedule,
      activatedAt: timestampFromDate(row.activatedAt),
      ...(next ? { nextFireAt: timestampFromDate(next) } : {}),
      ...(row.lastFireAt ? { lastFireAt: timestampFromDate(row.lastFireAt) } : {}),
      ...(row.lastExecution
        ? {
            lastExecution: create(WorkflowExecutionIdentifierSchema, {
              project: row.project,
              domain: row.domain,
              name: row.lastExecution,
            }),
          }
        : {}),
      lastError: row.lastError,
      skippedFirings: BigInt(row.skippedFirings),
    });
  }

  /**
   * Compiles a stored schedule, or undefined when there is none or it no longer parses. One
   * registered under looser limits (a larger `scheduler.minInterval` since) still runs.
   */
  compileStored(spec: LaunchPlanSpec): CompiledSchedule | undefined {
    if (!spec.schedule) return undefined;
    try {
      return compileSchedule(spec.schedule, { minIntervalMs: 0 });
    } catch (err) {
      if (err instanceof InvalidArgumentError) return undefined;
      throw err;
    }
  }
}
