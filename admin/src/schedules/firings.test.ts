import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { isDnsLabel } from "@flotilla/common";
import { create } from "@bufbuild/protobuf";
import { ScheduleSchema, Schedule_CatchUpPolicy, type Schedule } from "@flotilla/proto";
import { InvalidArgumentError } from "../errors.js";
import {
  CatchUp,
  compileSchedule,
  dueFirings,
  scheduledExecutionName,
  type CompiledSchedule,
} from "./firings.js";

const MINUTE = 60_000;
type ScheduleExtras = Partial<
  Pick<Schedule, "timeZone" | "catchUpPolicy" | "maxCatchUp" | "kickoffTimeInputArg">
>;
const limits = { minIntervalMs: MINUTE };

function cron(expr: string, timeZone = "", extra: ScheduleExtras = {}): Schedule {
  return create(ScheduleSchema, {
    scheduleExpression: { case: "cronExpression", value: expr },
    timeZone,
    ...extra,
  });
}

function rate(seconds: number, extra: ScheduleExtras = {}): Schedule {
  return create(ScheduleSchema, {
    scheduleExpression: { case: "fixedRate", value: { seconds: BigInt(seconds), nanos: 0 } },
    ...extra,
  });
}

const iso = (dates: Date[]) => dates.map((d) => d.toISOString());

/**
 * A scheduler on a fake clock: ticks every `tickMs` from `start` to `end` (skipping ticks while
 * `down(now)`), starts what {@link dueFirings} says and records it as handled, like the real loop.
 */
function simulate(
  schedule: CompiledSchedule,
  opts: {
    activatedAt: Date;
    end: Date;
    tickMs: number;
    lateAfterMs: number;
    down?: (now: Date) => boolean;
  },
): { fired: Date[]; skipped: number } {
  const firings = schedule.firings(opts.activatedAt);
  let since = opts.activatedAt;
  const fired: Date[] = [];
  let skipped = 0;
  for (let now = opts.activatedAt.getTime(); now <= opts.end.getTime(); now += opts.tickMs) {
    const clock = new Date(now);
    if (opts.down?.(clock)) continue;
    const due = dueFirings({
      firings,
      since,
      now: clock,
      lateAfterMs: opts.lateAfterMs,
      catchUp: schedule.catchUp,
      maxCatchUp: schedule.maxCatchUp,
      maxFire: 1000,
    });
    skipped += due.skipped;
    if (due.skippedThrough) since = due.skippedThrough;
    for (const t of due.fire) {
      assert.ok(t > since, `fired ${t.toISOString()} at or before the handled ${since.toISOString()}`);
      fired.push(t);
      since = t;
    }
  }
  return { fired, skipped };
}

describe("cron schedules in a time zone", () => {
  const ny = "America/New_York";

  test("a daily 9:00 in New York moves from 14:00 to 13:00 UTC across the March change", () => {
    const s = compileSchedule(cron("0 9 * * *", ny), limits);
    const { fired } = simulate(s, {
      activatedAt: new Date("2026-03-06T12:00:00Z"),
      end: new Date("2026-03-10T00:00:00Z"),
      tickMs: 10 * MINUTE,
      lateAfterMs: MINUTE * 15,
    });
    assert.deepEqual(iso(fired), [
      "2026-03-06T14:00:00.000Z",
      "2026-03-07T14:00:00.000Z",
      "2026-03-08T13:00:00.000Z",
      "2026-03-09T13:00:00.000Z",
    ]);
  });

  test("a 2:30 that the spring-forward gap skips fires once, at 3:00 EDT", () => {
    const s = compileSchedule(cron("30 2 * * *", ny), limits);
    const { fired } = simulate(s, {
      activatedAt: new Date("2026-03-07T00:00:00Z"),
      end: new Date("2026-03-09T12:00:00Z"),
      tickMs: 5 * MINUTE,
      lateAfterMs: MINUTE * 10,
    });
    assert.deepEqual(iso(fired), [
      "2026-03-07T07:30:00.000Z", // 02:30 EST
      "2026-03-08T07:00:00.000Z", // 03:00 EDT: 02:30 did not exist
      "2026-03-09T06:30:00.000Z", // 02:30 EDT
    ]);
  });

  test("a 1:30 that the fall-back repeats fires once, at its first occurrence", () => {
    const s = compileSchedule(cron("30 1 * * *", ny), limits);
    const { fired } = simulate(s, {
      activatedAt: new Date("2026-10-31T12:00:00Z"),
      end: new Date("2026-11-02T12:00:00Z"),
      tickMs: 5 * MINUTE,
      lateAfterMs: MINUTE * 10,
    });
    assert.deepEqual(iso(fired), ["2026-11-01T05:30:00.000Z", "2026-11-02T06:30:00.000Z"]);
  });

  test("a half-hourly expression keeps firing every 30 real minutes through the repeated hour", () => {
    const s = compileSchedule(cron("*/30 * * * *", ny), limits);
    const { fired } = simulate(s, {
      activatedAt: new Date("2026-11-01T04:45:00Z"), // 00:45 EDT
      end: new Date("2026-11-01T07:10:00Z"), // 02:10 EST
      tickMs: MINUTE,
      lateAfterMs: MINUTE,
    });
    assert.deepEqual(iso(fired), [
      "2026-11-01T05:00:00.000Z", // 01:00 EDT
      "2026-11-01T05:30:00.000Z", // 01:30 EDT
      "2026-11-01T06:00:00.000Z", // 01:00 EST
      "2026-11-01T06:30:00.000Z", // 01:30 EST
      "2026-11-01T07:00:00.000Z", // 02:00 EST
    ]);
  });

  test("six fields fire every second when the minimum interval allows it", () => {
    const s = compileSchedule(cron("* * * * * *"), { minIntervalMs: 1000 });
    const { fired } = simulate(s, {
      activatedAt: new Date("2026-01-01T00:00:00.400Z"),
      end: new Date("2026-01-01T00:00:05.400Z"),
      tickMs: 250,
      lateAfterMs: 1000,
    });
    assert.deepEqual(iso(fired), [
      "2026-01-01T00:00:01.000Z",
      "2026-01-01T00:00:02.000Z",
      "2026-01-01T00:00:03.000Z",
      "2026-01-01T00:00:04.000Z",
      "2026-01-01T00:00:05.000Z",
    ]);
  });
});

