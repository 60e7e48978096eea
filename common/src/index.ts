export * from "./blob/blob-store.js";
export * from "./k8s/names.js";
