import { Flags } from "@oclif/core";
import { spawn } from "node:child_process";
import { mkdir, open, readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { DemoCommand } from "../../demo-command.js";
import { CliError, UsageError } from "../../errors.js";

/** `flotctl demo start`. */
export default class DemoStart extends DemoCommand<typeof DemoStart> {
  static override flags = {
    ...DemoCommand.flags,
    "admin-port": Flags.integer({
      summary: "Admin port (flotctl's default admin URL is http://127.0.0.1:8088); 0 = any free port.",
      default: 8088,
      min: 0,
      max: 65535,
    }),
    "rm-port": Flags.integer({
      summary: "Resource manager port; 0 = any free port.",
      default: 8089,
      min: 0,
      max: 65535,
    }),
    detach: Flags.boolean({ summary: "Run in the background and return once the demo is ready." }),
    prometheus: Flags.boolean({
      summary: "Also start Prometheus (the `prometheus` binary on PATH), scraping every component.",
    }),
    "prometheus-port": Flags.integer({
      summary: "Prometheus port with --prometheus; 0 = any free port.",
      default: 9090,
      min: 0,
      max: 65535,
    }),
    timeout: Flags.string({ summary: "Longest wait for each start step (e.g. 90s).", default: "60s" }),
  };

  async run(): Promise<void> {
    const { tryParseDuration } = await import("@flotilla/common");
    const stepTimeoutMs = tryParseDuration(this.flags.timeout, { bareSeconds: true });
    if (stepTimeoutMs === undefined || stepTimeoutMs <= 0)
      throw new UsageError(`--timeout "${this.flags.timeout}" is not a duration`);
    const { lockHolder, processAlive, readDemoState } = await import("../../demo/state.js");
    const layout = await this.demoLayout();

    const holder = await lockHolder(layout);
    if (holder !== undefined && processAlive(holder)) {
      const state = await readDemoState(layout);
      await this.print({
        data: { alreadyRunning: true, ...state },
        table: () =>
          `A demo is already running in ${layout.dir} (supervisor pid ${holder}` +
          (state ? `, admin ${state.adminUrl}, ${state.phase}` : "") +
          ").\n`flotctl demo status` shows it; `flotctl demo stop` stops it.",
      });
      return;
    }
    let prometheus: { binary: string; port: number } | undefined;
    if (this.flags.prometheus) {
      const { findPrometheus } = await import("../../demo/prometheus.js");
      const binary = await findPrometheus(this.runtime.env);
      if (!binary)
        throw new CliError(
          "prometheus_missing",
          "--prometheus needs the prometheus binary on PATH; install it (Debian: apt-get install prometheus) or start the demo without --prometheus",
        );
      prometheus = { binary, port: this.flags["prometheus-port"] };
    }
    const options = {
      dir: layout.dir,
      adminPort: this.flags["admin-port"],
      resourceManagerPort: this.flags["rm-port"],
      stepTimeoutMs,
      ...(prometheus ? { prometheus } : {}),
    };
    if (this.flags.detach) return this.startDetached(options);

    const { superviseDemo } = await import("../../demo/supervise.js");
    const { readyBanner } = await import("../../demo/report.js");
    const end = await superviseDemo(options, {
      progress: (line) => this.note(line),
      ready: (state) => {
        void this.print({ data: state, table: () => readyBanner(state) });
      },
    }).catch(async (err: unknown) => {
      throw await this.startFailure(err);
    });
    if (!end.ok) throw new CliError("demo_failed", `the demo failed: ${end.reason}`, [{ dir: layout.dir }]);
    this.note(`demo stopped (${end.reason})`);
  }

  /** Spawns the supervisor in its own session and waits until the state file says ready or failed. */
  private async startDetached(options: {
    dir: string;
    adminPort: number;
    resourceManagerPort: number;
    stepTimeoutMs: number;
    prometheus?: { binary: string; port: number };
  }): Promise<void> {
    const { demoLayout } = await import("../../demo/layout.js");
    const { DemoPhase, processAlive, readDemoState } = await import("../../demo/state.js");
    const { readyBanner } = await import("../../demo/report.js");
    const layout = demoLayout(options.dir);
    await mkdir(layout.dir, { recursive: true });
    const logPath = join(layout.dir, "supervisor.log");
    const log = await open(logPath, "w");
    const main = fileURLToPath(new URL("../../demo/supervisor-main.js", import.meta.url));
    const child = spawn(
      process.execPath,
      [
        main,
        "--dir",
        layout.dir,
        "--admin-port",
        String(options.adminPort),
        "--rm-port",
        String(options.resourceManagerPort),
        "--timeout-ms",
        String(options.stepTimeoutMs),
        ...(options.prometheus
          ? ["--prometheus", options.prometheus.binary, "--prometheus-port", String(options.prometheus.port)]
          : []),
      ],
      { detached: true, stdio: ["ignore", log.fd, log.fd] },
    );
    await log.close();
    const pid = child.pid;
    if (pid === undefined) throw new CliError("demo_failed", `cannot start the demo supervisor (${main})`);
    let exitCode: number | null | undefined;
    child.once("exit", (code) => (exitCode = code));
    child.unref();
    this.note(`demo supervisor started (pid ${pid}); log ${logPath}`);
    // Generous: every step has its own timeout inside the supervisor.
    const deadline = Date.now() + options.stepTimeoutMs * 8;
    for (;;) {
      const state = await readDemoState(layout);
      if (state && state.pid === pid && state.phase === DemoPhase.ready) {
        const ready = state;
        return this.print({ data: ready, table: () => readyBanner(ready) });
      }
      const failed = state?.pid === pid && state.phase === DemoPhase.failed;
      if (failed || exitCode !== undefined || !processAlive(pid) || Date.now() > deadline) {
        if (processAlive(pid)) process.kill(pid, "SIGTERM");
        const tail = (await readFile(logPath, "utf8").catch(() => "")).trim().split("\n").slice(-15);
        throw new CliError(
          "demo_failed",
          `the demo did not start${failed && state?.error ? `: ${state.error}` : ""}\n  supervisor log (${logPath}):\n${tail
            .map((l) => `    ${l}`)
            .join("\n")}`,
          [{ dir: layout.dir, log: logPath }],
        );
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** Maps a start failure to a CliError with a code of its own. */
  private async startFailure(err: unknown): Promise<unknown> {
    const { DemoAlreadyRunningError } = await import("../../demo/state.js");
    const { PortInUseError } = await import("../../demo/supervisor.js");
    const { ComponentStartError } = await import("../../demo/component.js");
    if (err instanceof DemoAlreadyRunningError)
      return new CliError("already_running", err.message, [{ dir: err.dir, pid: err.pid }]);
    if (err instanceof PortInUseError)
      return new CliError("port_in_use", err.message, [
        { component: err.what, port: err.port, flag: err.flag },
      ]);
    if (err instanceof ComponentStartError)
      return new CliError("demo_failed", err.message, [
        { component: err.component, reason: err.reason, log: err.log },
      ]);
    return err;
  }
}
