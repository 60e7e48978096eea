import { Flags } from "@oclif/core";
import { ExecutionCommand } from "../../execution-command.js";

/** `flotctl delete execution NAME`: terminates it. */
export default class DeleteExecution extends ExecutionCommand<typeof DeleteExecution> {
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
