/**
 * Pure schedule arithmetic: when a launch plan's schedule fires, which firings are due at a given
 * instant under its catch-up policy, and the execution name of a firing. No I/O and no clock of
 * its own: every function takes the instants it reasons about, so tests drive it with a fake
 * clock. Cron expressions are evaluated by croner (time zones, daylight-saving changes, seconds).
 */
import { boundedName, formatDuration } from "@flotilla/common";
import { Schedule_CatchUpPolicy, type Schedule } from "@flotilla/proto";
import { Cron } from "croner";
import { InvalidArgumentError } from "../errors.js";

/** Longest fixed rate (366 days), as the CLI's spec files allow. */
export const MAX_FIXED_RATE_MS = 366 * 24 * 3600 * 1000;
/** Most missed firings CATCH_UP_POLICY_ALL starts at once; 0 in the spec means {@link DEFAULT_MAX_CATCH_UP}. */
export const MAX_CATCH_UP_LIMIT = 1000;
/** The limit of CATCH_UP_POLICY_ALL when the spec leaves max_catch_up at 0. */
export const DEFAULT_MAX_CATCH_UP = 100;
/** How many upcoming cron firings are checked against the minimum interval at registration. */
const INTERVAL_CHECK_FIRINGS = 100;
/** Most firings counted one by one when deciding; beyond it the count is a lower bound. */
const MAX_ENUMERATED = 100_000;
/** Execution names are DNS labels of at most 20 characters (see ExecutionManager.create). */
const EXECUTION_NAME_MAX = 20;

/** The catch-up policies, as stored (the proto enum, UNSPECIFIED read as SKIP). */
export const CatchUp = {
  Skip: Schedule_CatchUpPolicy.SKIP,
  Last: Schedule_CatchUpPolicy.LAST,
  All: Schedule_CatchUpPolicy.ALL,
} as const;
/** One of {@link CatchUp}'s values. */
export type CatchUp = (typeof CatchUp)[keyof typeof CatchUp];

/**
 * The firing times of one schedule of one activated launch plan version: strictly after the
 * activation (`anchor`), whole seconds.
 */
export interface FiringSequence {
  /** The first firing strictly after `after`, or undefined when there is none. */
  next(after: Date): Date | undefined;
  /** Up to `n` firings in (`after`, `upTo`], latest first. */
  latest(n: number, after: Date, upTo: Date): Date[];
}

/** A validated schedule: its expression and its catch-up settings. */
export interface CompiledSchedule {
  /** Human-readable expression, e.g. `cron "0 9 * * *" (America/New_York)` or `every 1m`. */
  readonly describe: string;
  readonly catchUp: CatchUp;
  /** Most missed firings started at once under {@link CatchUp.All}. */
  readonly maxCatchUp: number;
  readonly kickoffInput: string;
  /** The firings of this schedule for a version activated at `activatedAt`. */
  firings(activatedAt: Date): FiringSequence;
}

/** Settings that bound what a schedule may ask for. */
export interface ScheduleLimits {
  /** Minimum time between consecutive firings (the admin's `scheduler.minInterval`). */
  minIntervalMs: number;
}

/**
 * Validates a launch plan's schedule and compiles it. Throws {@link InvalidArgumentError} naming
 * the field under `field` (e.g. `spec.schedule.cron_expression`): no expression, a cron
 * expression croner rejects or that fires more often than `limits.minIntervalMs`, an unknown
 * time zone, a fixed rate out of range or not whole seconds, bad catch-up settings.
 */
