// Schedules through the real AdminService (in-memory router transport) on a fake clock:
// validation at registration, activation of one version, firings as executions with derived
// names and the kickoff time bound, no second execution for a retried or concurrent firing,
// catch-up after downtime, and ListSchedules.
import assert from "node:assert/strict";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { primitiveLiteral } from "@flotilla/common";
import { Code, ConnectError, createClient, createRouterTransport, type Client } from "@connectrpc/connect";
import {
  AdminService,
  ExecutionMetadata_Mode,
  LaunchPlan_State,
  ResourceType,
  Schedule_CatchUpPolicy,
  SimpleType,
  type LaunchPlanSpecSchema,
} from "@flotilla/proto";
import { eachDatabase, eventually, type DatabaseTestContext } from "@flotilla/testing";
import { it } from "node:test";
import { ADMIN_MIGRATIONS_DIR } from "../admin.js";
import { silentLogger } from "../logger.js";
import { rpcInterceptor } from "../rpc/errors.js";
import { scheduledExecutionName } from "../schedules/firings.js";
import {
  DOMAIN,
  INTEGER,
  PROJECT,
  aTask,
  aWorkflow,
  fromInput,
  idOf,
  int,
  simple,
} from "../testing/builders.js";
import { testAdmin } from "../testing/harness.js";

const DATETIME = simple(SimpleType.DATETIME);
const EPOCH = primitiveLiteral({ case: "datetime", value: timestampFromDate(new Date(0)) });

/** A clock the test moves by hand. */
class FakeClock {
  constructor(private t: Date) {}
  now = () => new Date(this.t);
  set(iso: string): void {
    this.t = new Date(iso);
  }
  advance(ms: number): void {
    this.t = new Date(this.t.getTime() + ms);
  }
}

type T = { after(fn: () => unknown): unknown };

async function setup(ctx: DatabaseTestContext, t: T, clock: FakeClock, registerProject = true) {
  const { admin } = await testAdmin(ctx.db(), t, {
    now: clock.now,
    config: { scheduler: { enabled: false, minInterval: "1s", lateAfter: "1m" } },
    registerProject,
  });
  const transport = createRouterTransport((router) => router.service(AdminService, admin.service), {
    router: { interceptors: [rpcInterceptor(admin.metrics, silentLogger)] },
  });
  return { c: createClient(AdminService, transport), admin };
}

/** Task "double", workflow "wf" with inputs n (integer) and at (datetime). */
async function registerWorkflow(c: Client<typeof AdminService>) {
  await c.createTask({ template: aTask("double").withInput("x", INTEGER).withOutput("y", INTEGER).build() });
  await c.createWorkflow({
    template: aWorkflow("wf")
      .withInput("n", INTEGER)
      .withInput("at", DATETIME)
      .withNode("a", "double")
      .binding("x", fromInput("n"))
      .build(),
  });
}

type SpecInit = Exclude<MessageInitShape<typeof LaunchPlanSpecSchema>, { $typeName: string }>;

function scheduledSpec(schedule: SpecInit["schedule"], extra: Partial<SpecInit> = {}): SpecInit {
  return {
    workflowId: idOf(ResourceType.WORKFLOW, "wf"),
    defaultInputs: {
      parameters: {
        n: { var: { type: INTEGER }, behavior: { case: "default", value: int(1) } },
        at: { var: { type: DATETIME }, behavior: { case: "default", value: EPOCH } },
      },
    },
    schedule,
    ...extra,
  };
}

const lpId = (name: string, version = "v1") => idOf(ResourceType.LAUNCH_PLAN, name, version);

async function rejected(p: Promise<unknown>): Promise<{ code: Code; message: string }> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ConnectError, `expected a ConnectError, got ${String(err)}`);
    return { code: err.code, message: err.rawMessage };
  }
  assert.fail("the call unexpectedly succeeded");
}

