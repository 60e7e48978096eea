import { DemoCommand } from "../../demo-command.js";
import { CliError } from "../../errors.js";
import { examples } from "../../help.js";

/** `flotctl demo status`. */
export default class DemoStatus extends DemoCommand<typeof DemoStatus> {
  static override summary = "Show the local demo's components, endpoints and restarts.";
  static override description =
    "Reads the state the demo supervisor keeps in the demo directory and checks that the supervisor is alive. Exits 0 when a demo is running and ready, 1 otherwise (not running, still starting, or failed).";
  static override examples = examples("flotctl demo status", "flotctl demo status -o json");

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
