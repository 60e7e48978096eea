// The demo's parts that can be exercised without a whole federation: the supervisor lock, the
// component supervision (ready line, restart, fatal exit), the refusal of a taken port, and the
// status/stop commands run as a user runs them when no demo is running. The whole demo runs in
// test/e2e/demo.test.ts.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { test } from "node:test";
import { eventually, tempDir } from "@flotilla/testing";
import { runCli } from "../testing/harness.js";
import { ComponentStartError, ManagedComponent, type ComponentEvents } from "./component.js";
import { demoLayout } from "./layout.js";
import {
  acquireLock,
  ComponentPhase,
  DemoAlreadyRunningError,
  DemoPhase,
  lockHolder,
  writeDemoState,
  type DemoState,
} from "./state.js";
import { PortInUseError, serviceEnv, startDemo } from "./supervisor.js";

const dir = tempDir({ prefix: "flotilla-demo-unit-" });

/** A process that lives until killed, to stand for a live supervisor. */
function aLiveProcess() {
  const child = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });
  return { pid: child.pid!, kill: () => child.kill("SIGKILL") };
}

/** A pid that belonged to a process that has exited. */
async function aDeadPid(): Promise<number> {
  const child = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
  await new Promise((r) => child.once("exit", r));
  return child.pid!;
}

test("the lock refuses a second supervisor while the first lives, and is taken over from a dead one", async () => {
  const layout = demoLayout(join(dir.path, "lock"));
  await mkdir(layout.dir, { recursive: true });
  const live = aLiveProcess();
  try {
    await writeFile(layout.lockFile, `${live.pid}\n`);
    await assert.rejects(acquireLock(layout), (err: unknown) => {
      assert.ok(err instanceof DemoAlreadyRunningError);
      assert.equal(err.pid, live.pid);
      return true;
    });
  } finally {
    live.kill();
  }
  await writeFile(layout.lockFile, `${await aDeadPid()}\n`);
  const release = await acquireLock(layout);
  assert.equal(await lockHolder(layout), process.pid);
  await release();
  assert.equal(await lockHolder(layout), undefined);
});

/** Writes a Node script standing in for a component bin; returns its path. */
async function aScript(name: string, body: string): Promise<string> {
  const path = join(dir.path, `${name}.mjs`);
  await writeFile(path, body);
  return path;
}

function recordingEvents() {
  const fatal: string[] = [];
  const events: ComponentEvents = {
    changed: () => undefined,
    fatal: (c, reason) => fatal.push(`${c}: ${reason}`),
  };
  return { fatal, events };
}

test("a component is ready on its ready line, restarted after a crash, and stopped on request", async () => {
  const bin = await aScript(
    "service",
    'console.log("warming up"); setTimeout(() => console.log(`listening on http://127.0.0.1:${process.pid}`), 100); setInterval(() => {}, 1000);',
  );
  const { fatal, events } = recordingEvents();
  const c = new ManagedComponent(
    {
      name: "svc",
      bin,
      args: [],
      readyLine: /^listening on (\S+)/,
      log: join(dir.path, "svc.log"),
      restartable: true,
      readyTimeoutMs: 20_000,
    },
    events,
  );
  const match = await c.start();
  const first = c.state.pid!;
  assert.equal(match[1], `http://127.0.0.1:${first}`);
  assert.equal(c.state.phase, ComponentPhase.running);
  process.kill(first, "SIGKILL");
  await eventually(
    () => {
      assert.equal(c.state.phase, ComponentPhase.running);
      assert.equal(c.state.restarts, 1);
      assert.notEqual(c.state.pid, first);
      assert.equal(
        c.state.url,
        `http://127.0.0.1:${c.state.pid}`,
        "the URL is read again from the new ready line",
      );
    },
    { timeout: 20_000 },
  );
  await c.stop();
  assert.equal(c.state.phase, ComponentPhase.stopped);
  assert.deepEqual(fatal, []);
  const log = await readFile(join(dir.path, "svc.log"), "utf8");
  assert.equal(log.match(/^warming up$/gm)?.length, 2, log);
  assert.match(log, /supervisor: svc killed by SIGKILL; restarting/);
});

