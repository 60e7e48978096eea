import { Flags } from "@oclif/core";
import { ExecutionCommand } from "../../execution-command.js";
import { examples } from "../../help.js";

/** `flotctl delete execution NAME`: terminates it. */
export default class DeleteExecution extends ExecutionCommand<typeof DeleteExecution> {
  static override summary = "Terminate (abort) a running execution.";
  static override description =
    "The propeller aborts its running pods and releases its tokens; the execution ends ABORTED. Terminating a finished execution fails.";
  static override examples = examples(
    "flotctl delete execution f3k2abc -p flytesnacks -d development",
    "flotctl delete execution f3k2abc --cause 'wrong inputs'",
  );
  static override flags = {
    cause: Flags.string({ summary: "Why it is terminated.", default: "terminated with flotctl" }),
  };

  async run(): Promise<void> {
    const id = await this.executionId();
    const { cause } = this.flags;
    await (await this.client()).terminateExecution({ id, cause });
    await this.print({
      data: { project: id.project, domain: id.domain, name: id.name, terminated: true, cause },
      table: () => `execution ${id.name} terminating (${cause})`,
    });
  }
}
