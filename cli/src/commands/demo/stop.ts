import { Flags } from "@oclif/core";
import { DemoCommand } from "../../demo-command.js";
import { CliError } from "../../errors.js";

/** How long `demo stop` waits for the supervisor to stop its components before killing them. */
const STOP_TIMEOUT_MS = 30_000;

/** `flotctl demo stop`. */
export default class DemoStop extends DemoCommand<typeof DemoStop> {
  static override flags = {
    ...DemoCommand.flags,
    purge: Flags.boolean({ summary: "Also delete the demo directory (data and logs)." }),
  };

  async run(): Promise<void> {
    const { rm } = await import("node:fs/promises");
    const { killComponentProcesses, lockHolder, processAlive, readDemoState } =
      await import("../../demo/state.js");
    const layout = await this.demoLayout();
    const state = await readDemoState(layout);
    const pid = (await lockHolder(layout)) ?? state?.pid;
    let message: string;
    if (pid !== undefined && processAlive(pid)) {
      process.kill(pid, "SIGTERM");
      const deadline = Date.now() + STOP_TIMEOUT_MS;
      while (processAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      let killed = 0;
      if (processAlive(pid)) {
        process.kill(pid, "SIGKILL");
        killed = await killComponentProcesses((await readDemoState(layout)) ?? state);
      }
      message = `demo stopped (supervisor pid ${pid}${killed ? `; killed ${killed} component processes that did not stop in time` : ""})`;
    } else {
      const leftovers = await killComponentProcesses(state);
      message = leftovers
        ? `no demo supervisor was running in ${layout.dir}; killed ${leftovers} leftover component processes`
        : `no demo is running in ${layout.dir}`;
    }
    if (this.flags.purge) {
      await rm(layout.dir, { recursive: true, force: true }).catch((err: unknown) => {
        throw new CliError("purge_failed", `cannot delete ${layout.dir}: ${(err as Error).message}`);
      });
      message += `; deleted ${layout.dir}`;
    }
    await this.print({ data: { stopped: true, dir: layout.dir, message }, table: () => message });
  }
}
