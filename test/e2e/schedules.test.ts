// Schedules on real PostgreSQL with two flotilla-admin processes: a launch plan firing every
// second for 30 s, the admin holding the scheduler lock killed with -9 halfway. Every second
// between activation and the end has exactly one execution, named after the launch plan and the
// second; the other admin takes the lock over and catches up on what the dead one left.
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { ADMIN_MIGRATIONS_DIR, scheduledExecutionName } from "@flotilla/admin";
import { AdminService } from "@flotilla/proto";
import { eachDatabase, eventually, spawnBin, tempDir, type SpawnedBin } from "@flotilla/testing";

/** The scenario: how long the schedule runs, and when the lock holder is killed. */
const RUN_MS = 30_000;
const KILL_AFTER_MS = 15_000;

const SPEC = `kind: Task
name: report.make
inputs: {day: datetime}
outputs: {}
container: {image: busybox:1.36, command: ["true"]}
---
kind: Workflow
name: report
inputs: {day: datetime}
nodes:
  - id: make
    task: report.make
    inputs: {day: {input: day}}
---
kind: LaunchPlan
name: every-second
workflow: report
schedule: {cron: "* * * * * *", kickoffInput: day, catchUp: all, maxCatchUp: 1000}
`;

interface ScheduleJson {
  launchPlan: { name: string; version: string };
  activatedAt: string;
  nextFireAt?: string;
  lastFireAt?: string;
}

eachDatabase(
  "schedules across two admins",
  { migrations: ADMIN_MIGRATIONS_DIR, backends: ["postgres"] },
  (ctx) => {
    it("kill -9 the admin holding the scheduler lock halfway: one execution for every second, no duplicates", async (t) => {
      const dir = tempDir({ prefix: "flotilla-schedules-e2e-", t });
      const config = join(dir.path, "admin.yaml");
      await writeFile(
        config,
        [
          "server: {host: 127.0.0.1, port: 0}",
          `database: {url: "${ctx.db().url}"}`,
          `blobStore: {url: ${join(dir.path, "blobs")}}`,
          "scheduler: {tick: 100ms, minInterval: 1s, lateAfter: 1m}",
          "",
        ].join("\n"),
      );
      const startAdmin = async () => {
        const bin = await spawnBin("flotilla-admin", ["--config", config], {
          readyLine: /listening on (http:\/\/\S+)/,
          timeout: 60_000,
          t,
        });
        return { bin, url: bin.ready![1] };
      };
      const leading = async (url: string) => {
        const metrics = await (await fetch(`${url}/metrics`)).text();
        return /^flotilla_admin_scheduler_leader 1$/m.test(metrics);
      };
      const first = await startAdmin();
      await eventually(async () => assert.ok(await leading(first.url), "the first admin holds the lock"));
      const second = await startAdmin();
      assert.equal(await leading(second.url), false, "one lock holder at a time");

      const flotctl = async (url: string, args: string[]) => {
        const child: SpawnedBin = await spawnBin(
          "flotctl",
          [...args, "--admin", url, "-p", "reports", "-d", "production"],
          {
            env: { HOME: dir.path },
          },
        );
        const status = await child.exited;
        const out = { code: status.code, stdout: child.stdout.join("\n"), stderr: child.stderr.join("\n") };
        assert.equal(out.code, 0, `flotctl ${args.join(" ")}: ${out.stderr}${out.stdout}`);
        return out;
      };
      await flotctl(first.url, ["create", "project", "reports", "--domains", "production"]);
      const specFile = join(dir.path, "report.yaml");
      await writeFile(specFile, SPEC);
      await flotctl(first.url, ["register", "files", specFile, "--version", "v1"]);
      await flotctl(first.url, ["update", "launchplan", "every-second", "--activate"]);
      const schedules = async (url: string) =>
        JSON.parse((await flotctl(url, ["get", "schedules", "-o", "json"])).stdout) as ScheduleJson[];
      const [schedule] = await schedules(second.url);
      assert.equal(schedule?.launchPlan.name, "every-second");
      const activatedAt = new Date(schedule.activatedAt);
      const end = new Date(activatedAt.getTime() + RUN_MS);

      await sleep(Math.max(0, activatedAt.getTime() + KILL_AFTER_MS - Date.now()));
      const killed = await first.bin.stop({ signal: "SIGKILL", grace: 0 });
      assert.equal(killed.signal, "SIGKILL");
      await eventually(async () =>
        assert.ok(await leading(second.url), "the second admin took the lock over"),
      );

      // Every whole second after activation up to the end.
      const expected: string[] = [];
      for (let s = Math.floor(activatedAt.getTime() / 1000) + 1; s * 1000 <= end.getTime(); s++) {
        expected.push(new Date(s * 1000).toISOString());
      }
      const client = createClient(
        AdminService,
        createConnectTransport({ baseUrl: second.url, httpVersion: "1.1" }),
      );
      const scheduled = async () => {
        const all: { name: string; at: string; lateMs: number }[] = [];
        let pageToken = "";
        do {
          const page = await client.listExecutions({
            project: "reports",
            domain: "production",
            pageSize: 1000,
            pageToken,
            filter: { launchPlan: { name: "every-second" } },
          });
          for (const e of page.executions) {
            const at = e.spec?.metadata?.scheduledAt;
            const created = e.closure?.createdAt;
            all.push({
              name: e.id!.name,
              at: at ? timestampDate(at).toISOString() : "",
              lateMs: at && created ? timestampDate(created).getTime() - timestampDate(at).getTime() : 0,
            });
          }
          pageToken = page.nextPageToken;
        } while (pageToken);
        return all;
      };
      await eventually(
        async () => {
          const at = new Set((await scheduled()).map((e) => e.at));
          assert.ok(at.has(expected[expected.length - 1]), "fired through the end");
        },
        { timeout: RUN_MS + 30_000, interval: 500 },
      );

      const executions = await scheduled();
      assert.equal(new Set(executions.map((e) => e.name)).size, executions.length, "names are unique");
      const inWindow = executions.filter(
        (e) => e.at > activatedAt.toISOString() && e.at <= end.toISOString(),
      );
      const perSecond = new Map<string, string[]>();
      for (const e of inWindow) perSecond.set(e.at, [...(perSecond.get(e.at) ?? []), e.name]);
      const missing = expected.filter((s) => !perSecond.has(s));
      const doubled = [...perSecond].filter(([, names]) => names.length > 1);
      assert.deepEqual(missing, [], "every second has an execution");
      assert.deepEqual(doubled, [], "no second has two");
      assert.equal(inWindow.length, expected.length);
      for (const e of inWindow) assert.equal(e.name, scheduledExecutionName("every-second", new Date(e.at)));
      assert.ok(
        executions.every((e) => e.at > activatedAt.toISOString()),
        "nothing before activation",
      );

      const late = inWindow.map((e) => e.lateMs).sort((a, b) => a - b);
      t.diagnostic(
        `${inWindow.length} firings; lateness (created - scheduled) median ${late[late.length >> 1]} ms, ` +
          `max ${late[late.length - 1]} ms (the takeover after the kill)`,
      );

      const [after] = await schedules(second.url);
      const ms = (iso: string | undefined) => new Date(iso ?? 0).getTime();
      assert.ok(ms(after?.lastFireAt) >= end.getTime() - 1000, "get schedules shows the last firing");
      assert.ok(ms(after?.nextFireAt) > ms(after?.lastFireAt), "and the next one");
      await flotctl(second.url, ["update", "launchplan", "every-second", "--deactivate"]);
      assert.deepEqual(await schedules(second.url), [], "a deactivated launch plan has no schedule");
    });
  },
);
