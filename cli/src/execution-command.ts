/**
 * The base of the commands about one execution named on the command line
 * (`flotctl delete|explain|watch execution NAME`): the NAME argument and the execution's
 * identifier in the project and domain of the settings.
 */
import type { Command } from "@oclif/core";
import type { WorkflowExecutionIdentifier } from "@flotilla/proto";
import { nameArg } from "./args.js";
import { FlotctlCommand } from "./base-command.js";
import { executionId } from "./resources.js";

/** Base class of the commands that act on the execution named by their NAME argument. */
export abstract class ExecutionCommand<T extends typeof Command> extends FlotctlCommand<T> {
  static override args = { name: nameArg("Execution", { required: true }) };

  /**
   * The identifier of the named execution: project and domain from the settings (throws
   * MissingSettingError when either is unset), name from the argument.
   */
  protected async executionId(): Promise<WorkflowExecutionIdentifier> {
    const project = await this.project();
    const domain = await this.domain();
    return executionId(project, domain, (this.args as { name: string }).name);
  }
}
