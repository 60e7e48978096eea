import { Flags } from "@oclif/core";
import { ExecutionOutcomeError } from "../../errors.js";
import { ExecutionCommand } from "../../execution-command.js";
import { fetchExecutionView, type ExecutionView } from "../../views/snapshot.js";

/** `flotctl watch execution NAME`. */
export default class WatchExecution extends ExecutionCommand<typeof WatchExecution> {
  static override flags = {
    "no-tty": Flags.boolean({ summary: "Print plain phase changes instead of the live tree." }),
    interval: Flags.string({ summary: "Poll interval (e.g. 500ms, 2s).", default: "1s" }),
    timeout: Flags.string({ summary: "Give up after this long (e.g. 10m); default: wait forever." }),
  };

  async run(): Promise<void> {
    const { tryParseDuration } = await import("@flotilla/common");
    const { UsageError } = await import("../../errors.js");
    const intervalMs = tryParseDuration(this.flags.interval, { bareSeconds: true });
    if (intervalMs === undefined || intervalMs < 50)
      throw new UsageError(`--interval "${this.flags.interval}" must be a duration of at least 50ms`);
    const timeoutMs =
      this.flags.timeout === undefined
        ? undefined
        : tryParseDuration(this.flags.timeout, { bareSeconds: true });
    if (this.flags.timeout !== undefined && (timeoutMs === undefined || timeoutMs <= 0))
      throw new UsageError(`--timeout "${this.flags.timeout}" is not a duration`);
    const id = await this.executionId();
    const client = await this.client();
    const deadline = timeoutMs === undefined ? Infinity : Date.now() + timeoutMs;
    const poll = async (): Promise<ExecutionView> => {
      if (Date.now() > deadline) {
        const { CliError } = await import("../../errors.js");
        throw new CliError(
          "timeout",
          `execution ${this.args.name} did not finish within ${this.flags.timeout}`,
        );
      }
      return fetchExecutionView(client, id);
    };
    const format = await this.outputFormat();
    const live = !this.flags["no-tty"] && Boolean(this.runtime.stdout.isTTY) && format === "table";
    const final = live
      ? await this.watchLive(poll, intervalMs)
      : await this.watchPlain(poll, intervalMs, format === "table");
    if (format !== "table") await this.print({ data: final, table: () => "" });
    if (final.phase !== "SUCCEEDED")
      throw new ExecutionOutcomeError(this.args.name, final.phase, final.error || final.message);
  }

  private async watchPlain(
    poll: () => Promise<ExecutionView>,
    intervalMs: number,
    print: boolean,
  ): Promise<ExecutionView> {
    const { PhaseChangeLog } = await import("../../watch/plain.js");
    const log = new PhaseChangeLog();
    for (;;) {
      const view = await poll();
      if (print) for (const line of log.changes(view)) this.out(line);
      if (view.terminal) return view;
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  }

  private async watchLive(poll: () => Promise<ExecutionView>, intervalMs: number): Promise<ExecutionView> {
    const [{ render }, { createElement }, { ExecutionWatch }] = await Promise.all([
      import("ink"),
      import("react"),
      import("../../watch/execution-watch.js"),
    ]);
    let result: { view?: ExecutionView; error?: unknown } = {};
    const app = render(createElement(ExecutionWatch, { poll, intervalMs, onDone: (r) => (result = r) }), {
      stdout: this.runtime.stdout as NodeJS.WriteStream,
      exitOnCtrlC: true,
    });
    await app.waitUntilExit();
    if (result.error !== undefined)
      throw result.error instanceof Error
        ? result.error
        : new Error("the watch stopped", { cause: result.error });
    if (!result.view) throw new ExecutionOutcomeError(this.args.name, "UNKNOWN", "the watch was interrupted");
    return result.view;
  }
}
