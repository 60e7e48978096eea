/**
 * Arguments shared by flotctl commands: the `NAME` of the one resource a command is about.
 */
import { Args, type Interfaces } from "@oclif/core";

/**
 * The `NAME` argument of a command about one `kind` of resource; its help reads
 * "`kind` name." ("Execution" → "Execution name."). Returns a required argument when
 * `options.required` is set, else an optional one (list commands show one by name).
 */
export function nameArg(kind: string, options: { required: true }): Interfaces.Arg<string>;
export function nameArg(kind: string): Interfaces.Arg<string | undefined>;
export function nameArg(
  kind: string,
  options?: { required: true },
): Interfaces.Arg<string> | Interfaces.Arg<string | undefined> {
  const description = `${kind} name.`;
  return options?.required ? Args.string({ description, required: true }) : Args.string({ description });
}
