/**
 * The process-level surroundings of a flotctl run: where output goes, the environment, the
 * home directory and (for tests) a ready-made transport to the admin. Commands read it through
 * {@link getRuntime}; the bin uses the real process, tests install their own with
 * {@link setRuntime} so commands can be run in-process and their output asserted.
 */
import type { Transport } from "@connectrpc/connect";
import { homedir } from "node:os";

/** A text sink: process.stdout/stderr or a test buffer. */
export interface OutputStream {
  write(chunk: string): unknown;
  /** Whether the sink is an interactive terminal (tables get colours, watch gets ink). */
  readonly isTTY?: boolean | undefined;
  /** Terminal width, when known. */
  readonly columns?: number | undefined;
}

/** Everything a command needs from its surroundings. */
export interface CliRuntime {
  stdout: OutputStream;
  stderr: OutputStream;
  env: NodeJS.ProcessEnv;
  /** Home directory; the config file defaults to `{homeDir}/.flotilla/config.yaml`. */
  homeDir: string;
  /** When set, every admin call goes through it instead of a network transport to `--admin`. */
  transport?: Transport | undefined;
}

/** The runtime of the real process. */
export function processRuntime(): CliRuntime {
  return { stdout: process.stdout, stderr: process.stderr, env: process.env, homeDir: homedir() };
}

let current: CliRuntime | undefined;

/** Returns the runtime installed by {@link setRuntime}, or the real process's. */
export function getRuntime(): CliRuntime {
  current ??= processRuntime();
  return current;
}

/** Installs `runtime` for subsequent commands (undefined restores the process runtime). */
export function setRuntime(runtime: CliRuntime | undefined): void {
  current = runtime;
}
