// The logger contract and the backoff policy live in @flotilla/common (libraries use them too);
// the runtime re-exports them so a service imports everything from one place.
export {
  AbortedError,
  backoffCeiling,
  backoffDelay,
  retry,
  silentLogger,
  sleep,
  type BackoffOptions,
  type LogFields,
  type Logger,
  type RetryOptions,
} from "@flotilla/common";
export * from "./config.js";
export * from "./errors.js";
export * from "./logger.js";
export * from "./run-main.js";
export * from "./server.js";
export * from "./metrics.js";
export * from "./tracing.js";
