#!/usr/bin/env node
// `npm run generate`: regenerates proto/src/gen (TypeScript via buf + local protoc-gen-es, plus
// per-package barrels). Usage: node scripts/generate.mjs [--dir <moduleDir>]
import { defaultModuleDir, generate } from "./contract-tools.mjs";

const args = process.argv.slice(2);
const dirIndex = args.indexOf("--dir");
const moduleDir = dirIndex >= 0 ? args[dirIndex + 1] : defaultModuleDir;

try {
  const out = generate(moduleDir);
  console.log(`generated ${out}`);
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
}
