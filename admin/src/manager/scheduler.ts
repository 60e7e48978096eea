import { create, fromBinary } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { primitiveLiteral, type Logger } from "@flotilla/common";
import { Code } from "@connectrpc/connect";
import {
  ExecutionMetadataSchema,
  ExecutionMetadata_Mode,
  ExecutionSpecSchema,
  IdentifierSchema,
  LaunchPlanSpecSchema,
  LiteralMapSchema,
  ResourceType,
  type ExecutionSpec,
} from "@flotilla/proto";
import { AdminError, AlreadyExistsError } from "../errors.js";
import type { AdminMetrics } from "../metrics.js";
import type { ScheduleRepository, ScheduleRow } from "../repository/schedule-repository.js";
import { dueFirings, scheduledExecutionName, type CompiledSchedule } from "../schedules/firings.js";
import type { ExecutionManager } from "./execution-manager.js";
import type { ScheduleManager } from "./schedule-manager.js";

/** Principal recorded on scheduled executions. */
export const SCHEDULER_PRINCIPAL = "flotilla:scheduler";

/** Who may fire: true while this replica holds the scheduler lock. */
export interface SchedulerLeadership {
  readonly leading: boolean;
}

/** Settings of {@link Scheduler}. */
export interface SchedulerOptions {
  /** How often the leader looks for due firings. */
  tickMs: number;
  /** A firing older than this when first seen was missed and follows the catch-up policy. */
  lateAfterMs: number;
  /** Most firings one schedule starts per tick (the rest are due again on the next). */
  maxFirePerTick: number;
  now: () => Date;
}

/** Dependencies of {@link Scheduler}. */
export interface SchedulerDeps {
  repo: ScheduleRepository;
  schedules: ScheduleManager;
  executions: ExecutionManager;
  /** The scheduler lock; the loop fires only while it is held. */
  leadership: SchedulerLeadership;
  logger: Logger;
  metrics?: AdminMetrics;
}

/** What one {@link Scheduler.tick} did, summed over every schedule. */
export interface TickResult {
  /** Executions created, and firings whose execution already existed (fired before). */
  started: number;
  alreadyStarted: number;
  skipped: number;
  failed: number;
}

// Codes of errors that will not go away by retrying the same firing: record it and move on.
const PERMANENT = new Set([Code.InvalidArgument, Code.NotFound, Code.FailedPrecondition]);

/**
 * Fires the schedules of active launch plans. Runs in every admin replica; only the one holding
 * the scheduler lock (`leadership`, a PostgreSQL advisory lock) fires. Each tick, per schedule:
 *
 * ```
 *  read state (activated_at, last handled firing) ─▶ dueFirings(now, catch-up policy)
 *    ├─ skipped (missed, policy says skip) ─▶ record handled through the latest skipped
 *    └─ each firing to start, oldest first ─▶ CreateExecution(name = f(launch plan, time))
 *          ├─ created, or already there (same name) ─▶ record handled through this firing
 *          ├─ permanent error (invalid, not found, precondition) ─▶ record error, handled
 *          └─ other error ─▶ record error, stop this schedule until the next tick (retried)
 * ```
 *
 * The execution name is a function of the launch plan name and the scheduled time, so a firing
 * retried after a crash, or fired by a replica that lost the lock a moment ago, finds its
 * execution instead of creating a second one; the state row only says how far firing got.
 */
export class Scheduler {
  private loop: Promise<void> | undefined;
  private stopped = false;
  private wake: (() => void) | undefined;

  constructor(
    private readonly deps: SchedulerDeps,
    private readonly options: SchedulerOptions,
  ) {}

  /** Starts the loop in the background. Idempotent. */
  start(): void {
    this.loop ??= this.run();
  }

  /** Stops the loop; resolves once a tick in progress has finished. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      if (this.deps.leadership.leading) {
        try {
          await this.tick();
        } catch (err) {
          this.deps.logger.warn("scheduler tick failed", { error: (err as Error).message });
        }
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.options.tickMs);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /**
   * One pass over every active schedule: starts what is due at `now()` (see the class comment).
   * Public so tests drive it on a fake clock. Returns what it did.
   */
  async tick(): Promise<TickResult> {
    const result: TickResult = { started: 0, alreadyStarted: 0, skipped: 0, failed: 0 };
    for (const row of await this.deps.repo.listActive()) {
      if (this.stopped || !this.deps.leadership.leading) break;
      const spec = fromBinary(LaunchPlanSpecSchema, row.spec);
      const schedule = this.deps.schedules.compileStored(spec);
      if (!schedule) {
        // The active version has no (usable) schedule: nothing to fire for it.
        await this.deps.repo.remove(row);
        continue;
      }
      await this.fireSchedule(row, schedule, result);
    }
    return result;
  }