describe("fixed rates", () => {
  test("fire every rate from the activation second, never at the activation itself", () => {
    const s = compileSchedule(rate(60), limits);
    const { fired } = simulate(s, {
      activatedAt: new Date("2026-01-01T10:00:30.750Z"),
      end: new Date("2026-01-01T10:03:45Z"),
      tickMs: 1000,
      lateAfterMs: MINUTE,
    });
    assert.deepEqual(iso(fired), [
      "2026-01-01T10:01:30.000Z",
      "2026-01-01T10:02:30.000Z",
      "2026-01-01T10:03:30.000Z",
    ]);
  });

  test("a late tick starts the firings it passed, in order", () => {
    const firings = compileSchedule(rate(60), limits).firings(new Date("2026-01-01T00:00:00Z"));
    const due = dueFirings({
      firings,
      since: new Date("2026-01-01T00:00:00Z"),
      now: new Date("2026-01-01T00:02:10Z"),
      lateAfterMs: 5 * MINUTE,
      catchUp: CatchUp.Skip,
      maxCatchUp: 100,
      maxFire: 1000,
    });
    assert.deepEqual(iso(due.fire), ["2026-01-01T00:01:00.000Z", "2026-01-01T00:02:00.000Z"]);
    assert.equal(due.skipped, 0);
  });
});

describe("catch-up after downtime", () => {
  // Every minute; handled up to 00:00; the scheduler comes back at 00:10:30 with lateAfter 1m:
  // 00:01..00:09 were missed (older than 00:09:30), 00:10 is on time.
  const activatedAt = new Date("2026-01-01T00:00:00Z");
  const now = new Date("2026-01-01T00:10:30Z");
  const at = (m: number) => `2026-01-01T00:${String(m).padStart(2, "0")}:00.000Z`;
  const decide = (catchUp: CatchUp, maxCatchUp = 100) =>
    dueFirings({
      firings: compileSchedule(rate(60), limits).firings(activatedAt),
      since: activatedAt,
      now,
      lateAfterMs: MINUTE,
      catchUp,
      maxCatchUp,
      maxFire: 1000,
    });

  test("skip: only the on-time firing starts; the missed ones are handled as skipped", () => {
    const due = decide(CatchUp.Skip);
    assert.deepEqual(iso(due.fire), [at(10)]);
    assert.equal(due.skipped, 9);
    assert.equal(due.skippedThrough?.toISOString(), at(9));
  });

  test("last: the latest missed firing starts too", () => {
    const due = decide(CatchUp.Last);
    assert.deepEqual(iso(due.fire), [at(9), at(10)]);
    assert.equal(due.skipped, 8);
    assert.equal(due.skippedThrough?.toISOString(), at(8));
  });

  test("all up to a limit: the latest missed firings start, the older ones are skipped", () => {
    const due = decide(CatchUp.All, 3);
    assert.deepEqual(iso(due.fire), [at(7), at(8), at(9), at(10)]);
    assert.equal(due.skipped, 6);
    assert.equal(due.skippedThrough?.toISOString(), at(6));
  });

  test("all within the limit: every missed firing starts", () => {
    const due = decide(CatchUp.All, 100);
    assert.deepEqual(iso(due.fire), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map(at));
    assert.equal(due.skipped, 0);
    assert.equal(due.skippedThrough, undefined);
  });

  test("a 15 s outage of an every-second schedule: each policy over the whole timeline", () => {
    const start = new Date("2026-01-01T00:00:00Z");
    const end = new Date("2026-01-01T00:00:30Z");
    const down = (t: Date) =>
      t.getTime() > start.getTime() + 10_000 && t.getTime() < start.getTime() + 25_000;
    const run = (catchUp: Schedule_CatchUpPolicy, maxCatchUp = 0) =>
      simulate(
        compileSchedule(cron("* * * * * *", "", { catchUpPolicy: catchUp, maxCatchUp }), {
          minIntervalMs: 1000,
        }),
        { activatedAt: start, end, tickMs: 500, lateAfterMs: 2000, down },
      );
    const seconds = (fired: Date[]) => fired.map((d) => (d.getTime() - start.getTime()) / 1000);
    const all = run(Schedule_CatchUpPolicy.ALL);
    assert.deepEqual(
      seconds(all.fired),
      Array.from({ length: 30 }, (_, i) => i + 1),
    );
    // Back at 25 s: 11..22 are older than 2 s (missed), 23..25 on time.
    const skip = run(Schedule_CatchUpPolicy.SKIP);
    assert.deepEqual(seconds(skip.fired), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 23, 24, 25, 26, 27, 28, 29, 30]);
    assert.equal(skip.skipped, 12);
    const last = run(Schedule_CatchUpPolicy.LAST);
    assert.deepEqual(
      seconds(last.fired),
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 22, 23, 24, 25, 26, 27, 28, 29, 30],
    );
    const limited = run(Schedule_CatchUpPolicy.ALL, 4);
    assert.deepEqual(
      seconds(limited.fired),
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30],
    );
    assert.equal(limited.skipped, 8);
  });
});

