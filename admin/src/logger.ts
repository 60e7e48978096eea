import type { Logger } from "@flotilla/common";
import { createLogger } from "@flotilla/runtime";

/** The admin's logger: the one structured logger of `@flotilla/runtime`. */
export type AdminLogger = Logger;

/**
 * Creates the runtime's JSON logger writing to `stream` (stderr by default): one object per
 * line with `level`, `time`, `component`, `msg` and the fields.
 */
export function createJsonLogger(
  stream: NodeJS.WritableStream = process.stderr,
  component = "admin",
): AdminLogger {
  return createLogger({ component, destination: stream });
}

export { silentLogger } from "@flotilla/common";
