/**
 * Entry of the detached demo supervisor that `flotctl demo start --detach` spawns in its own
 * session (output goes to `{dir}/supervisor.log`):
 *   node supervisor-main.js --dir DIR --admin-port N --rm-port N --timeout-ms N [--examples DIR]
 *     [--prometheus BINARY --prometheus-port N]
 * Exits 0 after a requested stop, 1 when the demo failed.
 */
import { parseArgs } from "node:util";
import { readyBanner } from "./report.js";
import { superviseDemo } from "./supervise.js";

const { values } = parseArgs({
  options: {
    dir: { type: "string" },
    "admin-port": { type: "string" },
    "rm-port": { type: "string" },
    "timeout-ms": { type: "string" },
    examples: { type: "string" },
    prometheus: { type: "string" },
    "prometheus-port": { type: "string" },
  },
  strict: true,
});
const stamp = () => new Date().toISOString();
try {
  const end = await superviseDemo(
    {
      dir: values.dir!,
      adminPort: Number(values["admin-port"]),
      resourceManagerPort: Number(values["rm-port"]),
      stepTimeoutMs: Number(values["timeout-ms"]),
      ...(values.examples ? { examplesDir: values.examples } : {}),
      ...(values.prometheus
        ? { prometheus: { binary: values.prometheus, port: Number(values["prometheus-port"]) } }
        : {}),
    },
    {
      progress: (line) => console.log(`${stamp()} ${line}`),
      ready: (state) => console.log(`${stamp()} ready\n${readyBanner(state)}`),
    },
  );
  console.log(`${stamp()} demo ended: ${end.reason}`);
  process.exit(end.ok ? 0 : 1);
} catch (err) {
  console.error(`${stamp()} demo failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