export function compileSchedule(
  schedule: Schedule,
  limits: ScheduleLimits,
  field = "spec.schedule",
): CompiledSchedule {
  const expr = schedule.scheduleExpression;
  const policy = schedule.catchUpPolicy || Schedule_CatchUpPolicy.SKIP;
  if (!Object.values(CatchUp).includes(policy)) {
    throw new InvalidArgumentError(`${field}.catch_up_policy`, `unknown policy ${policy}`);
  }
  if (schedule.maxCatchUp > MAX_CATCH_UP_LIMIT) {
    throw new InvalidArgumentError(`${field}.max_catch_up`, `at most ${MAX_CATCH_UP_LIMIT}`);
  }
  if (schedule.maxCatchUp !== 0 && policy !== Schedule_CatchUpPolicy.ALL) {
    throw new InvalidArgumentError(`${field}.max_catch_up`, "applies only to CATCH_UP_POLICY_ALL");
  }
  const common = {
    catchUp: policy,
    maxCatchUp: schedule.maxCatchUp || DEFAULT_MAX_CATCH_UP,
    kickoffInput: schedule.kickoffTimeInputArg,
  };
  if (expr.case === "cronExpression") {
    const cron = compileCron(expr.value, schedule.timeZone, `${field}.cron_expression`, `${field}.time_zone`);
    checkCronInterval(cron, limits.minIntervalMs, `${field}.cron_expression`);
    const zone = schedule.timeZone || "UTC";
    return {
      ...common,
      describe: `cron "${expr.value.trim()}" (${zone})`,
      firings: (activatedAt) => cronFirings(cron, activatedAt),
    };
  }
  if (expr.case === "fixedRate") {
    const f = `${field}.fixed_rate`;
    if (schedule.timeZone) {
      throw new InvalidArgumentError(`${field}.time_zone`, "applies only to cron_expression");
    }
    if (expr.value.nanos !== 0) throw new InvalidArgumentError(f, "must be whole seconds");
    const rateMs = Number(expr.value.seconds) * 1000;
    if (rateMs < limits.minIntervalMs) {
      throw new InvalidArgumentError(f, `must be at least ${formatDuration(limits.minIntervalMs)}`);
    }
    if (rateMs > MAX_FIXED_RATE_MS) throw new InvalidArgumentError(f, "must be at most 366 days");
    return {
      ...common,
      describe: `every ${formatDuration(rateMs)}`,
      firings: (activatedAt) => fixedRateFirings(rateMs, activatedAt),
    };
  }
  throw new InvalidArgumentError(field, "needs cron_expression or fixed_rate");
}

function compileCron(text: string, timeZone: string, field: string, zoneField: string): Cron {
  const expr = text.trim();
  if (!expr) throw new InvalidArgumentError(field, "is required");
  if (timeZone && !isTimeZone(timeZone)) {
    throw new InvalidArgumentError(zoneField, `${JSON.stringify(timeZone)} is not an IANA time zone`);
  }
  try {
    return new Cron(expr, { paused: true, timezone: timeZone || "UTC", mode: "5-or-6-parts" });
  } catch (err) {
    throw new InvalidArgumentError(
      field,
      `${JSON.stringify(expr)} is not a 5- or 6-field cron expression or macro: ${(err as Error).message}`,
    );
  }
}

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** Rejects an expression whose next firings come closer together than `minMs`. */
function checkCronInterval(cron: Cron, minMs: number, field: string): void {
  const runs = cron.nextRuns(INTERVAL_CHECK_FIRINGS, new Date(Date.UTC(2000, 0, 1)));
  if (runs.length === 0) throw new InvalidArgumentError(field, "never fires");
  for (let i = 1; i < runs.length; i++) {
    if (runs[i].getTime() - runs[i - 1].getTime() < minMs) {
      throw new InvalidArgumentError(
        field,
        `fires more often than every ${formatDuration(minMs)} (the admin's scheduler.minInterval)`,
      );
    }
  }
}

function cronFirings(cron: Cron, activatedAt: Date): FiringSequence {
  return {
    next(after) {
      const from = after < activatedAt ? activatedAt : after;
      return cron.nextRun(from) ?? undefined;
    },
    latest(n, after, upTo) {
      const floor = after < activatedAt ? activatedAt : after;
      if (n <= 0 || upTo <= floor) return [];
      // previousRuns is exclusive of its reference: start one millisecond past upTo.
      return cron
        .previousRuns(n, new Date(upTo.getTime() + 1))
        .filter((t) => t > floor && t <= upTo)
        .slice(0, n);
    },
  };
}

/** Firings every `rateMs` from the activation time rounded down to a whole second. */
function fixedRateFirings(rateMs: number, activatedAt: Date): FiringSequence {
  const anchor = Math.floor(activatedAt.getTime() / 1000) * 1000;
  const index = (t: number) => Math.floor((t - anchor) / rateMs);
  return {
    next(after) {
      const k = Math.max(1, index(after.getTime()) + 1);
      return new Date(anchor + k * rateMs);
    },
    latest(n, after, upTo) {
      const out: Date[] = [];
      const lowest = Math.max(1, index(after.getTime()) + 1);
      for (let k = index(upTo.getTime()); k >= lowest && out.length < n; k--) {
        out.push(new Date(anchor + k * rateMs));
      }
      return out;
    },
  };
}

