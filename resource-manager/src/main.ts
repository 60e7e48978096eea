// Entry point of the `flotilla-resource-manager` bin:
//   flotilla-resource-manager [--config rm.yaml] [--set KEY=VALUE]... [--print-config]
//                             [--port N] [--host ADDR] [--database-url URL] [--data-dir DIR]
//                             [--advertise-url URL]
// Logs JSON lines on stderr; prints "resource-manager listening on <url> (<backend>)" on stdout
// when ready. Exit codes: 0 clean stop, 1 runtime failure, 2 usage or config error.
import { loadConfig, runMain } from "@flotilla/runtime";
import { resourceManagerConfig } from "./config.js";
import { startResourceManager } from "./start.js";

void runMain("resource-manager", async ({ argv, env, logger }) => {
  const { config, done } = await loadConfig(resourceManagerConfig, { argv, env });
  if (done) return;
  const databaseUrl = config.database.url;
  const running = await startResourceManager({
    host: config.server.host,
    port: config.server.port,
    ...(databaseUrl !== undefined ? { databaseUrl } : {}),
    ...(config.database.dataDir !== undefined ? { dataDir: config.database.dataDir } : {}),
    pools: config.pools,
    ...(config.server.advertiseUrl !== undefined ? { advertiseUrl: config.server.advertiseUrl } : {}),
    sweepIntervalMs: config.sweepInterval,
    electionIntervalMs: config.electionInterval,
    shutdownGraceMs: config.server.shutdownGrace,
    defaultMetrics: true,
    log: logger,
  });
  // Tests and the demo supervisor read this line to find the URL.
  process.stdout.write(
    `resource-manager listening on ${running.url} (${databaseUrl ? "postgres" : "embedded pglite"})\n`,
  );
  logger.info("listening", { url: running.url, role: running.role() });
  return running;
});
