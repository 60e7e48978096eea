export * from "./queue/workqueue.js";
export * from "./workflow/executor.js";
export * from "./workflow/graph.js";
export * from "./workflow/ports.js";
export * from "./workflow/round-context.js";