/** What is due at one instant. */
export interface DueFirings {
  /** Firings to start now, oldest first. */
  fire: Date[];
  /** Missed firings the policy skips (a lower bound past 100,000). */
  skipped: number;
  /** The latest skipped firing, when the policy skipped any: handled up to there. */
  skippedThrough: Date | undefined;
}

/** Inputs of {@link dueFirings}. */
export interface DueFiringsInput {
  firings: FiringSequence;
  /** Handled up to here (the last firing started or skipped, or the activation time); exclusive. */
  since: Date;
  now: Date;
  /** A firing older than this when first seen is missed (the admin's `scheduler.lateAfter`). */
  lateAfterMs: number;
  catchUp: CatchUp;
  maxCatchUp: number;
  /** Most firings returned at once (the rest are due again next time). */
  maxFire: number;
}

/**
 * Decides which firings in (`since`, `now`] to start. A firing at most `lateAfterMs` old is on
 * time and always starts. Older ones were missed (no scheduler ran then) and follow the
 * catch-up policy:
 *
 * ```
 *   since ──── missed ──── now-lateAfter ──── on time ──── now
 *   SKIP: start none of the missed
 *   LAST: start the latest missed one
 *   ALL:  start the latest maxCatchUp missed ones
 * ```
 *
 * Skipped firings always precede started ones, so recording each started firing (or, when none
 * starts, `skippedThrough`) as handled never loses one. Pure.
 */
export function dueFirings(input: DueFiringsInput): DueFirings {
  const { firings, since, now } = input;
  // Missed: at or before lateBefore, i.e. more than lateAfterMs old.
  const lateBefore = new Date(now.getTime() - input.lateAfterMs - 1);
  let missed: Date[] = [];
  let missedCount = 0;
  if (since < lateBefore) {
    const keep = input.catchUp === CatchUp.All ? input.maxCatchUp : input.catchUp === CatchUp.Last ? 1 : 0;
    missed = firings.latest(keep, since, lateBefore).reverse();
    missedCount = countFirings(firings, since, lateBefore);
  }
  const onTime: Date[] = [];
  const onTimeFrom = since < lateBefore ? lateBefore : since;
  for (
    let t = firings.next(onTimeFrom);
    t !== undefined && t <= now && onTime.length + missed.length < input.maxFire;
    t = firings.next(t)
  ) {
    onTime.push(t);
  }
  const fire = [...missed, ...onTime].slice(0, input.maxFire);
  const skipped = Math.max(0, missedCount - missed.length);
  let skippedThrough: Date | undefined;
  if (skipped > 0) {
    // The latest skipped firing: just before the first started missed one, or the last missed.
    const before = missed[0] ?? new Date(lateBefore.getTime() + 1);
    skippedThrough = firings.latest(1, since, new Date(before.getTime() - 1))[0];
  }
  return { fire, skipped, skippedThrough };
}

function countFirings(firings: FiringSequence, after: Date, upTo: Date): number {
  let n = 0;
  for (let t = firings.next(after); t !== undefined && t <= upTo && n < MAX_ENUMERATED; t = firings.next(t))
    n++;
  return n;
}

/**
 * The execution name of a launch plan's firing at `scheduledAt`: the launch plan name and the
 * scheduled time (epoch seconds in base 36, 7 characters), made a DNS label of at most 20
 * characters by the shared `boundedName` (lowercased, a hash suffix of the whole when it had to
 * be shortened or changed). The same firing always gets the same name, so a retried or
 * concurrent firing finds the execution instead of creating a second one. Pure.
 */
export function scheduledExecutionName(launchPlanName: string, scheduledAt: Date): string {
  const seconds = Math.floor(scheduledAt.getTime() / 1000);
  return boundedName(`${launchPlanName}-${seconds.toString(36).padStart(7, "0")}`, EXECUTION_NAME_MAX);
}
