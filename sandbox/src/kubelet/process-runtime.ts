import { spawn, type ChildProcess } from "node:child_process";
import { readFile } from "node:fs/promises";
import { constants } from "node:os";
import { parseResourceUnits } from "@flotilla/common";
import type { ContainerExit } from "./pod-status.js";
import { exitWithCode } from "./pod-status.js";
import {
  ContainerStartError,
  expandReferences,
  type ContainerHandle,
  type ContainerRuntime,
  type StartRequest,
} from "./runtime.js";

/** Process groups of running containers, killed if this process exits without stopping them. */
const liveGroups = new Set<number>();
let exitHookInstalled = false;

function trackGroup(pid: number): void {
  liveGroups.add(pid);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Containers run in their own process groups (so a pod's whole tree can be killed), which
  // also means they would outlive a sandbox that exits without stopping its kubelet: on exit
  // (normal, process.exit, uncaught exception) kill whatever is left.
  process.once("exit", () => {
    for (const group of liveGroups) {
      try {
        process.kill(-group, "SIGKILL");
      } catch {
        // Already gone.
      }
    }
  });
}

/** Options of the process runtime. */
export interface ProcessRuntimeOptions {
  /** Environment every container inherits (PATH at least). Default: PATH of this process. */
  baseEnv?: Record<string, string>;
  /** How often to sample memory for limit enforcement. Default 200 ms. */
  memoryPollMs?: number;
}

/**
 * Creates the runtime that runs a pod's first container as a local process: `command` +
 * `args` spawned without a shell in the pod's working directory, in its own process group (so
 * the whole tree is killed on stop, like a container's PID namespace), stdout+stderr streamed
 * to `onOutput`. A `resources.limits.memory` is enforced by sampling the group's RSS: above
 * it, the group is SIGKILLed and the exit is OOMKilled (137).
 */
export function createProcessRuntime(options: ProcessRuntimeOptions = {}): ContainerRuntime {
  const baseEnv = options.baseEnv ?? { PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin" };
  const pollMs = options.memoryPollMs ?? 200;
  return {
    name: "sandbox-process",
    async start(request: StartRequest): Promise<ContainerHandle> {
      const { container, env } = request;
      const argv = [...(container.command ?? []), ...(container.args ?? [])].map((a) =>
        expandReferences(a, env),
      );
      const [file, ...rest] = argv;
      if (file === undefined || file === "") {
        throw new ContainerStartError(
          container.name,
          "no command: the process runtime cannot run an image's default entrypoint",
        );
      }
      const child = spawn(file, rest, {
        cwd: request.workDir,
        env: { ...baseEnv, HOME: request.workDir, HOSTNAME: request.pod.metadata?.name ?? "", ...env },
        detached: true,
        stdio: ["ignore", "pipe", "pipe"],
      });
      await new Promise<void>((resolve, reject) => {
        child.once("spawn", resolve);
        child.once("error", (err: NodeJS.ErrnoException) => {
          const detail =
            err.code === "ENOENT"
              ? `exec: ${JSON.stringify(file)}: executable file not found in $PATH`
              : `exec: ${JSON.stringify(file)}: ${err.message}`;
          reject(new ContainerStartError(container.name, detail));
        });
      });
      const limitRaw = container.resources?.limits?.memory;
      const memoryLimit = limitRaw !== undefined ? parseResourceUnits("memory", limitRaw) : undefined;
      return new ProcessHandle(child, (text) => request.onOutput(text), memoryLimit, pollMs);
    },
  };
}

class ProcessHandle implements ContainerHandle {
  readonly startedAt = new Date();
  readonly pid: number;
  readonly exited: Promise<ContainerExit>;
  private exitReason: "OOMKilled" | undefined;
  private killTimer: NodeJS.Timeout | undefined;
  private memoryTimer: NodeJS.Timeout | undefined;
  private done = false;

  constructor(
    private readonly child: ChildProcess,
    onOutput: (text: string) => void,
    memoryLimit: number | undefined,
    pollMs: number,
  ) {
    this.pid = child.pid ?? 0;
    if (this.pid > 0) trackGroup(this.pid);
    child.stdout?.setEncoding("utf8").on("data", onOutput);
    child.stderr?.setEncoding("utf8").on("data", onOutput);
    // "exit" fires when the main process ends; the rest of its group dies with it, as a
    // container's processes do when its init exits. "close" then fires once output is drained.
    child.once("exit", () => this.signalGroup("SIGKILL"));
    this.exited = new Promise<ContainerExit>((resolve) => {
      child.once("close", (code, signal) => {
        this.done = true;
        liveGroups.delete(this.pid);
        clearTimeout(this.killTimer);
        clearInterval(this.memoryTimer);
        resolve(this.describeExit(code, signal));
      });
    });
    if (memoryLimit !== undefined && memoryLimit > 0) {
      this.memoryTimer = setInterval(() => void this.checkMemory(memoryLimit), pollMs);
      this.memoryTimer.unref();
    }
  }

  stop(graceMs: number): Promise<ContainerExit> {
    if (!this.done) {
      if (graceMs <= 0) this.signalGroup("SIGKILL");
      else {
        this.signalGroup("SIGTERM");
        this.killTimer ??= setTimeout(() => this.signalGroup("SIGKILL"), graceMs);
      }
    }
    return this.exited;
  }

  oomKill(): Promise<ContainerExit> {
    if (!this.done) {
      this.exitReason = "OOMKilled";
      this.signalGroup("SIGKILL");
    }
    return this.exited;
  }

  private describeExit(code: number | null, signal: NodeJS.Signals | null): ContainerExit {
    if (this.exitReason === "OOMKilled") return { exitCode: 137, reason: "OOMKilled", signal: 9 };
    if (signal !== null) {
      const signo = constants.signals[signal] ?? 9;
      return { exitCode: 128 + signo, reason: "Error", signal: signo };
    }
    return exitWithCode(code ?? 0);
  }

  private signalGroup(signal: NodeJS.Signals): void {
    if (this.pid <= 0) return;
    try {
      process.kill(-this.pid, signal);
    } catch {
      // ESRCH: the group is already gone.
    }
  }

  private async checkMemory(limit: number): Promise<void> {
    if (this.done) return;
    const rss = await groupRss(this.pid);
    if (rss > limit && !this.done) await this.oomKill();
  }
}

/** Resident memory in bytes of `pid` and its descendants (0 when /proc cannot be read). */
async function groupRss(pid: number, depth = 0): Promise<number> {
  let total = 0;
  try {
    const status = await readFile(`/proc/${pid}/status`, "utf8");
    const match = /VmRSS:\s+(\d+)\s+kB/.exec(status);
    if (match) total += Number(match[1]) * 1024;
    if (depth < 8) {
      const children = await readFile(`/proc/${pid}/task/${pid}/children`, "utf8");
      for (const child of children.split(/\s+/).filter(Boolean))
        total += await groupRss(Number(child), depth + 1);
    }
  } catch {
    // The process ended between samples, or /proc lacks children lists.
  }
  return total;
}
