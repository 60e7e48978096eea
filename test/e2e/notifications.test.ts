// Notifications across processes, on PostgreSQL: flotilla-admin bins (killed and restarted), a
// propeller and a sandbox cluster running real workflow executions to SUCCEEDED and FAILED,
// flotctl registering launch plans with notifications and listing the outbox, a webhook
// receiver on 127.0.0.1 that fails its first two deliveries, and an SMTP server.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { verifyWebhookSignature } from "@flotilla/admin";
import { openDatabase } from "@flotilla/db";
import { installCrd, kubeConfigFrom, startPropeller, type Propeller } from "@flotilla/propeller";
import { startCluster, type SandboxCluster } from "@flotilla/sandbox";
import {
  eventually,
  freePort,
  listen,
  spawnBin,
  startHttpRecorder,
  tempDir,
  testDatabaseServerUrl,
  type HttpRecorder,
  type Listening,
  type SpawnedBin,
} from "@flotilla/testing";
import { SMTPServer } from "smtp-server";

const SECRET = "whsec_e2e_0123456789abcdef";
const PROJECT = "notify";
const DOMAIN = "development";
/** How long a simulated workflow may take to finish and its notifications to be delivered. */
const DELIVERY_TIMEOUT = 60_000;

const dir = tempDir({ prefix: "flotilla-notify-e2e-" });
const databaseName = `flotilla_notify_e2e_${randomBytes(4).toString("hex")}`;
let cluster: SandboxCluster;
let propeller: Propeller;
let receiver: HttpRecorder;
let smtp: Listening;
let adminPort: number;
let adminUrl: string;
let configPath: string;
const admins: SpawnedBin[] = [];

/** One email the SMTP server accepted: its envelope recipients and raw RFC 5322 text. */
interface ReceivedMail {
  to: string[];
  raw: string;
}
const mails: ReceivedMail[] = [];

async function onServer(sql: string): Promise<void> {
  const db = await openDatabase({ url: testDatabaseServerUrl });
  try {
    await db.query(sql);
  } finally {
    await db.close();
  }
}

before(async () => {
  cluster = await startCluster({ name: "sbx", mode: "simulated" });
  await installCrd(kubeConfigFrom(cluster.kubeconfig));
  await onServer(`CREATE DATABASE ${databaseName}`);
  let hookCalls = 0;
  receiver = await startHttpRecorder((req) => (req.path === "/hook" && hookCalls++ < 2 ? 500 : 200));
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS"],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => {
        mails.push({
          to: session.envelope.rcptTo.map((a) => a.address),
          raw: Buffer.concat(chunks).toString("utf8"),
        });
        callback();
      });
    },
  });
  smtp = await listen(server.server);
  // A fixed port, so the propeller finds the restarted admin at the same URL.
  adminPort = await freePort();
  adminUrl = `http://127.0.0.1:${adminPort}`;
  const database = new URL(testDatabaseServerUrl);
  database.pathname = `/${databaseName}`;
  configPath = join(dir.path, "admin.json");
  await writeFile(
    configPath,
    JSON.stringify({
      server: { host: "127.0.0.1", port: adminPort },
      database: { url: database.toString() },
      blobStore: { url: join(dir.path, "blobs") },
      clusters: [{ name: "sbx", kubeconfigInline: cluster.kubeconfig }],
      notifications: {
        pollInterval: "100ms",
        backoff: { initial: "100ms", max: "500ms" },
        webhook: { signingSecret: SECRET, allowHttp: true },
        slack: { webhookUrl: `${receiver.url}/slack` },
        email: { from: "Flotilla <flotilla@example.com>", smtp: { host: "127.0.0.1", port: smtp.port } },
      },
    }),
  );
  await startAdminBin();
  propeller = await startPropeller({
    kubeconfig: cluster.kubeconfig,
    clusterId: "sbx",
    admin: { url: adminUrl },
    leaderElection: false,
    processMetrics: false,
  });
});

after(async () => {
  await propeller?.stop();
  for (const a of admins) await a.stop();
  await cluster?.stop();
  await receiver?.close();
  await smtp?.close();
  await onServer(`DROP DATABASE IF EXISTS ${databaseName} WITH (FORCE)`).catch(() => undefined);
  await dir.cleanup();
});

/** Starts a flotilla-admin process on the shared config (`extra` flags, e.g. `--set ...`). */
async function startAdminBin(extra: string[] = []): Promise<SpawnedBin> {
  const admin = await spawnBin("flotilla-admin", ["--config", configPath, ...extra], {
    readyLine: /listening on (http:\/\/\S+)/,
    timeout: 60_000,
  });
  admins.push(admin);
  return admin;
}

