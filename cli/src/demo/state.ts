/**
 * The demo's state file and supervisor lock. The supervisor is the only writer of the state file
 * (written whole to a temporary file, then renamed, so readers never see half a document);
 * `demo status` and `demo stop` only read it.
 */
import { open, readFile, rename, rm, writeFile } from "node:fs/promises";
import type { DemoLayout } from "./layout.js";

/** Lifecycle of one supervised component process. */
export const ComponentPhase = {
  starting: "starting",
  running: "running",
  restarting: "restarting",
  stopped: "stopped",
  failed: "failed",
} as const;
export type ComponentPhase = (typeof ComponentPhase)[keyof typeof ComponentPhase];

/** Lifecycle of the demo as a whole. */
export const DemoPhase = {
  starting: "starting",
  ready: "ready",
  stopping: "stopping",
  stopped: "stopped",
  failed: "failed",
} as const;
export type DemoPhase = (typeof DemoPhase)[keyof typeof DemoPhase];

/** One component process as the supervisor last saw it. */
export interface ComponentState {
  /** Unique name: `sandbox`, `admin`, `resource-manager`, `propeller-east`, ... */
  name: string;
  phase: ComponentPhase;
  pid?: number | undefined;
  /** The component's endpoint (API, or metrics for propellers) once ready. */
  url?: string | undefined;
  /** Times the supervisor restarted it after it exited unexpectedly. */
  restarts: number;
  /** Its log file (stdout and stderr). */
  log: string;
  /** Why it last exited, when it did. */
  lastExit?: string | undefined;
}

/** One sandbox cluster of the demo. */
export interface DemoCluster {
  name: string;
  /** Its API server URL. */
  url: string;
  labels: Record<string, string>;
}

/** The whole state file. */
export interface DemoState {
  /** The supervisor's pid (the process `demo stop` signals). */
  pid: number;
  dir: string;
  phase: DemoPhase;
  startedAt: string;
  /** When the demo became ready, and how long that took. */
  readyAt?: string | undefined;
  readyAfterMs?: number | undefined;
  /** Why the demo failed, when it did. */
  error?: string | undefined;
  adminUrl: string;
  resourceManagerUrl: string;
  /** With `--prometheus`: the Prometheus scraping every component. */
  prometheusUrl?: string | undefined;
  kubeconfig: string;
  clusters: DemoCluster[];
  /** Projects created by the bootstrap, with their isolation label ("" = shared clusters). */
  projects: Array<{ id: string; isolation: string }>;
  /** Names of the launch plans and workflows registered from examples/ (version `examplesVersion`). */
  launchPlans: string[];
  workflows: string[];
  examplesVersion: string;
  components: ComponentState[];
}

/** Reads the state file; undefined when there is none (or it is not valid JSON). */
export async function readDemoState(layout: DemoLayout): Promise<DemoState | undefined> {
  let text: string;
  try {
    text = await readFile(layout.stateFile, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  try {
    return JSON.parse(text) as DemoState;
  } catch {
    return undefined;
  }
}

/** Writes the state file atomically (temporary file + rename). */
export async function writeDemoState(layout: DemoLayout, state: DemoState): Promise<void> {
  const tmp = `${layout.stateFile}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(state, null, 2) + "\n");
  await rename(tmp, layout.stateFile);
}

/** Whether a process with `pid` exists (signal 0 probes without signalling). */
export function processAlive(pid: number | undefined): boolean {
  if (!pid || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The supervisor lock is held by a live process. */
export class DemoAlreadyRunningError extends Error {
  override readonly name = "DemoAlreadyRunningError";
  constructor(
    readonly pid: number,
    readonly dir: string,
  ) {
    super(`a demo is already running in ${dir} (supervisor pid ${pid})`);
  }
}

/** Pid recorded in the lock file, or undefined when there is no lock (or it is unreadable). */
export async function lockHolder(layout: DemoLayout): Promise<number | undefined> {
  try {
    const pid = Number((await readFile(layout.lockFile, "utf8")).trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Takes the supervisor lock for this process: creates the lock file exclusively with our pid.
 * A lock left by a dead process is removed and taken over (its leftover children are the
 * caller's to clean up, see `staleState`). Throws {@link DemoAlreadyRunningError} when a live
 * process holds it. Returns a function that releases the lock.
 */
export async function acquireLock(layout: DemoLayout): Promise<() => Promise<void>> {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const handle = await open(layout.lockFile, "wx");
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      return async () => {
        if ((await lockHolder(layout)) === process.pid) await rm(layout.lockFile, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const holder = await lockHolder(layout);
      if (holder !== undefined && holder !== process.pid && processAlive(holder))
        throw new DemoAlreadyRunningError(holder, layout.dir);
      await rm(layout.lockFile, { force: true });
    }
  }
  throw new Error(`cannot take the demo lock ${layout.lockFile}: it keeps reappearing`);
}

/**
 * SIGKILLs the component processes recorded in `state` that are still alive and really are this
 * demo's (their command line names a `flotilla-` bin and the demo directory, so a reused pid is
 * never hit). Returns how many were killed.
 */
export async function killComponentProcesses(state: DemoState | undefined): Promise<number> {
  let killed = 0;
  for (const c of state?.components ?? []) {
    if (!c.pid || !processAlive(c.pid)) continue;
    const cmdline = await readFile(`/proc/${c.pid}/cmdline`, "utf8").catch(() => "");
    if (!cmdline.includes("flotilla-") || !cmdline.includes(state!.dir)) continue;
    process.kill(c.pid, "SIGKILL");
    killed++;
  }
  return killed;
}
