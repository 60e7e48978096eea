/**
 * One supervised component process of the demo (the sandbox, the admin, the resource manager, a
 * propeller): started from its bin with this Node, its output appended to its log file, ready
 * once it prints its ready line, restarted with backoff when it exits unexpectedly (if it may
 * be), and stopped with SIGTERM, then SIGKILL after a grace period.
 *
 *   starting ──ready line──▶ running ──unexpected exit──▶ restarting ──▶ starting
 *      │                        │                             (restartable only; else failed)
 *      └─exit / timeout─▶ failed└──stop()──▶ stopped
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, type WriteStream } from "node:fs";
import { createInterface } from "node:readline";
import { ComponentPhase, type ComponentState } from "./state.js";

/** What to run and how to recognise that it is ready. */
export interface ComponentSpec {
  name: string;
  /** Absolute path of the JavaScript bin (run with `process.execPath`), unless `command` is set. */
  bin: string;
  /** An executable to run instead of a JavaScript bin (the demo's Prometheus). */
  command?: string;
  args: string[];
  /**
   * Matched against every output line; the first match means ready (its groups are returned).
   * Its first group, when it has one, is the component's URL (recorded again after a restart).
   */
  readyLine: RegExp;
  log: string;
  /** Restart after an unexpected exit (components whose state survives a restart). */
  restartable: boolean;
  /** Longest wait for the ready line. */
  readyTimeoutMs: number;
  env?: NodeJS.ProcessEnv;
}

/** The process exited or timed out before printing its ready line. */
export class ComponentStartError extends Error {
  override readonly name = "ComponentStartError";
  constructor(
    readonly component: string,
    readonly reason: string,
    readonly tail: string[],
    readonly log: string,
  ) {
    super(
      `${component} did not start: ${reason}` +
        (tail.length ? `\n  last output:\n${tail.map((l) => `    ${l}`).join("\n")}` : "") +
        `\n  full log: ${log}`,
    );
  }
}

/** Callbacks of a component's lifecycle (the supervisor records them in the state file). */
export interface ComponentEvents {
  changed(): void;
  /** A component that may not be restarted exited unexpectedly, or a restart failed. */
  fatal(component: string, reason: string): void;
}

const GRACE_MS = 10_000;
const TAIL_LINES = 12;
const MAX_BACKOFF_MS = 10_000;

/** A supervised component process. */
export class ManagedComponent {
  readonly state: ComponentState;
  private child: ChildProcess | undefined;
  private logStream: WriteStream | undefined;
  private stopping = false;
  private backoffMs = 500;
  private readonly tail: string[] = [];
  private exited: Promise<void> = Promise.resolve();

  constructor(
    readonly spec: ComponentSpec,
    private readonly events: ComponentEvents,
  ) {
    this.state = { name: spec.name, phase: ComponentPhase.starting, restarts: 0, log: spec.log };
  }

  /**
   * Starts the process and resolves with the ready line's match once it prints it. Rejects with
   * {@link ComponentStartError} (the process stopped) when it exits or times out first.
   */
  async start(): Promise<RegExpMatchArray> {
    if (this.stopping)
      throw new ComponentStartError(this.spec.name, "the demo is stopping", [], this.spec.log);
    this.logStream ??= createWriteStream(this.spec.log, { flags: "a" });
    this.state.phase = ComponentPhase.starting;
    this.tail.length = 0;
    const [file, args] = this.spec.command
      ? [this.spec.command, this.spec.args]
      : [process.execPath, [this.spec.bin, ...this.spec.args]];
    const child = spawn(file, args, {
      env: this.spec.env ?? process.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.child = child;
    this.state.pid = child.pid;
    this.events.changed();
    let onExit: (reason: string) => void = () => undefined;
    this.exited = new Promise((resolveExit) => {
      child.once("exit", (code, signal) => {
        const reason = signal ? `killed by ${signal}` : `exited with code ${code}`;
        this.state.lastExit = reason;
        resolveExit();
        onExit(reason);
      });
    });
    const ready = new Promise<RegExpMatchArray>((resolveReady, rejectReady) => {
      let settled = false;
      const timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        child.kill("SIGKILL");
        rejectReady(this.startError(`no ready line within ${this.spec.readyTimeoutMs / 1000}s`));
      }, this.spec.readyTimeoutMs);
      const onLine = (line: string) => {
        this.logStream?.write(line + "\n");
        this.tail.push(line);
        if (this.tail.length > TAIL_LINES) this.tail.shift();
        if (settled) return;
        const match = this.spec.readyLine.exec(line);
        if (!match) return;
        settled = true;
        clearTimeout(timer);
        resolveReady(match);
      };
      createInterface({ input: child.stdout }).on("line", onLine);
      createInterface({ input: child.stderr }).on("line", onLine);
      child.once("error", (err) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        rejectReady(this.startError(err.message));
      });
      onExit = (reason) => {
        if (!settled) {
          settled = true;
          clearTimeout(timer);
          rejectReady(this.startError(reason));
          return;
        }
        this.onUnexpectedExit(reason);
      };
    });
    const match = await ready;
    if (match[1]) this.state.url = match[1];
    this.state.phase = ComponentPhase.running;
    this.backoffMs = 500;
    this.events.changed();
    return match;
  }

  /** Stops the process: SIGTERM, SIGKILL after the grace period. Resolves once it exited. */
  async stop(): Promise<void> {
    this.stopping = true;
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const killer = setTimeout(() => child.kill("SIGKILL"), GRACE_MS);
      await this.exited;
      clearTimeout(killer);
    }
    this.state.phase = ComponentPhase.stopped;
    this.state.pid = undefined;
    await new Promise<void>((r) => (this.logStream ? this.logStream.end(r) : r()));
    this.logStream = undefined;
  }

  private startError(reason: string): ComponentStartError {
    this.state.phase = ComponentPhase.failed;
    return new ComponentStartError(this.spec.name, reason, [...this.tail], this.spec.log);
  }

  private onUnexpectedExit(reason: string): void {
    if (this.stopping) return;
    this.state.pid = undefined;
    if (!this.spec.restartable) {
      this.state.phase = ComponentPhase.failed;
      this.events.changed();
      this.events.fatal(this.spec.name, reason);
      return;
    }
    this.state.phase = ComponentPhase.restarting;
    this.state.restarts++;
    this.logStream?.write(
      `--- supervisor: ${this.spec.name} ${reason}; restarting in ${this.backoffMs} ms\n`,
    );
    this.events.changed();
    const delay = this.backoffMs;
    this.backoffMs = Math.min(MAX_BACKOFF_MS, this.backoffMs * 2);
    setTimeout(() => {
      if (this.stopping) return;
      this.start().catch((err: unknown) => {
        if (this.stopping) return;
        this.events.fatal(this.spec.name, (err as Error).message);
      });
    }, delay).unref();
  }
}