describe("scheduled execution names", () => {
  const t = new Date("2026-03-08T07:00:00Z");

  test("are DNS labels of at most 20 characters, the same for the same firing", () => {
    for (const name of ["nightly", "Nightly_Train.v2", "a-very-long-launch-plan-name-indeed"]) {
      const n = scheduledExecutionName(name, t);
      assert.ok(isDnsLabel(n, 20), `${n} is not a DNS label of at most 20 characters`);
      assert.equal(scheduledExecutionName(name, new Date(t.getTime() + 400)), n);
    }
    assert.equal(
      scheduledExecutionName("nightly", t),
      `nightly-${(t.getTime() / 1000).toString(36).padStart(7, "0")}`,
    );
  });

  test("differ per second and per launch plan, also when the names are shortened", () => {
    const names = new Set<string>();
    for (const lp of [
      "nightly",
      "NIGHTLY",
      "a-very-long-launch-plan-name-1",
      "a-very-long-launch-plan-name-2",
    ]) {
      for (let s = 0; s < 100; s++) names.add(scheduledExecutionName(lp, new Date(t.getTime() + s * 1000)));
    }
    assert.equal(names.size, 400);
  });
});

describe("schedule validation", () => {
  const rejects = (schedule: Schedule, field: string, pattern: RegExp, min = limits) =>
    assert.throws(
      () => compileSchedule(schedule, min),
      (err: unknown) =>
        err instanceof InvalidArgumentError && err.field === field && pattern.test(err.problem),
    );

  test("names the field of each problem", () => {
    rejects(cron("* * * *"), "spec.schedule.cron_expression", /5- or 6-field/);
    rejects(cron("* * * * * * *"), "spec.schedule.cron_expression", /5- or 6-field/);
    rejects(cron("* * * * * *"), "spec.schedule.cron_expression", /more often than every 1m/);
    rejects(cron("0 9 * * *", "Mars/Olympus"), "spec.schedule.time_zone", /not an IANA time zone/);
    rejects(rate(30), "spec.schedule.fixed_rate", /at least 1m/);
    rejects(rate(60, { timeZone: "UTC" }), "spec.schedule.time_zone", /only to cron/);
    rejects(
      create(ScheduleSchema, {
        scheduleExpression: { case: "fixedRate", value: { seconds: 60n, nanos: 5 } },
      }),
      "spec.schedule.fixed_rate",
      /whole seconds/,
    );
    rejects(rate(60, { maxCatchUp: 5 }), "spec.schedule.max_catch_up", /only to CATCH_UP_POLICY_ALL/);
    rejects(
      rate(60, { catchUpPolicy: Schedule_CatchUpPolicy.ALL, maxCatchUp: 5000 }),
      "spec.schedule.max_catch_up",
      /at most 1000/,
    );
    rejects(create(ScheduleSchema, {}), "spec.schedule", /needs cron_expression or fixed_rate/);
  });

  test("accepts macros, 5 and 6 fields and every-second rates within the minimum", () => {
    assert.equal(
      compileSchedule(cron("@daily", "Europe/Berlin"), limits).describe,
      'cron "@daily" (Europe/Berlin)',
    );
    assert.equal(compileSchedule(cron("*/5 * * * *"), limits).catchUp, CatchUp.Skip);
    assert.equal(compileSchedule(rate(1), { minIntervalMs: 1000 }).describe, "every 1s");
    const all = compileSchedule(rate(60, { catchUpPolicy: Schedule_CatchUpPolicy.ALL }), limits);
    assert.equal(all.maxCatchUp, 100);
  });
});
