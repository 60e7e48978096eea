// Notifications end to end inside the admin: channel checks at CreateLaunchPlan/CreateExecution,
// the outbox written with the terminal phase change (IngestEvents, TerminateExecution), and the
// dispatcher delivering it through a real listening admin to an HTTP receiver on 127.0.0.1.
import assert from "node:assert/strict";
import { it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import type { Database } from "@flotilla/db";
import {
  AdminService,
  NotificationMessage_State as S,
  NotificationSchema,
  ProjectSchema,
  ResourceType,
  WorkflowExecution_Phase as W,
  type Notification,
} from "@flotilla/proto";
import { eachDatabase, eventually, startHttpRecorder, tempDir, type HttpRecorder } from "@flotilla/testing";
import { ADMIN_MIGRATIONS_DIR, startAdmin } from "../admin.js";
import { resolveAdminConfig } from "../config.js";
import { silentLogger } from "../logger.js";
import { verifyWebhookSignature } from "../notifications/signing.js";
import { PostgresNotificationRepository } from "../repository/notification-repository.js";
import {
  DOMAIN,
  INTEGER,
  PROJECT,
  aTask,
  aWorkflow,
  fromInput,
  idOf,
  int,
  workflowEvent,
} from "../testing/builders.js";
import { ScriptedPlacer } from "../testing/harness.js";

const SECRET = "whsec_admin_test_0123456789";
type AfterHook = { after(fn: () => unknown): unknown };

/** Starts a listening admin over `db` (scripted placer: every execution lands on "alpha"). */
async function anAdmin(db: Database, t: AfterHook, notifications: Record<string, unknown>) {
  const blobs = tempDir({ prefix: "flotilla-notify-blobs-", t });
  const config = resolveAdminConfig({
    server: { host: "127.0.0.1", port: 0 },
    blobStore: { url: `file://${blobs.path}` },
    notifications,
  });
  const placer = new ScriptedPlacer();
  const running = await startAdmin(config, {
    database: db,
    logger: silentLogger,
    routing: () => ({ placer, handlers: {}, start: async () => {}, stop: async () => {} }),
  });
  t.after(() => running.stop());
  const c = createClient(AdminService, createConnectTransport({ baseUrl: running.url, httpVersion: "1.1" }));
  return { c, running };
}

/** The project, task and one-node workflow "wf" every test starts from. */
async function registerWorkflow(c: Client<typeof AdminService>): Promise<void> {
  await c.registerProject({ project: create(ProjectSchema, { id: PROJECT, name: "Flotilla" }) });
  await c.createTask({ template: aTask("double").withInput("x", INTEGER).withOutput("y", INTEGER).build() });
  await c.createWorkflow({
    template: aWorkflow("wf")
      .withInput("n", INTEGER)
      .withNode("a", "double")
      .binding("x", fromInput("n"))
      .build(),
  });
}

const webhook = (url: string, phases: W[]) =>
  create(NotificationSchema, { phases, type: { case: "webhook", value: { url } } });
const slack = (channel: string, phases: W[]) =>
  create(NotificationSchema, { phases, type: { case: "slack", value: { channel } } });

async function run(c: Client<typeof AdminService>, name: string, notifications: Notification[] = []) {
  await c.createExecution({
    project: PROJECT,
    domain: DOMAIN,
    name,
    spec: {
      target: { case: "launchPlan", value: idOf(ResourceType.LAUNCH_PLAN, "lp") },
      inputs: { literals: { n: int(1) } },
      notifications,
    },
  });
}

/** Drives execution `name` RUNNING → `phase` the way its propeller would. */
async function finish(c: Client<typeof AdminService>, name: string, phase: W) {
  const { results } = await c.ingestEvents({
    producerCluster: "alpha",
    events: [
      workflowEvent(name, "alpha", `${name}-1`, W.RUNNING, 1, 1_000),
      workflowEvent(name, "alpha", `${name}-2`, phase, 2, 2_000),
      // A re-sent terminal event is a duplicate and writes no second message.
      workflowEvent(name, "alpha", `${name}-2`, phase, 2, 2_000),
    ],
  });
  assert.equal(results.length, 3);
}

async function notificationsOf(c: Client<typeof AdminService>, failedOnly = false) {
  return (await c.listNotifications({ project: PROJECT, domain: DOMAIN, failedOnly })).notifications;
}

/** The accepted (2xx) webhook deliveries per idempotency key, checking every signature. */
function acceptedByKey(rec: HttpRecorder, path: string): Map<string, number> {
  const accepted = new Map<string, number>();
  for (const r of rec.requests.filter((x) => x.path === path)) {
    assert.equal(verifyWebhookSignature(SECRET, r.headers["x-flotilla-signature"] as string, r.body), "ok");
    const body = JSON.parse(r.body) as { idempotencyKey: string };
    assert.equal(r.headers["idempotency-key"], body.idempotencyKey);
    if (r.status < 300) accepted.set(body.idempotencyKey, (accepted.get(body.idempotencyKey) ?? 0) + 1);
  }
  return accepted;
}

const fast = { pollInterval: "50ms", backoff: { initial: "50ms", max: "200ms" } };

eachDatabase("admin notifications", { migrations: ADMIN_MIGRATIONS_DIR }, (ctx) => {
  it("refuses notifications this admin cannot deliver, naming the field, and stores nothing", async (t) => {
    const { c } = await anAdmin(ctx.db(), t, { webhook: { signingSecret: SECRET } });
    await registerWorkflow(c);
    const lpId = idOf(ResourceType.LAUNCH_PLAN, "lp");
    const refused = async (p: Promise<unknown>, field: RegExp) => {
      const err = await p.then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(err instanceof ConnectError, String(err));
      assert.equal(err.code, Code.InvalidArgument);
      assert.match(err.rawMessage, field);
    };
    const lp = (notifications: Notification[]) =>
      c.createLaunchPlan({
        id: lpId,
        spec: { workflowId: idOf(ResourceType.WORKFLOW, "wf"), notifications },
      });
    await refused(
      lp([webhook("http://127.0.0.1:1/hook", [W.FAILED])]),
      /^spec\.notifications\[0\]\.webhook\.url: must be an https/,
    );
    await refused(
      lp([slack("#ops", [W.FAILED])]),
      /^spec\.notifications\[0\]\.slack: .*notifications\.slack\.webhookUrl/,
    );
    await refused(
      lp([webhook("https://x.example/h", [W.QUEUED])]),
      /^spec\.notifications\[0\]\.phases: QUEUED is not a terminal/,
    );
    await assert.rejects(c.getLaunchPlan({ id: lpId }), (e: ConnectError) => e.code === Code.NotFound);

    await lp([webhook("https://x.example/h", [W.FAILED])]);
    await refused(
      c.createExecution({
        project: PROJECT,
        domain: DOMAIN,
        name: "bad",
        spec: {
          target: { case: "launchPlan", value: lpId },
          inputs: { literals: { n: int(1) } },
          notifications: [
            create(NotificationSchema, {
              phases: [W.FAILED],
              type: { case: "email", value: { recipients: ["ops@example.com"] } },
            }),
          ],
        },
      }),
      /^spec\.notifications\[0\]\.email: .*smtp\.host/,
    );
    await assert.rejects(
      c.getExecution({ id: { project: PROJECT, domain: DOMAIN, name: "bad" } }),
      (e: ConnectError) => e.code === Code.NotFound,
    );
  });

  it("writes one message per matching notification with the terminal phase and delivers it, signed, after two 500s", async (t) => {
    let hookCalls = 0;
    const rec = await startHttpRecorder((req) => (req.path === "/hook" && hookCalls++ < 2 ? 500 : 200));
    t.after(() => rec.close());
    const { c } = await anAdmin(ctx.db(), t, {
      ...fast,
      webhook: { signingSecret: SECRET, allowHttp: true },
      slack: { webhookUrl: `${rec.url}/slack` },
    });
    await registerWorkflow(c);
    await c.createLaunchPlan({
      id: idOf(ResourceType.LAUNCH_PLAN, "lp"),
      spec: {
        workflowId: idOf(ResourceType.WORKFLOW, "wf"),
        notifications: [webhook(`${rec.url}/hook`, [W.SUCCEEDED, W.FAILED]), slack("#ops", [W.FAILED])],
      },
    });
    await run(c, "ok-1");
    await run(c, "bad-1");
    // Its own notifications replace the launch plan's: no Slack message for this one.
    await run(c, "own-1", [webhook(`${rec.url}/hook`, [W.FAILED])]);
    await finish(c, "ok-1", W.SUCCEEDED);
    await finish(c, "bad-1", W.FAILED);
    await finish(c, "own-1", W.FAILED);

    const delivered = await eventually(async () => {
      const list = await notificationsOf(c);
      assert.equal(list.length, 4);
      for (const n of list) assert.equal(n.state, S.DELIVERED, `${n.idempotencyKey}: ${n.lastError}`);
      return list;
    });
    assert.deepEqual(delivered.map((n) => n.idempotencyKey).sort(), [
      "flotilla/development/bad-1/FAILED/0",
      "flotilla/development/bad-1/FAILED/1",
      "flotilla/development/ok-1/SUCCEEDED/0",
      "flotilla/development/own-1/FAILED/0",
    ]);
    // Two failed attempts were recorded on the messages they hit, with their error kept.
    const retried = delivered.filter((n) => n.attempts > 1);
    assert.equal(
      delivered.reduce((sum, n) => sum + n.attempts, 0),
      6,
    );
    for (const n of retried) assert.match(n.lastError, /HTTP 500/);
    assert.deepEqual([...acceptedByKey(rec, "/hook")].sort(), [
      ["flotilla/development/bad-1/FAILED/0", 1],
      ["flotilla/development/ok-1/SUCCEEDED/0", 1],
      ["flotilla/development/own-1/FAILED/0", 1],
    ]);
    const slackRequests = rec.requests.filter((r) => r.path === "/slack");
    assert.equal(slackRequests.length, 1);
    const payload = JSON.parse(slackRequests[0].body) as {
      channel: string;
      text: string;
      blocks: unknown[];
    };
    assert.equal(payload.channel, "#ops");
    assert.equal(
      payload.text,
      "Execution flotilla/development/bad-1 FAILED (launch plan lp v1) on cluster alpha",
    );
    assert.equal(slackRequests[0].headers["idempotency-key"], "flotilla/development/bad-1/FAILED/1");
  });

  it("keeps undeliverable messages as FAILED with their last error: attempts spent, or a 4xx at once", async (t) => {
    const rec = await startHttpRecorder((req) => (req.path === "/down" ? 503 : 400));
    t.after(() => rec.close());
    const { c, running } = await anAdmin(ctx.db(), t, {
      ...fast,
      maxAttempts: 3,
      webhook: { signingSecret: SECRET, allowHttp: true },
    });
    await registerWorkflow(c);
    await c.createLaunchPlan({
      id: idOf(ResourceType.LAUNCH_PLAN, "lp"),
      spec: {
        workflowId: idOf(ResourceType.WORKFLOW, "wf"),
        notifications: [webhook(`${rec.url}/down`, [W.SUCCEEDED]), webhook(`${rec.url}/gone`, [W.SUCCEEDED])],
      },
    });
    await run(c, "ok-1");
    await finish(c, "ok-1", W.SUCCEEDED);
    const failed = await eventually(async () => {
      const list = await notificationsOf(c, true);
      assert.equal(list.length, 2);
      return new Map(list.map((n) => [n.idempotencyKey, n]));
    });
    const down = failed.get("flotilla/development/ok-1/SUCCEEDED/0")!;
    assert.equal(down.state, S.FAILED);
    assert.equal(down.attempts, 3);
    assert.match(down.lastError, /HTTP 503/);
    const gone = failed.get("flotilla/development/ok-1/SUCCEEDED/1")!;
    assert.equal(gone.attempts, 1);
    assert.match(gone.lastError, /HTTP 400/);
    assert.equal(rec.requests.filter((r) => r.path === "/down").length, 3);
    assert.equal(rec.requests.filter((r) => r.path === "/gone").length, 1);
    const metrics = await (await fetch(`${running.url}/metrics`)).text();
    assert.match(metrics, /^flotilla_admin_notifications\{state="FAILED"\} 2$/m);
    assert.match(
      metrics,
      /^flotilla_admin_notification_deliveries_total\{channel="webhook",outcome="retry"\} 2$/m,
    );
    assert.match(
      metrics,
      /^flotilla_admin_notification_deliveries_total\{channel="webhook",outcome="failed"\} 2$/m,
    );
  });

  it("deletes DELIVERED messages after the retention and keeps FAILED ones", async (t) => {
    const rec = await startHttpRecorder((req) => (req.path === "/ok" ? 200 : 400));
    t.after(() => rec.close());
    const { c } = await anAdmin(ctx.db(), t, {
      ...fast,
      retention: "1s",
      webhook: { signingSecret: SECRET, allowHttp: true },
    });
    await registerWorkflow(c);
    await c.createLaunchPlan({
      id: idOf(ResourceType.LAUNCH_PLAN, "lp"),
      spec: {
        workflowId: idOf(ResourceType.WORKFLOW, "wf"),
        notifications: [webhook(`${rec.url}/ok`, [W.SUCCEEDED]), webhook(`${rec.url}/bad`, [W.SUCCEEDED])],
      },
    });
    await run(c, "ok-1");
    await finish(c, "ok-1", W.SUCCEEDED);
    await eventually(() => assert.equal(rec.requests.length, 2));
    const left = await eventually(async () => {
      const list = await notificationsOf(c);
      assert.equal(list.length, 1);
      return list;
    });
    assert.deepEqual(
      left.map((n) => [n.idempotencyKey, n.state]),
      [["flotilla/development/ok-1/SUCCEEDED/1", S.FAILED]],
    );
    assert.equal(rec.requests.find((r) => r.path === "/ok")?.status, 200, "the pruned one was delivered");
  });

  it("messages written while no dispatcher runs are delivered once by two admins sharing the database", async (t) => {
    const rec = await startHttpRecorder();
    t.after(() => rec.close());
    const settings = { ...fast, batchSize: 2, webhook: { signingSecret: SECRET, allowHttp: true } };
    const { c } = await anAdmin(ctx.db(), t, { ...settings, enabled: false });
    await registerWorkflow(c);
    await c.createLaunchPlan({
      id: idOf(ResourceType.LAUNCH_PLAN, "lp"),
      spec: {
        workflowId: idOf(ResourceType.WORKFLOW, "wf"),
        notifications: [webhook(`${rec.url}/hook`, [W.SUCCEEDED, W.ABORTED])],
      },
    });
    const names = Array.from({ length: 8 }, (_, i) => `run-${i}`);
    for (const name of names) await run(c, name);
    for (const name of names.slice(0, 4)) await finish(c, name, W.SUCCEEDED);
    for (const name of names.slice(4))
      await c.terminateExecution({ id: { project: PROJECT, domain: DOMAIN, name }, cause: "not needed" });
    const pending = await notificationsOf(c);
    assert.equal(pending.length, 8);
    for (const n of pending) assert.deepEqual([n.state, n.attempts], [S.PENDING, 0]);
    assert.equal(rec.requests.length, 0);

    await anAdmin(ctx.db(), t, settings);
    await anAdmin(ctx.db(), t, settings);
    await eventually(async () => {
      for (const n of await notificationsOf(c)) assert.equal(n.state, S.DELIVERED, n.idempotencyKey);
    });
    const accepted = acceptedByKey(rec, "/hook");
    assert.deepEqual(
      [...accepted.keys()].sort(),
      [
        ...names.slice(0, 4).map((n) => `flotilla/development/${n}/SUCCEEDED/0`),
        ...names.slice(4).map((n) => `flotilla/development/${n}/ABORTED/0`),
      ].sort(),
    );
    assert.deepEqual([...new Set(accepted.values())], [1], "no message was sent twice");
    assert.equal(rec.requests.length, 8);
    const aborted = JSON.parse(rec.requests.find((r) => r.body.includes("ABORTED"))!.body) as {
      abortCause: string;
    };
    assert.equal(aborted.abortCause, "not needed");
  });

  it("a claim whose dispatcher died comes back after its lease; the dead claim cannot settle it", async (t) => {
    const { c } = await anAdmin(ctx.db(), t, { enabled: false, webhook: { signingSecret: SECRET } });
    await registerWorkflow(c);
    await c.createLaunchPlan({
      id: idOf(ResourceType.LAUNCH_PLAN, "lp"),
      spec: {
        workflowId: idOf(ResourceType.WORKFLOW, "wf"),
        notifications: [webhook("https://x.example/h", [W.SUCCEEDED])],
      },
    });
    await run(c, "ok-1");
    await finish(c, "ok-1", W.SUCCEEDED);
    const outbox = new PostgresNotificationRepository(ctx.db());
    const [first] = await outbox.claimDue(10, 300, "dead");
    assert.equal(first?.attempts, 1);
    assert.deepEqual(await outbox.claimDue(10, 300, "other"), [], "leased messages are not claimed twice");
    const again = await eventually(async () => {
      const [m] = await outbox.claimDue(10, 60_000, "second");
      assert.ok(m);
      return m;
    });
    assert.equal(again.idempotencyKey, first.idempotencyKey);
    assert.equal(again.attempts, 2);
    assert.equal(await outbox.markDelivered(first.pk, "dead"), false);
    assert.equal(await outbox.markDelivered(again.pk, "second"), true);
    const [stored] = await notificationsOf(c);
    assert.deepEqual([stored?.state, stored?.attempts], [S.DELIVERED, 2]);
  });
});
