import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync, realpathSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { AfterHook } from "./temp-dir.js";
import { Timeouts } from "./timeouts.js";

/** The repository root (the folder holding the workspaces' package.json). */
export const repoRoot: string = fileURLToPath(new URL("../../", import.meta.url));

/** Options of {@link spawnBin}. */
export interface SpawnBinOptions {
  /** Extra environment on top of this process's; `undefined` removes a variable. */
  env?: Record<string, string | undefined>;
  /** Working directory (default: the repository root). */
  cwd?: string;
  /** Resolve once a stdout or stderr line matches; without it, resolve as soon as it started. */
  readyLine?: RegExp;
  /** How long to wait for `readyLine` (default {@link Timeouts.spawnReady}). */
  timeout?: number;
  /** Stop the process when this test ends (`t.after`). */
  t?: AfterHook;
  /** Copy the child's output lines to this process's stderr (for debugging a test). */
  echo?: boolean;
  /** Node options for a JavaScript bin, before its script (e.g. `--cpu-prof`); ignored for others. */
  nodeArgs?: readonly string[];
}

/** How a process ended: exit code, or the signal that killed it. */
export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A running bin started by {@link spawnBin}. */
export interface SpawnedBin {
  /** Pid of the child, which is also its process group id. */
  readonly pid: number;
  /** Lines printed on stdout so far (without newline). */
  readonly stdout: readonly string[];
  /** Lines printed on stderr so far. */
  readonly stderr: readonly string[];
  /** The match of `readyLine`, when one was given. */
  readonly ready: RegExpMatchArray | undefined;
  /** Settles when the child exits, once its remaining output is read (at most 0.5 s more). */
  readonly exited: Promise<ExitStatus>;
  /** All output so far, stdout and stderr interleaved in arrival order, for diagnostics. */
  output(): string;
  /**
   * Resolves with the first line (already printed or to come, on either stream) matching `re`;
   * rejects with {@link SpawnBinExitedError} if the child exits first, or
   * {@link SpawnBinTimeoutError} after `timeout` ms (default {@link Timeouts.spawnReady}).
   */
  waitForLine(re: RegExp, timeout?: number): Promise<RegExpMatchArray>;
  /**
   * Sends `signal` (default SIGTERM) to the whole process group, waits up to `grace` ms
   * (default {@link Timeouts.stopGrace}) for the child to exit, then SIGKILLs the group — always,
   * so grandchildren that outlived the child are gone too. Returns how the child ended. Idempotent.
   */
  stop(options?: { signal?: NodeJS.Signals; grace?: number }): Promise<ExitStatus>;
}

/** No bin of that name in `node_modules/.bin` or any workspace's `bin/`. */
export class BinNotFoundError extends Error {
  override readonly name = "BinNotFoundError";
  constructor(
    readonly bin: string,
    readonly searched: string[],
  ) {
    super(`bin ${bin} not found; looked at:\n  ${searched.join("\n  ")}`);
  }
}

/** The child exited before printing the line waited for. */
export class SpawnBinExitedError extends Error {
  override readonly name = "SpawnBinExitedError";
  constructor(
    readonly bin: string,
    readonly status: ExitStatus,
    readonly waitingFor: RegExp,
    readonly output: string,
  ) {
    super(
      `${bin} exited (${status.signal ?? `code ${status.code}`}) before printing ${waitingFor}; output:\n${tail(output)}`,
    );
  }
}

/** The child did not print the line waited for in time (it is still running). */
export class SpawnBinTimeoutError extends Error {
  override readonly name = "SpawnBinTimeoutError";
  constructor(
    readonly bin: string,
    readonly timeout: number,
    readonly waitingFor: RegExp,
    readonly output: string,
  ) {
    super(`${bin} did not print ${waitingFor} within ${timeout} ms; output:\n${tail(output)}`);
  }
}

function tail(output: string, lines = 40): string {
  const all = output.split("\n");
  return (all.length > lines ? ["...", ...all.slice(-lines)] : all).join("\n");
}

// After the child exited, how long to keep reading output that is still in flight.
const OUTPUT_DRAIN_MS = 500;

// Process groups still alive, killed when this process exits for any reason.
const liveGroups = new Set<number>();
let exitHooksInstalled = false;

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ESRCH") throw err;
  }
}

