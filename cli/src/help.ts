/**
 * Help text shared by flotctl commands.
 */

/**
 * The `examples` of a command, each written as a user types it (`flotctl get executions -o json`,
 * pipelines included). Every `flotctl` that stands as a command word becomes oclif's
 * `<%= config.bin %>`, so the help shows the name the CLI was installed under; a `flotctl` inside
 * a path or a word (`/etc/bash_completion.d/flotctl`, `_flotctl`) is left alone.
 */
export function examples(...lines: string[]): string[] {
  return lines.map((line) => line.replace(/(^|[\s(])flotctl(?= )/g, "$1<%= config.bin %>"));
}
