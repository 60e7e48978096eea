// Entry of the `flotctl` bin: runs the command line and exits with its code once output is flushed.
import { runFlotctl } from "./execute.js";

const code = await runFlotctl(process.argv.slice(2));
process.exitCode = code;