async function flotctl(...args: string[]) {
  const child = await spawnBin("flotctl", [...args, "--admin", adminUrl, "-p", PROJECT, "-d", DOMAIN], {
    env: { HOME: dir.path },
  });
  const status = await child.exited;
  return { code: status.code, stdout: child.stdout.join("\n"), stderr: child.stderr.join("\n") };
}

/** The outbox as `flotctl get notifications -o json` prints it. */
interface ListedNotification {
  idempotencyKey: string;
  executionId: { name: string };
  channel: string;
  target: string;
  state: string;
  attempts?: number;
  lastError?: string;
}

async function listNotifications(...flags: string[]): Promise<ListedNotification[]> {
  const r = await flotctl("get", "notifications", "-o", "json", ...flags);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as ListedNotification[];
}

/** Accepted (2xx) webhook deliveries per idempotency key; every request's signature is checked. */
function acceptedWebhooks(): Map<string, number> {
  const accepted = new Map<string, number>();
  for (const r of receiver.requests.filter((x) => x.path === "/hook")) {
    assert.equal(verifyWebhookSignature(SECRET, r.headers["x-flotilla-signature"] as string, r.body), "ok");
    const key = (JSON.parse(r.body) as { idempotencyKey: string }).idempotencyKey;
    assert.equal(r.headers["idempotency-key"], key);
    if (r.status < 300) accepted.set(key, (accepted.get(key) ?? 0) + 1);
  }
  return accepted;
}

/** Emails by idempotency key (the header every attempt carries), with their Message-ID. */
function mailsByKey(): Map<string, { to: string[]; messageId: string; subject: string }[]> {
  const byKey = new Map<string, { to: string[]; messageId: string; subject: string }[]>();
  for (const m of mails) {
    const header = (name: string) => new RegExp(`^${name}: (.*)$`, "mi").exec(m.raw)?.[1]?.trim() ?? "";
    const key = header("Idempotency-Key");
    byKey.set(key, [
      ...(byKey.get(key) ?? []),
      { to: m.to, messageId: header("Message-ID"), subject: header("Subject") },
    ]);
  }
  return byKey;
}

const key = (name: string, phase: string, index: number) => `${PROJECT}/${DOMAIN}/${name}/${phase}/${index}`;

test("succeeded and failed executions notify by webhook (after two 500s, signed, once per key), Slack and SMTP", async () => {
  assert.equal((await flotctl("create", "project", PROJECT)).code, 0);
  const specs = join(dir.path, "notify.yaml");
  await writeFile(
    specs,
    `kind: Task
name: notify.ok
container: {image: flotilla/simulated:1}
simulate: {duration: 1s}
---
kind: Task
name: notify.bad
container: {image: flotilla/simulated:1}
simulate: {duration: 1s, outcome: fail}
---
kind: Workflow
name: notify-ok
nodes: [{id: step, task: notify.ok}]
---
kind: Workflow
name: notify-bad
nodes: [{id: step, task: notify.bad}]
---
kind: LaunchPlan
name: ok-lp
workflow: notify-ok
notifications:
  - {on: [SUCCEEDED], webhook: "${receiver.url}/hook"}
  - {on: [SUCCEEDED, FAILED], email: [ops@example.com]}
---
kind: LaunchPlan
name: bad-lp
workflow: notify-bad
notifications:
  - {on: [FAILED], webhook: "${receiver.url}/hook"}
  - {on: [FAILED], slack: "#ml-alerts"}
  - {on: [FAILED, TIMED_OUT], email: [ops@example.com, ml@example.com]}
`,
  );
  const reg = await flotctl("register", "files", specs, "--version", "v1");
  assert.equal(reg.code, 0, reg.stderr + reg.stdout);
  assert.equal((await flotctl("create", "execution", "--launchplan", "ok-lp", "--name", "ok-1")).code, 0);
  assert.equal((await flotctl("create", "execution", "--launchplan", "bad-lp", "--name", "bad-1")).code, 0);

  const listed = await eventually(
    async () => {
      const list = await listNotifications();
      assert.equal(list.length, 5);
      for (const n of list)
        assert.equal(n.state, "STATE_DELIVERED", `${n.idempotencyKey}: ${n.lastError ?? ""}`);
      return list;
    },
    { timeout: DELIVERY_TIMEOUT, interval: 500 },
  );
  assert.deepEqual(listed.map((n) => n.idempotencyKey).sort(), [
    key("bad-1", "FAILED", 0),
    key("bad-1", "FAILED", 1),
    key("bad-1", "FAILED", 2),
    key("ok-1", "SUCCEEDED", 0),
    key("ok-1", "SUCCEEDED", 1),
  ]);
  // The receiver failed two deliveries; they were retried, and each key was accepted once.
  const hooks = receiver.requests.filter((r) => r.path === "/hook");
  assert.deepEqual(
    hooks.map((r) => r.status),
    [500, 500, 200, 200],
  );
  assert.deepEqual([...acceptedWebhooks()].sort(), [
    [key("bad-1", "FAILED", 0), 1],
    [key("ok-1", "SUCCEEDED", 0), 1],
  ]);
  const retried = listed.filter((n) => n.channel === "webhook" && (n.attempts ?? 0) > 1);
  assert.ok(
    retried.length > 0 && retried.every((n) => /HTTP 500/.test(n.lastError ?? "")),
    JSON.stringify(listed),
  );
  const bad = JSON.parse(hooks.find((r) => r.status === 200 && r.body.includes("bad-1"))!.body) as {
    phase: string;
    cluster: string;
    error?: { code: string };
  };
  assert.equal(bad.phase, "FAILED");
  assert.equal(bad.cluster, "sbx");
  assert.ok(bad.error?.code, "a failed execution's webhook carries its error");

  const slack = receiver.requests.filter((r) => r.path === "/slack");
  assert.equal(slack.length, 1);
  const payload = JSON.parse(slack[0].body) as { channel: string; text: string };
  assert.equal(payload.channel, "#ml-alerts");
  assert.match(
    payload.text,
    /^Execution notify\/development\/bad-1 FAILED \(launch plan bad-lp v1\) on cluster sbx$/,
  );

  const emails = mailsByKey();
  assert.deepEqual([...emails.keys()].sort(), [key("bad-1", "FAILED", 2), key("ok-1", "SUCCEEDED", 1)]);
  const badMail = emails.get(key("bad-1", "FAILED", 2))!;
  assert.equal(badMail.length, 1);
  assert.deepEqual(badMail[0].to, ["ops@example.com", "ml@example.com"]);
  assert.equal(badMail[0].subject, "[flotilla] notify/development/bad-1 FAILED");
  assert.match(badMail[0].messageId, /^<[A-Za-z0-9_-]+@example\.com>$/);

  assert.deepEqual(await listNotifications("--failed"), []);
});

