import { runMain } from "@flotilla/runtime";
import { startAdmin } from "./admin.js";
import { loadAdminConfig } from "./config.js";

// Entry of the `flotilla-admin` bin: flotilla-admin [--config admin.yaml] [--port N] [--set k=v]
// [--print-config]. Exit codes: 0 stopped cleanly, 1 runtime failure, 2 usage or config error.
void runMain("admin", async ({ argv, env, logger }) => {
  const { config, done } = await loadAdminConfig({ argv, env });
  if (done) return;
  const running = await startAdmin(config, { logger, processMetrics: true });
  logger.info("admin listening", {
    url: running.url,
    port: running.port,
    database: config.database.url ? "postgres" : "pglite",
  });
  // Tests and wrappers read this line to find the port.
  process.stdout.write(`listening on ${running.url}\n`);
  return running;
});
