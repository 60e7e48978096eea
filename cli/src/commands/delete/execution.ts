import { Flags } from "@oclif/core";
import { nameArg } from "../../args.js";
import { FlotctlCommand } from "../../base-command.js";
import { examples } from "../../help.js";
import { executionId } from "../../resources.js";

/** `flotctl delete execution NAME`: terminates it. */
export default class DeleteExecution extends FlotctlCommand<typeof DeleteExecution> {
  static override summary = "Terminate (abort) a running execution.";
  static override description =
    "The propeller aborts its running pods and releases its tokens; the execution ends ABORTED. Terminating a finished execution fails.";
  static override examples = examples(
    "flotctl delete execution f3k2abc -p flytesnacks -d development",
    "flotctl delete execution f3k2abc --cause 'wrong inputs'",
  );
  static override args = { name: nameArg("Execution", { required: true }) };
  static override flags = {
    cause: Flags.string({ summary: "Why it is terminated.", default: "terminated with flotctl" }),
  };

  async run(): Promise<void> {
    const project = await this.project();
    const domain = await this.domain();
    await (
      await this.client()
    ).terminateExecution({ id: executionId(project, domain, this.args.name), cause: this.flags.cause });
    await this.print({
      data: { project, domain, name: this.args.name, terminated: true, cause: this.flags.cause },
      table: () => `execution ${this.args.name} terminating (${this.flags.cause})`,
    });
  }
}
