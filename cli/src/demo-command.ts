/**
 * The base of the `flotctl demo` commands: the `--dir` flag and the layout of the demo directory
 * it names.
 */
import type { Command } from "@oclif/core";
import { FlotctlCommand } from "./base-command.js";
import type { DemoLayout } from "./demo/layout.js";
import { demoDirFlag } from "./flags.js";

/** Base class of `demo start`, `demo status` and `demo stop`. */
export abstract class DemoCommand<T extends typeof Command> extends FlotctlCommand<T> {
  static override flags = { dir: demoDirFlag };

  /** The layout of the demo directory: `--dir`, else `$FLOTILLA_DEMO_DIR`, else `~/.flotilla/demo`. */
  protected async demoLayout(): Promise<DemoLayout> {
    const { defaultDemoDir, demoLayout } = await import("./demo/layout.js");
    const { dir } = this.flags as { dir?: string };
    return demoLayout(dir ?? defaultDemoDir(this.runtime.env, this.runtime.homeDir));
  }
}
