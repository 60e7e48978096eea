import { DemoCommand } from "../../demo-command.js";
import { CliError } from "../../errors.js";

/** `flotctl demo status`. */
export default class DemoStatus extends DemoCommand<typeof DemoStatus> {
  async run(): Promise<void> {
    const { DemoPhase, processAlive, readDemoState } = await import("../../demo/state.js");
    const { statusTable } = await import("../../demo/report.js");
    const layout = await this.demoLayout();
    const state = await readDemoState(layout);
    if (!state) {
      throw new CliError("not_running", `no demo in ${layout.dir}: start one with \`flotctl demo start\``, [
        { dir: layout.dir },
      ]);
    }
    const running =
      processAlive(state.pid) && state.phase !== DemoPhase.stopped && state.phase !== DemoPhase.failed;
    await this.print({ data: { running, ...state }, table: () => statusTable(state, running, this.color) });
    if (!running || state.phase !== DemoPhase.ready) {
      this.exit(1);
    }
  }
}
