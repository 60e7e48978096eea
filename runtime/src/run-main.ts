import { isUsageProblem } from "./errors.js";
import type { Logger } from "@flotilla/common";
import { createLogger } from "./logger.js";
import { startTracing, type Tracing } from "./tracing.js";

/** What a service's start function gets. */
export interface MainContext {
  /** The command line after the bin. */
  readonly argv: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  /** The process's logger, `component` = the service name. */
  readonly logger: Logger;
}

/** A started service: what the main wrapper stops on SIGTERM or SIGINT. */
export interface RunningService {
  stop(): Promise<void>;
}

/** Options of {@link runMain}. */
export interface RunMainOptions {
  /** How long `stop()` may take after a signal before the process exits 1 (default 30 s). */
  readonly shutdownDeadlineMs?: number;
  /** The logger to use instead of a new one (tests). */
  readonly logger?: Logger;
  /** Exits the process (tests replace it). */
  readonly exit?: (code: number) => void;
}

/** How long the spans left at stop may take to export before the process exits anyway. */
const TRACING_FLUSH_MS = 5_000;

/** Process exit codes shared by every Flotilla bin. */
export const ExitCode = {
  /** Stopped cleanly, or `--help` / `--print-config` answered. */
  Ok: 0,
  /** Failed at run time: start failed, stop failed or overran its deadline, an uncaught error. */
  Failure: 1,
  /** The command line or the configuration is wrong (UsageError, ConfigError). */
  Usage: 2,
} as const;

/**
 * Runs a service bin: calls `start`, then waits for SIGTERM or SIGINT and calls `stop()` with
 * a deadline (a signal during startup stops the service once it is up; a second signal exits 1 at
 * once). Exits 0 after a clean stop (or at once when `start` returns nothing, e.g. after
 * `--help`), 2 when `start` throws a UsageError or ConfigError (the message goes to standard
 * error as `<name>: <message>`), 1 for any other failure. Returns the promise of the start.
 *
 * Before `start`, tracing is started when `OTEL_*` says so (see `tracing.ts`; `service.name`
 * defaults to `flotilla-<name>`, the bin's name). Before the process exits, the spans left are
 * exported for at most 5 s — except on a second signal or an overrun deadline, which exit at once.
 */
export function runMain(
  name: string,
  start: (context: MainContext) => Promise<RunningService | undefined | void>,
  options: RunMainOptions = {},
): Promise<void> {
  const exitProcess = options.exit ?? ((code: number) => process.exit(code));
  let tracing: Tracing | undefined;
  // Spans still buffered are exported (bounded) before the process exits.
  const exit = (code: number) => {
    const t = tracing;
    tracing = undefined;
    if (t === undefined) return exitProcess(code);
    const cut = new Promise<void>((done) => setTimeout(done, TRACING_FLUSH_MS).unref());
    void Promise.race([t.shutdown().catch(() => undefined), cut]).then(() => exitProcess(code));
  };
  const deadlineMs = options.shutdownDeadlineMs ?? 30_000;
  let logger: Logger;
  try {
    logger = options.logger ?? createLogger({ component: name });
  } catch (err) {
    process.stderr.write(`${name}: ${(err as Error).message}\n`);
    exit(ExitCode.Usage);
    return Promise.resolve();
  }
  const fail = (message: string, err: unknown) => {
    logger.error(message, { error: err });
    exit(ExitCode.Failure);
  };
  process.on("uncaughtException", (err) => fail("uncaught exception", err));
  process.on("unhandledRejection", (err) => fail("unhandled rejection", err));
  // Signals are handled from the start: one during startup stops the service as soon as it is
  // up; a second signal at any time exits at once.
  let service: RunningService | undefined;
  let signalled: string | undefined;
  const stop = (running: RunningService, signal: string) => {
    logger.info("shutting down", { signal, deadlineMs });
    const overrun = setTimeout(() => {
      logger.error("shutdown overran its deadline", { deadlineMs });
      exitProcess(ExitCode.Failure);
    }, deadlineMs);
    overrun.unref();
    running.stop().then(
      () => {
        clearTimeout(overrun);
        exit(ExitCode.Ok);
      },
      (err: unknown) => fail("shutdown failed", err),
    );
  };
  const onSignal = (signal: string) => {
    if (signalled !== undefined) {
      logger.warn("second signal: exiting without waiting for shutdown", { signal });
      exitProcess(ExitCode.Failure);
      return;
    }
    signalled = signal;
    if (service) stop(service, signal);
  };
  process.on("SIGTERM", () => onSignal("SIGTERM"));
  process.on("SIGINT", () => onSignal("SIGINT"));
  const tracingStarted = startTracing(`flotilla-${name}`, process.env).then((t) => {
    tracing = t;
    if (t) logger.info("tracing on", { serviceName: t.serviceName });
  });
  return tracingStarted
    .then(() => start({ argv: process.argv.slice(2), env: process.env, logger }))
    .then(
      (started) => {
        if (!started) {
          exit(ExitCode.Ok);
          return;
        }
        service = started;
        if (signalled !== undefined) stop(started, signalled);
      },
      (err: unknown) => {
        if (isUsageProblem(err)) {
          process.stderr.write(`${name}: ${err.message}\n`);
          exit(ExitCode.Usage);
          return;
        }
        fail("failed to start", err);
      },
    );
}
