export * from "./blob/blob-store.js";
export * from "./k8s/names.js";
export * from "./blob/literals.js";
export * from "./k8s/workflow-execution.js";
export * from "./literals/plain-values.js";
export * from "./units/duration.js";
export * from "./logging/logger.js";
export * from "./retry/backoff.js";