test("an admin killed after the phase change and before delivery delivers after restart; two admins send once", async () => {
  // Restart without a dispatcher: phase changes still write the outbox, nothing is sent.
  await admins.at(-1)!.stop();
  const quiet = await startAdminBin(["--set", "notifications.enabled=false"]);
  const sentBefore = { hooks: receiver.requests.length, mails: mails.length };
  for (const name of ["ok-2", "ok-3"])
    assert.equal((await flotctl("create", "execution", "--launchplan", "ok-lp", "--name", name)).code, 0);
  await eventually(
    async () => {
      const pending = (await listNotifications()).filter((n) => /ok-[23]/.test(n.executionId.name));
      assert.equal(pending.length, 4);
      for (const n of pending) assert.deepEqual([n.state, n.attempts ?? 0], ["STATE_PENDING", 0]);
    },
    { timeout: DELIVERY_TIMEOUT, interval: 500 },
  );
  const killed = await quiet.stop({ signal: "SIGKILL" });
  assert.equal(killed.signal, "SIGKILL");
  assert.deepEqual({ hooks: receiver.requests.length, mails: mails.length }, sentBefore);

  // Two admins on the same database come up; between them every message goes out once.
  await startAdminBin();
  await startAdminBin(["--set", "server.port=0"]);
  await eventually(
    async () => {
      const list = await listNotifications();
      assert.equal(list.length, 9);
      for (const n of list)
        assert.equal(n.state, "STATE_DELIVERED", `${n.idempotencyKey}: ${n.lastError ?? ""}`);
    },
    { timeout: DELIVERY_TIMEOUT, interval: 500 },
  );
  const accepted = acceptedWebhooks();
  assert.deepEqual([...accepted].sort(), [
    [key("bad-1", "FAILED", 0), 1],
    [key("ok-1", "SUCCEEDED", 0), 1],
    [key("ok-2", "SUCCEEDED", 0), 1],
    [key("ok-3", "SUCCEEDED", 0), 1],
  ]);
  assert.equal(receiver.requests.filter((r) => r.path === "/hook").length, 6, "no webhook was sent twice");
  const emails = mailsByKey();
  for (const name of ["ok-2", "ok-3"]) assert.equal(emails.get(key(name, "SUCCEEDED", 1))?.length, 1, name);
  assert.equal(mails.length, 4, "no email was sent twice");
});