async function executionsOf(c: Client<typeof AdminService>, launchPlan: string) {
  const { executions } = await c.listExecutions({
    project: PROJECT,
    domain: DOMAIN,
    pageSize: 1000,
    filter: { launchPlan: { name: launchPlan } },
  });
  return executions
    .map((e) => ({
      name: e.id!.name,
      version: e.spec?.target.case === "launchPlan" ? e.spec.target.value.version : "",
      mode: e.spec?.metadata?.mode,
      scheduledAt: e.spec?.metadata?.scheduledAt
        ? timestampDate(e.spec.metadata.scheduledAt).toISOString()
        : "",
    }))
    .sort((a, b) => a.scheduledAt.localeCompare(b.scheduledAt));
}

async function activate(c: Client<typeof AdminService>, name: string, version = "v1") {
  return c.updateLaunchPlan({ id: lpId(name, version), state: LaunchPlan_State.ACTIVE });
}

eachDatabase("schedules", { migrations: ADMIN_MIGRATIONS_DIR }, (ctx) => {
  it("a schedule that cannot fire unattended is rejected at registration, naming the field", async (t) => {
    const clock = new FakeClock(new Date("2026-03-01T00:00:00Z"));
    const { c } = await setup(ctx, t, clock);
    await registerWorkflow(c);
    const cases: [SpecInit, string, RegExp][] = [
      [
        scheduledSpec({ scheduleExpression: { case: "cronExpression", value: "61 * * * *" } }),
        "spec.schedule.cron_expression",
        /cron/,
      ],
      [
        scheduledSpec({
          scheduleExpression: { case: "cronExpression", value: "* * * * * *" },
          timeZone: "Nowhere/City",
        }),
        "spec.schedule.time_zone",
        /IANA/,
      ],
      [
        scheduledSpec({ scheduleExpression: { case: "fixedRate", value: { seconds: 0n } } }),
        "spec.schedule.fixed_rate",
        /at least 1s/,
      ],
      [
        scheduledSpec({
          scheduleExpression: { case: "fixedRate", value: { seconds: 60n } },
          kickoffTimeInputArg: "n",
        }),
        "spec.schedule.kickoff_time_input_arg",
        /DATETIME/,
      ],
      [
        scheduledSpec(
          { scheduleExpression: { case: "fixedRate", value: { seconds: 60n } }, kickoffTimeInputArg: "at" },
          { defaultInputs: {} },
        ),
        "spec.schedule",
        /input "n" is required/,
      ],
    ];
    for (const [i, [spec, field, pattern]] of cases.entries()) {
      const err = await rejected(c.createLaunchPlan({ id: lpId(`bad-${i}`), spec }));
      assert.equal(err.code, Code.InvalidArgument, err.message);
      assert.ok(err.message.startsWith(`${field}:`), `${err.message} does not name ${field}`);
      assert.match(err.message, pattern);
    }
    const listed = await c.listLaunchPlans({ id: { project: PROJECT, domain: DOMAIN } });
    assert.equal(listed.launchPlans.length, 0, "nothing was stored");
  });

  it("only the active version fires, once per firing, with the kickoff time bound", async (t) => {
    const clock = new FakeClock(new Date("2026-03-08T06:52:30Z")); // 01:52:30 EST, before the change
    const { c, admin } = await setup(ctx, t, clock);
    await registerWorkflow(c);
    // Every 30 minutes in New York: 02:00 and 02:30 EST do not exist on 2026-03-08.
    await c.createLaunchPlan({
      id: lpId("nightly"),
      spec: scheduledSpec({
        scheduleExpression: { case: "cronExpression", value: "0,30 * * * *" },
        timeZone: "America/New_York",
        kickoffTimeInputArg: "at",
      }),
    });
    await c.createLaunchPlan({
      id: lpId("nightly", "v2"),
      spec: scheduledSpec({ scheduleExpression: { case: "fixedRate", value: { seconds: 600n } } }),
    });
    // Inactive: nothing fires.
    clock.advance(60 * 60_000);
    assert.deepEqual(await admin.scheduler.tick(), { started: 0, alreadyStarted: 0, skipped: 0, failed: 0 });

    clock.set("2026-03-08T06:52:30Z");
    await activate(c, "nightly");
    const { schedules: before } = await c.listSchedules({ project: PROJECT, domain: DOMAIN });
    assert.equal(before.length, 1);
    assert.equal(timestampDate(before[0].nextFireAt!).toISOString(), "2026-03-08T07:00:00.000Z"); // 03:00 EDT
    assert.equal(before[0].lastFireAt, undefined);

    for (let i = 0; i < 45; i++) {
      clock.advance(60_000);
      await admin.scheduler.tick();
    }
    const v1 = await executionsOf(c, "nightly");
    assert.deepEqual(
      v1.map((e) => e.scheduledAt),
      ["2026-03-08T07:00:00.000Z", "2026-03-08T07:30:00.000Z"],
    );
    for (const e of v1) {
      assert.equal(e.name, scheduledExecutionName("nightly", new Date(e.scheduledAt)));
      assert.equal(e.mode, ExecutionMetadata_Mode.SCHEDULED);
      assert.equal(e.version, "v1");
      const { data } = await c.getExecutionData({ id: { project: PROJECT, domain: DOMAIN, name: e.name } });
      const at = data?.fullInputs?.literals.at;
      assert.ok(at?.value.case === "scalar" && at.value.value.value.case === "primitive");
      const primitive = at.value.value.value.value.value;
      assert.equal(primitive.case, "datetime");
      assert.equal(timestampDate(primitive.value).toISOString(), e.scheduledAt);
    }
    const { schedules: after } = await c.listSchedules({ project: PROJECT, domain: DOMAIN, name: "nightly" });
    assert.equal(timestampDate(after[0].lastFireAt!).toISOString(), "2026-03-08T07:30:00.000Z");
    assert.equal(after[0].lastExecution?.name, v1[1].name);
    assert.equal(timestampDate(after[0].nextFireAt!).toISOString(), "2026-03-08T08:00:00.000Z");

    // Activating v2 deactivates v1: from now on only v2's 10-minute rate fires, from its activation.
    const activatedAt = clock.now(); // 07:37:30
    const v2 = await activate(c, "nightly", "v2");
    assert.equal(v2.launchPlan?.state, LaunchPlan_State.ACTIVE);
    const v1Now = await c.getLaunchPlan({ id: lpId("nightly") });
    assert.equal(v1Now.launchPlan?.state, LaunchPlan_State.INACTIVE);
    for (let i = 0; i < 25; i++) {
      clock.advance(60_000);
      await admin.scheduler.tick();
    }
    const all = await executionsOf(c, "nightly");
    assert.deepEqual(
      all.filter((e) => e.version === "v2").map((e) => e.scheduledAt),
      [10, 20].map((m) => new Date(activatedAt.getTime() + m * 60_000).toISOString()),
    );
    assert.equal(all.filter((e) => e.version === "v1").length, 2, "v1 fired no more once v2 was active");

    // Deactivated: nothing fires, nothing is listed.
    await c.updateLaunchPlan({ id: lpId("nightly", "v2"), state: LaunchPlan_State.INACTIVE });
    clock.advance(60 * 60_000);
    assert.equal((await admin.scheduler.tick()).started, 0);
    assert.equal((await c.listSchedules({ project: PROJECT, domain: DOMAIN })).schedules.length, 0);

    // Re-activating v2 starts it afresh; activating a version without a schedule ends it.
    await activate(c, "nightly", "v2");
    assert.equal((await c.listSchedules({ project: PROJECT, domain: DOMAIN })).schedules.length, 1);
    await c.createLaunchPlan({ id: lpId("nightly", "v3"), spec: scheduledSpec(undefined) });
    await activate(c, "nightly", "v3");
    clock.advance(60 * 60_000);
    assert.equal((await admin.scheduler.tick()).started, 0);
    assert.equal((await c.listSchedules({ project: PROJECT, domain: DOMAIN })).schedules.length, 0);
    const { rows } = await ctx.db().query("SELECT count(*)::int AS n FROM schedule_states");
    assert.equal(rows[0]?.n, 0, "no schedule state is left behind");
  });

  it("a firing retried after a crash, or by a second replica, finds its execution", async (t) => {
    const clock = new FakeClock(new Date("2026-01-01T00:00:00Z"));
    const { c, admin } = await setup(ctx, t, clock);
    const { admin: second } = await setup(ctx, t, clock, false);
    await registerWorkflow(c);
    await c.createLaunchPlan({
      id: lpId("every-second"),
      spec: scheduledSpec({ scheduleExpression: { case: "fixedRate", value: { seconds: 1n } } }),
    });
    await activate(c, "every-second");
    clock.advance(5_000);
    // Both replicas tick at once (a lock holder that lost its lock a moment ago, and the new one).
    const [a, b] = await Promise.all([admin.scheduler.tick(), second.scheduler.tick()]);
    assert.equal(a.started + b.started, 5);
    assert.equal(a.failed + b.failed, 0);
    // A crash before the firing was recorded: the state goes back, the retry creates nothing new.
    await ctx.db().query("UPDATE schedule_states SET last_fire_at = NULL");
    const retry = await second.scheduler.tick();
    assert.deepEqual(retry, { started: 0, alreadyStarted: 5, skipped: 0, failed: 0 });
    const names = (await executionsOf(c, "every-second")).map((e) => e.name);
    assert.equal(names.length, 5);
    assert.equal(new Set(names).size, 5);
  });

  it("after downtime the catch-up policy decides which missed firings start", async (t) => {
    const clock = new FakeClock(new Date("2026-01-01T00:00:00Z"));
    const { c, admin } = await setup(ctx, t, clock);
    await registerWorkflow(c);
    const policies: [string, Schedule_CatchUpPolicy, number][] = [
      ["skip", Schedule_CatchUpPolicy.SKIP, 0],
      ["last", Schedule_CatchUpPolicy.LAST, 0],
      ["all", Schedule_CatchUpPolicy.ALL, 3],
    ];
    for (const [name, catchUpPolicy, maxCatchUp] of policies) {
      await c.createLaunchPlan({
        id: lpId(name),
        spec: scheduledSpec({
          scheduleExpression: { case: "cronExpression", value: "* * * * *" },
          catchUpPolicy,
          maxCatchUp,
        }),
      });
      await activate(c, name);
    }
    // Down from 00:00 to 00:10:30 (lateAfter 1m): 00:01-00:09 missed, 00:10 on time.
    clock.set("2026-01-01T00:10:30Z");
    await admin.scheduler.tick();
    const minutes = async (lp: string) =>
      (await executionsOf(c, lp)).map((e) => new Date(e.scheduledAt).getUTCMinutes());
    assert.deepEqual(await minutes("skip"), [10]);
    assert.deepEqual(await minutes("last"), [9, 10]);
    assert.deepEqual(await minutes("all"), [7, 8, 9, 10]);
    const { schedules } = await c.listSchedules({ project: PROJECT, domain: DOMAIN });
    assert.deepEqual(
      schedules.map((s) => [s.launchPlan?.name, Number(s.skippedFirings)]),
      [
        ["all", 6],
        ["last", 8],
        ["skip", 9],
      ],
    );
  });
  it("a started admin fires on its own: the scheduler lock on PostgreSQL, the one process on PGlite", async (t) => {
    const { admin } = await testAdmin(ctx.db(), t, {
      config: { scheduler: { tick: "100ms", minInterval: "1s" } },
    });
    t.after(() => admin.stop());
    const transport = createRouterTransport((router) => router.service(AdminService, admin.service));
    const c = createClient(AdminService, transport);
    await registerWorkflow(c);
    await c.createLaunchPlan({
      id: lpId("often"),
      spec: scheduledSpec({ scheduleExpression: { case: "fixedRate", value: { seconds: 1n } } }),
    });
    await activate(c, "often");
    await admin.start();
    await eventually(async () => {
      const fired = await executionsOf(c, "often");
      assert.ok(fired.length >= 2, `${fired.length} firings so far`);
      assert.equal(new Set(fired.map((e) => e.scheduledAt)).size, fired.length);
    });
    assert.match(await admin.metrics.registry.metrics(), /^flotilla_admin_scheduler_leader 1$/m);
  });
});
