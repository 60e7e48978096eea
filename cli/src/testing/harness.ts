/**
 * Test support: runs flotctl commands in-process with captured output, an isolated home
 * directory and environment, and optionally an injected transport (e.g. `createRouterTransport`).
 */
import type { Transport } from "@connectrpc/connect";
import { EventEmitter } from "node:events";
import { runFlotctl } from "../execute.js";
import { setRuntime, type OutputStream } from "../runtime.js";

/** A captured output stream; with `isTTY` it also looks enough like a terminal for ink. */
export class Capture extends EventEmitter implements OutputStream {
  text = "";
  readonly columns = 120;
  readonly rows = 40;
  constructor(readonly isTTY = false) {
    super();
  }
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
  /** Make stdout look like a terminal (live views, colours). */
  tty?: boolean;
}

/** What a run produced. */
export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `argv` in-process and returns its exit code and output. Runs must not overlap. */
export async function runCli(argv: string[], options: RunCliOptions = {}): Promise<CliRun> {
  const stdout = new Capture(options.tty ?? false);
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
