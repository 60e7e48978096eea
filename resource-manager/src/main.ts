// Entry point of the `flotilla-resource-manager` bin:
//   flotilla-resource-manager [--config rm.yaml] [--port N] [--host ADDR] [--database-url URL]
//                             [--data-dir DIR] [--advertise-url URL]
// Logs JSON lines on stderr; prints "resource-manager listening on <url>" on stdout when ready.
import { parseArgs } from "node:util";
import { ConfigError, loadConfigFile, parseConfig, type ResourceManagerConfig } from "./config.js";
import type { Logger } from "./manager/resource-manager.js";
import { startResourceManager } from "./start.js";

const log: Logger = (level, message, fields) => {
  process.stderr.write(
    JSON.stringify({
      time: new Date().toISOString(),
      level,
      component: "resource-manager",
      message,
      ...fields,
    }) + "\n",
  );
};

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      config: { type: "string", short: "c" },
      port: { type: "string" },
      host: { type: "string" },
      "database-url": { type: "string" },
      "data-dir": { type: "string" },
      "advertise-url": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(
      "usage: flotilla-resource-manager [--config rm.yaml] [--port N] [--host ADDR] [--database-url URL] [--data-dir DIR] [--advertise-url URL]\n",
    );
    return;
  }
  const fileConfig: ResourceManagerConfig = values.config
    ? await loadConfigFile(values.config)
    : parseConfig({});
  const port = values.port !== undefined ? Number(values.port) : fileConfig.port;
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new ConfigError("--port", "port", "must be an integer in [0, 65535]");
  const databaseUrl =
    values["database-url"] ?? process.env.FLOTILLA_RM_DATABASE_URL ?? fileConfig.databaseUrl;
  const dataDir = values["data-dir"] ?? fileConfig.dataDir;
  const running = await startResourceManager({
    host: values.host ?? fileConfig.host,
    port,
    ...(databaseUrl !== undefined ? { databaseUrl } : {}),
    ...(databaseUrl === undefined && dataDir !== undefined ? { dataDir } : {}),
    pools: fileConfig.pools,
    ...((values["advertise-url"] ?? fileConfig.advertiseUrl) !== undefined
      ? { advertiseUrl: (values["advertise-url"] ?? fileConfig.advertiseUrl) as string }
      : {}),
    sweepIntervalMs: fileConfig.sweepIntervalMs,
    electionIntervalMs: fileConfig.electionIntervalMs,
    defaultMetrics: true,
    log,
  });
  process.stdout.write(
    `resource-manager listening on ${running.url} (${databaseUrl ? "postgres" : "embedded pglite"})\n`,
  );
  log("info", "listening", { url: running.url, role: running.role() });
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log("info", "shutting down", { signal });
    running.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log("error", "shutdown failed", { error: err instanceof Error ? err.message : String(err) });
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));
}

main().catch((err: unknown) => {
  log("error", "failed to start", { error: err instanceof Error ? err.message : String(err) });
  process.exit(err instanceof ConfigError ? 2 : 1);
});
