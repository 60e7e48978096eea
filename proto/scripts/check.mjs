#!/usr/bin/env node
// `npm run check` / `npm run proto:check`: fails when generated code is stale, `buf lint`
// fails, or `buf breaking` finds a breaking change against the previous state of the module.
// Usage: node scripts/check.mjs [--dir <moduleDir>] [--against <git ref>] [--only stale|lint|breaking]...
// The breaking baseline is --against, else $PROTO_BREAKING_AGAINST, else HEAD when the module
// has uncommitted changes, else HEAD~1.
import {
  checkBreaking,
  checkGeneratedFresh,
  defaultModuleDir,
  lint,
  resolveBreakingAgainst,
} from "./contract-tools.mjs";

const args = process.argv.slice(2);
const valueOf = (flag) => {
  const i = args.indexOf(flag);
  return i >= 0 ? args[i + 1] : undefined;
};
const moduleDir = valueOf("--dir") ?? defaultModuleDir;
const only = args.flatMap((a, i) => (args[i - 1] === "--only" ? [a] : []));
const wants = (step) => only.length === 0 || only.includes(step);

let failed = false;

if (wants("stale")) {
  const { stale, differences } = checkGeneratedFresh(moduleDir);
  if (stale) {
    failed = true;
    console.error(`FAIL stale: src/gen does not match the .proto files; run \`npm run generate\`:`);
    for (const d of differences) console.error(`  ${d}`);
  } else {
    console.log("ok   stale: src/gen is up to date");
  }
}

if (wants("lint")) {
  const { ok, output } = lint(moduleDir);
  if (ok) console.log("ok   lint: buf lint (STANDARD) and buf format are clean");
  else {
    failed = true;
    console.error(`FAIL lint: buf lint reported:\n${output}`);
  }
}

if (wants("breaking")) {
  const explicit = valueOf("--against");
  const { ref, why } = explicit
    ? { ref: explicit, why: "--against" }
    : resolveBreakingAgainst(moduleDir, process.env);
  const result = checkBreaking(moduleDir, ref);
  if (result.status === "skipped") console.log(result.output);
  else if (result.status === "ok") console.log(`ok   breaking: no breaking change against ${ref} (${why})`);
  else {
    failed = true;
    console.error(`FAIL breaking: breaking changes against ${ref} (${why}):\n${result.output}`);
  }
}

process.exit(failed ? 1 : 0);
