import { parseArgs } from "node:util";
import { startAdmin } from "./admin.js";
import { loadAdminConfig } from "./config.js";
import { createJsonLogger } from "./logger.js";

// Entry of the `flotilla-admin` bin: flotilla-admin [--config admin.yaml]
const logger = createJsonLogger();

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { config: { type: "string", short: "c" } }, strict: true });
  const config = await loadAdminConfig(values.config);
  const running = await startAdmin(config, { logger });
  logger.info("admin listening", {
    url: running.url,
    port: running.port,
    database: config.database.url ? "postgres" : "pglite",
  });
  // Tests and wrappers read this line to find the port.
  process.stdout.write(`listening on ${running.url}\n`);
  let signalled = false;
  const shutdown = (signal: string) => {
    if (signalled) return;
    signalled = true;
    logger.info("shutting down", { signal });
    running.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error("shutdown failed", { error: err });
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));
}

main().catch((err: unknown) => {
  logger.error("admin failed to start", { error: err });
  process.exit(1);
});