  private async fireSchedule(
    row: ScheduleRow,
    schedule: CompiledSchedule,
    result: TickResult,
  ): Promise<void> {
    const now = this.options.now();
    const due = dueFirings({
      firings: schedule.firings(row.activatedAt),
      since: row.lastFireAt ?? row.activatedAt,
      now,
      lateAfterMs: this.options.lateAfterMs,
      catchUp: schedule.catchUp,
      maxCatchUp: schedule.maxCatchUp,
      maxFire: this.options.maxFirePerTick,
    });
    const labels = { project: row.project, domain: row.domain };
    if (due.skippedThrough) {
      await this.deps.repo.recordSkipped(row, due.skippedThrough, due.skipped);
      result.skipped += due.skipped;
      this.deps.metrics?.scheduleFirings.inc({ ...labels, outcome: "skipped" }, due.skipped);
      this.deps.logger.info("missed firings skipped", {
        launchPlan: `${row.project}/${row.domain}/${row.name}`,
        skipped: due.skipped,
        through: due.skippedThrough.toISOString(),
      });
    }
    for (const at of due.fire) {
      const name = scheduledExecutionName(row.name, at);
      try {
        const created = await this.deps.executions.create(
          row.project,
          row.domain,
          name,
          this.executionSpec(row, schedule, at),
        );
        if (created.alreadyExisted) result.alreadyStarted++;
        else result.started++;
        this.deps.metrics?.scheduleFirings.inc({
          ...labels,
          outcome: created.alreadyExisted ? "existing" : "started",
        });
        this.deps.metrics?.scheduleLateness.observe(labels, Math.max(0, now.getTime() - at.getTime()) / 1000);
        await this.deps.repo.recordFired(row, at, name);
      } catch (err) {
        if (err instanceof AlreadyExistsError) {
          // An execution of that name with another spec (started by hand, or by a version that
          // was active before): the firing has its execution.
          result.alreadyStarted++;
          this.deps.metrics?.scheduleFirings.inc({ ...labels, outcome: "existing" });
          await this.deps.repo.recordFired(row, at, name);
          continue;
        }
        result.failed++;
        this.deps.metrics?.scheduleFirings.inc({ ...labels, outcome: "failed" });
        const message = `firing ${at.toISOString()} (execution ${name}): ${(err as Error).message}`;
        this.deps.logger.warn("scheduled execution not started", {
          launchPlan: `${row.project}/${row.domain}/${row.name}`,
          error: message,
        });
        await this.deps.repo.recordError(row, message);
        if (err instanceof AdminError && PERMANENT.has(err.code)) {
          // Retrying the same firing would fail the same way: it is handled, as skipped.
          await this.deps.repo.recordSkipped(row, at, 1);
          continue;
        }
        return;
      }
    }
  }

  /** The spec of the execution of one firing: a function of the firing only, so retries match. */
  private executionSpec(row: ScheduleRow, schedule: CompiledSchedule, at: Date): ExecutionSpec {
    const kickoff = schedule.kickoffInput;
    return create(ExecutionSpecSchema, {
      target: {
        case: "launchPlan",
        value: create(IdentifierSchema, {
          resourceType: ResourceType.LAUNCH_PLAN,
          project: row.project,
          domain: row.domain,
          name: row.name,
          version: row.version,
        }),
      },
      inputs: create(LiteralMapSchema, {
        literals: kickoff
          ? { [kickoff]: primitiveLiteral({ case: "datetime", value: timestampFromDate(at) }) }
          : {},
      }),
      metadata: create(ExecutionMetadataSchema, {
        mode: ExecutionMetadata_Mode.SCHEDULED,
        principal: SCHEDULER_PRINCIPAL,
        scheduledAt: timestampFromDate(at),
      }),
    });
  }
}
