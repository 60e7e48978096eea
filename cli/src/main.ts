// Entry of the `flotctl` bin: runs the command line and exits with its code once output is flushed.
import { runFlotctl } from "./execute.js";
import { stopTracing } from "./tracing.js";

const code = await runFlotctl(process.argv.slice(2));
// With tracing on, the run's spans are exported before the process ends.
await stopTracing();
process.exitCode = code;