function installExitHooks(): void {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  const killAll = () => {
    for (const pid of liveGroups) killGroup(pid, "SIGKILL");
    liveGroups.clear();
  };
  process.on("exit", killAll);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    const onSignal = () => {
      killAll();
      process.off(signal, onSignal);
      // Only re-raise when nobody else handles it: then the default (terminate) is what was due.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}

function workspaceDirs(): string[] {
  try {
    const pkg = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as { workspaces?: string[] };
    return (pkg.workspaces ?? []).map((ws) => join(repoRoot, ws));
  } catch {
    return [];
  }
}

/**
 * Resolves a bin name or path to an executable file: a path (containing `/`) relative to `cwd`;
 * otherwise `<root>/node_modules/.bin/<name>`, then `<workspace>/bin/<name>.js` of each workspace.
 * Returns the real path. Throws {@link BinNotFoundError}.
 */
export function resolveBin(bin: string, cwd: string = repoRoot): string {
  const searched: string[] = [];
  const candidates = bin.includes("/")
    ? [isAbsolute(bin) ? bin : resolve(cwd, bin)]
    : [
        join(repoRoot, "node_modules", ".bin", bin),
        ...workspaceDirs().map((ws) => join(ws, "bin", `${bin}.js`)),
      ];
  for (const candidate of candidates) {
    searched.push(candidate);
    if (existsSync(candidate)) return realpathSync(candidate);
  }
  throw new BinNotFoundError(bin, searched);
}

function isNodeScript(path: string): boolean {
  if (/\.[cm]?js$/.test(path)) return true;
  try {
    const head = readFileSync(path, { encoding: "utf8", flag: "r" }).slice(0, 100);
    return /^#!.*\bnode\b/.test(head);
  } catch {
    return false;
  }
}

/**
 * Starts one of the project's bins (see {@link resolveBin}; JavaScript bins run with this Node,
 * `process.execPath`) in its own process group, captures its output line by line, and resolves
 * once it printed `readyLine` (or right away without one). The group is killed by `stop()`, when
 * test `t` ends, and when this process exits. If the ready line does not come, the child is
 * stopped and the promise rejects with {@link SpawnBinExitedError} or {@link SpawnBinTimeoutError},
 * both carrying the output.
 */
export async function spawnBin(
  bin: string,
  args: readonly string[] = [],
  options: SpawnBinOptions = {},
): Promise<SpawnedBin> {
  const cwd = options.cwd ?? repoRoot;
  const path = resolveBin(bin, cwd);
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const [key, value] of Object.entries(options.env ?? {})) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  const [command, argv] = isNodeScript(path)
    ? [process.execPath, [...(options.nodeArgs ?? []), path, ...args]]
    : [path, [...args]];
  const child = spawn(command, argv, { cwd, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  installExitHooks();

  const spawned = await new Promise<ChildProcess>((resolveSpawn, reject) => {
    child.once("spawn", () => resolveSpawn(child));
    child.once("error", reject);
  });
  const pid = spawned.pid!;
  liveGroups.add(pid);
  const handle = new Spawned(bin, child, pid, options.echo ?? false);
  options.t?.after(() => handle.stop());

  if (options.readyLine) {
    try {
      handle.ready = await handle.waitForLine(options.readyLine, options.timeout ?? Timeouts.spawnReady);
    } catch (err) {
      await handle.stop({ grace: 1000 });
      throw err;
    }
  }
  return handle;
}

interface Waiter {
  re: RegExp;
  resolve: (m: RegExpMatchArray) => void;
  reject: (err: Error) => void;
}

class Spawned implements SpawnedBin {
  readonly stdout: string[] = [];
  readonly stderr: string[] = [];
  ready: RegExpMatchArray | undefined;
  readonly exited: Promise<ExitStatus>;
  private readonly all: string[] = [];
  private readonly waiters = new Set<Waiter>();
  private status: ExitStatus | undefined;
  private stopping: Promise<ExitStatus> | undefined;

  constructor(
    private readonly bin: string,
    child: ChildProcess,
    readonly pid: number,
    echo: boolean,
  ) {
    const streams = [
      [child.stdout!, this.stdout],
      [child.stderr!, this.stderr],
    ] as const;
    const closed = streams.map(
      ([stream, lines]) =>
        new Promise<void>((done) => {
          const rl = createInterface({ input: stream, crlfDelay: Infinity });
          rl.on("line", (line) => {
            lines.push(line);
            this.all.push(line);
            if (echo) process.stderr.write(`[${bin}] ${line}\n`);
            for (const w of this.waiters) {
              const m = w.re.exec(line);
              if (m) {
                this.waiters.delete(w);
                w.resolve(m);
              }
            }
          });
          rl.once("close", done);
        }),
    );
    const exit = new Promise<ExitStatus>((done) => {
      child.once("exit", (code, signal) => done({ code, signal }));
    });
    // Settle once the output is fully read, so a line printed right before exit is seen; but a
    // grandchild that inherited the pipes may keep them open, so wait at most OUTPUT_DRAIN_MS.
    const drained = Promise.all(closed);
    this.exited = exit
      .then(async (status) => {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([drained, new Promise((r) => (timer = setTimeout(r, OUTPUT_DRAIN_MS)))]);
        clearTimeout(timer);
        return status;
      })
      .then((status) => {
        this.status = status;
        for (const w of this.waiters)
          w.reject(new SpawnBinExitedError(this.bin, status, w.re, this.output()));
        this.waiters.clear();
        return status;
      });
  }

  output(): string {
    return this.all.join("\n");
  }

  waitForLine(re: RegExp, timeout: number = Timeouts.spawnReady): Promise<RegExpMatchArray> {
    for (const line of this.all) {
      const m = re.exec(line);
      if (m) return Promise.resolve(m);
    }
    if (this.status) return Promise.reject(new SpawnBinExitedError(this.bin, this.status, re, this.output()));
    return new Promise<RegExpMatchArray>((resolveLine, rejectLine) => {
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        rejectLine(new SpawnBinTimeoutError(this.bin, timeout, re, this.output()));
      }, timeout);
      const waiter: Waiter = {
        re,
        resolve: (m) => {
          clearTimeout(timer);
          resolveLine(m);
        },
        reject: (err) => {
          clearTimeout(timer);
          rejectLine(err);
        },
      };
      this.waiters.add(waiter);
    });
  }

  stop(options: { signal?: NodeJS.Signals; grace?: number } = {}): Promise<ExitStatus> {
    this.stopping ??= (async () => {
      if (!this.status) {
        killGroup(this.pid, options.signal ?? "SIGTERM");
        const grace = options.grace ?? Timeouts.stopGrace;
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([this.exited, new Promise((r) => (timer = setTimeout(r, grace)))]);
        clearTimeout(timer);
      }
      killGroup(this.pid, "SIGKILL");
      liveGroups.delete(this.pid);
      return this.exited;
    })();
    return this.stopping;
  }
}
