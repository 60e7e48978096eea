export * from "./backoff.js";
export * from "./config.js";
export * from "./errors.js";
export * from "./logger.js";
export * from "./run-main.js";
export * from "./server.js";
export * from "./metrics.js";