test("a component that may not restart reports a fatal exit; one that dies before ready fails with its output", async () => {
  const bin = await aScript("fixed", 'console.log("ready"); setInterval(() => {}, 1000);');
  const { fatal, events } = recordingEvents();
  const c = new ManagedComponent(
    {
      name: "fixed",
      bin,
      args: [],
      readyLine: /^ready$/,
      log: join(dir.path, "fixed.log"),
      restartable: false,
      readyTimeoutMs: 20_000,
    },
    events,
  );
  await c.start();
  process.kill(c.state.pid!, "SIGKILL");
  await eventually(() => assert.deepEqual(fatal, ["fixed: killed by SIGKILL"]), { timeout: 20_000 });
  assert.equal(c.state.phase, ComponentPhase.failed);
  await c.stop();

  const crashing = await aScript("crash", 'console.error("config: port must be a number"); process.exit(3);');
  const d = new ManagedComponent(
    {
      name: "crash",
      bin: crashing,
      args: [],
      readyLine: /^ready$/,
      log: join(dir.path, "crash.log"),
      restartable: true,
      readyTimeoutMs: 20_000,
    },
    recordingEvents().events,
  );
  await assert.rejects(d.start(), (err: unknown) => {
    assert.ok(err instanceof ComponentStartError);
    assert.equal(err.reason, "exited with code 3");
    assert.deepEqual(err.tail, ["config: port must be a number"]);
    return true;
  });
  await d.stop();
});

test("a taken admin port is refused before anything starts, and the directory is free again", async () => {
  const server: Server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  const demo = join(dir.path, "ports");
  try {
    await assert.rejects(
      startDemo({ dir: demo, adminPort: port, resourceManagerPort: 0, stepTimeoutMs: 10_000 }),
      (err: unknown) => {
        assert.ok(err instanceof PortInUseError);
        assert.match(err.message, new RegExp(`admin port ${port} .*--admin-port`));
        return true;
      },
    );
  } finally {
    server.close();
  }
  assert.equal(await lockHolder(demoLayout(demo)), undefined);
});

test("demo status and stop without a running demo: status exits 1 naming the directory, stop exits 0", async () => {
  const demo = join(dir.path, "none");
  const status = await runCli(["demo", "status", "--dir", demo, "-o", "json"]);
  assert.equal(status.code, 1);
  const error = (JSON.parse(status.stdout) as { error: { code: string; message: string } }).error;
  assert.equal(error.code, "not_running");
  assert.ok(error.message.includes(demo));
  const stop = await runCli(["demo", "stop", "--dir", demo]);
  assert.equal(stop.code, 0, stop.stderr);
  assert.equal(stop.stdout.trim(), `no demo is running in ${demo}`);

  // A state file left by a supervisor that died: status says not running (exit 1) and shows it.
  const layout = demoLayout(demo);
  await mkdir(layout.dir, { recursive: true });
  const stale: DemoState = {
    pid: await aDeadPid(),
    dir: layout.dir,
    phase: DemoPhase.ready,
    startedAt: new Date().toISOString(),
    adminUrl: "http://127.0.0.1:1",
    resourceManagerUrl: "http://127.0.0.1:2",
    kubeconfig: layout.kubeconfig,
    clusters: [],
    projects: [],
    launchPlans: [],
    workflows: [],
    examplesVersion: "v1",
    components: [
      { name: "admin", phase: ComponentPhase.running, pid: await aDeadPid(), restarts: 0, log: "x" },
    ],
  };
  await writeDemoState(layout, stale);
  const again = await runCli(["demo", "status", "--dir", demo]);
  assert.equal(again.code, 1);
  assert.match(again.stdout, /demo not running in .* \(last phase ready\)/);
  assert.match(again.stdout, /^admin\s+stopped\s+-\s+0/m);
});

test("a demo service's environment: unchanged without tracing; with it, the service's own name and attributes", () => {
  const plain = { PATH: "/bin", OTEL_SERVICE_NAME: "flotctl" };
  assert.equal(serviceEnv("flotilla-admin", {}, plain), plain);
  const traced = {
    PATH: "/bin",
    OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318",
    OTEL_SERVICE_NAME: "flotctl",
    OTEL_RESOURCE_ATTRIBUTES: "deployment.environment=demo",
  };
  assert.deepEqual(serviceEnv("flotilla-propeller", { "flotilla.cluster": "east" }, traced), {
    ...traced,
    OTEL_SERVICE_NAME: "flotilla-propeller",
    OTEL_RESOURCE_ATTRIBUTES: "deployment.environment=demo,flotilla.cluster=east",
  });
  assert.deepEqual(serviceEnv("flotilla-admin", {}, { OTEL_TRACES_EXPORTER: "console" }), {
    OTEL_TRACES_EXPORTER: "console",
    OTEL_SERVICE_NAME: "flotilla-admin",
  });
});
