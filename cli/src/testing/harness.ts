/**
 * Test support: runs flotctl commands in-process with captured output, an isolated home
 * directory and environment, and optionally an injected transport (e.g. `createRouterTransport`).
 */
import type { Transport } from "@connectrpc/connect";
import { runFlotctl } from "../execute.js";
import { setRuntime, type OutputStream } from "../runtime.js";

/** A captured output stream. */
export class Capture implements OutputStream {
  text = "";
  constructor(readonly isTTY = false) {}
  write(chunk: string): boolean {
    this.text += chunk;
    return true;
  }
}

/** Options of {@link runCli}. */
export interface RunCliOptions {
  /** Transport to the admin (default: a network transport to --admin). */
  transport?: Transport;
  /** Environment (default: empty, plus HOME). */
  env?: NodeJS.ProcessEnv;
  /** Home directory holding `.flotilla/config.yaml` (default: a path that does not exist). */
  home?: string;
}

/** What a run produced. */
export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `argv` in-process and returns its exit code and output. Runs must not overlap. */
export async function runCli(argv: string[], options: RunCliOptions = {}): Promise<CliRun> {
  const stdout = new Capture();
  const stderr = new Capture();
  const home = options.home ?? "/nonexistent-flotctl-home";
  setRuntime({
    stdout,
    stderr,
    env: { HOME: home, ...options.env },
    homeDir: home,
    transport: options.transport,
  });
  try {
    const code = await runFlotctl(argv);
    return { code, stdout: stdout.text, stderr: stderr.text };
  } finally {
    setRuntime(undefined);
  }
}
