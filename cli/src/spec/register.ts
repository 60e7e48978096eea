/**
 * Registration of spec files: parse every document, compile against the admin, and — only when
 * there is no problem at all — register tasks, workflows and launch plans in dependency order.
 * Used by `flotctl register files` and by the demo's bootstrap.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import type { AdminClient } from "../client.js";
import { CliError, InvalidSpecError, type SpecProblem } from "../errors.js";
import { compileSpecs, type PlanItem } from "./compile.js";
import { adminLookup } from "./lookup.js";
import { parseSpecFiles, type SpecSource } from "./parse.js";

/** Where and under which version specs are registered. */
export interface RegisterTarget {
  project: string;
  domain: string;
  version: string;
  /** Validate only; register nothing. */
  dryRun?: boolean;
}

/** One entity of the plan and what happened to it. */
export interface RegisteredEntity {
  kind: PlanItem["kind"];
  name: string;
  version: string;
  status: "registered" | "valid";
}

/**
 * Validates `sources` completely, then registers every entity under `target` (unless dry-run).
 * Returns one entry per entity in registration order. Throws {@link InvalidSpecError} listing
 * every problem (nothing registered), or a {@link CliError} naming file:line when the admin
 * refuses an entity (AlreadyExists with other content, InvalidArgument). Re-registering identical
 * content succeeds. Other RPC errors pass through for the caller to map.
 */
export async function registerSpecs(
  client: AdminClient,
  sources: SpecSource[],
  target: RegisterTarget,
): Promise<RegisteredEntity[]> {
  const { project, domain, version } = target;
  const parsed = parseSpecFiles(sources);
  const compiled = await compileSpecs(parsed.docs, { project, domain, version, lookup: adminLookup(client) });
  const problems = sortProblems([...parsed.problems, ...compiled.problems]);
  if (problems.length) throw new InvalidSpecError(problems);
  const results: RegisteredEntity[] = [];
  for (const item of compiled.plan) {
    if (!target.dryRun) await registerItem(client, item, target);
    results.push({
      kind: item.kind,
      name: item.name,
      version,
      status: target.dryRun ? "valid" : "registered",
    });
  }
  return results;
}

async function registerItem(client: AdminClient, item: PlanItem, target: RegisterTarget): Promise<void> {
  const { project, domain, version } = target;
  try {
    if (item.kind === "Task") await client.createTask(item.request);
    else if (item.kind === "Workflow") await client.createWorkflow(item.request);
    else await client.createLaunchPlan(item.request);
  } catch (err) {
    if (!(err instanceof ConnectError)) throw err;
    const where = `${item.origin.file}:${item.origin.at.line}:${item.origin.at.column}`;
    const what = `${item.kind === "LaunchPlan" ? "launch plan" : item.kind.toLowerCase()} ${item.name} ${version}`;
    const position = { file: item.origin.file, line: item.origin.at.line, column: item.origin.at.column };
    if (err.code === Code.AlreadyExists) {
      throw new CliError(
        "already_exists",
        `${where}: ${what} is already registered in ${project}/${domain} with different content; register under a new --version`,
        [{ ...position, kind: item.kind, name: item.name, version }],
      );
    }
    if (err.code === Code.InvalidArgument) {
      throw new CliError("invalid_argument", `${where}: the admin rejected ${what}: ${err.rawMessage}`, [
        { ...position, message: err.rawMessage },
      ]);
    }
    throw err;
  }
}

function sortProblems(problems: SpecProblem[]): SpecProblem[] {
  return [...problems].sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column);
}
