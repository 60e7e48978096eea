/**
 * Exec files (`flotctl create execution --exec-file run.yaml`): what to run and with which
 * inputs, as YAML:
 *
 * ```yaml
 * launchPlan: hello-lp      # or  workflow: hello
 * version: v1               # default: the latest version
 * name: hello-1             # optional execution name (DNS-1123 label, 1-20 chars)
 * inputs: {name: world}
 * labels: {team: ml}
 * annotations: {ticket: OPS-1}
 * clusterLabel: gpu
 * maxParallelism: 4
 * ```
 */
import { isScalar, LineCounter, parseDocument } from "yaml";
import { InvalidSpecError, type SpecProblem } from "./errors.js";
import { Patterns } from "./spec/patterns.js";
import { SpecReader } from "./spec/reader.js";

/** A parsed exec file. */
export interface ExecFile {
  target?: { kind: "LaunchPlan" | "Workflow"; name: string };
  version?: string;
  name?: string;
  /** Input values as written (typed later against the target's interface). */
  inputs: Record<string, unknown>;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  clusterLabel?: string;
  maxParallelism?: number;
}

/** Parses an exec file; throws {@link InvalidSpecError} listing every problem with its line. */
export function parseExecFile(file: string, text: string): ExecFile {
  const problems: SpecProblem[] = [];
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true });
  for (const e of doc.errors) {
    const p = lines.linePos(e.pos[0]);
    problems.push({
      file,
      line: p?.line ?? 0,
      column: p?.col ?? 0,
      path: "",
      message: `YAML syntax: ${e.message.split("\n")[0]}`,
    });
  }
  if (problems.length) throw new InvalidSpecError(problems);
  const r = new SpecReader(file, lines, problems);
  const out: ExecFile = { inputs: {}, labels: {}, annotations: {} };
  const f = r.fields(doc.contents, "", [
    "launchPlan",
    "workflow",
    "version",
    "name",
    "inputs",
    "labels",
    "annotations",
    "clusterLabel",
    "maxParallelism",
  ]);
  if (f) {
    if (f.has("launchPlan") && f.has("workflow"))
      r.report(f.node, "", "give either launchPlan or workflow, not both");
    for (const kind of ["launchPlan", "workflow"] as const) {
      if (!f.has(kind)) continue;
      const n = r.string(f.get(kind), kind, Patterns.entityName.pattern, Patterns.entityName.rule);
      if (n) out.target = { kind: kind === "launchPlan" ? "LaunchPlan" : "Workflow", name: n };
    }
    if (f.has("version"))
      out.version = r.string(f.get("version"), "version", Patterns.version.pattern, Patterns.version.rule);
    if (f.has("name"))
      out.name = r.string(f.get("name"), "name", Patterns.executionName.pattern, Patterns.executionName.rule);
    if (f.has("inputs")) {
      for (const e of r.entries(f.get("inputs"), "inputs") ?? []) {
        out.inputs[e.key] =
          e.value === null
            ? null
            : isScalar(e.value) && e.value.value instanceof Date
              ? e.value.value.toISOString()
              : e.value.toJSON();
      }
    }
    if (f.has("labels"))
      out.labels = r.stringMap(f.get("labels"), "labels", Patterns.labelKey, Patterns.labelValue) ?? {};
    if (f.has("annotations"))
      out.annotations = r.stringMap(f.get("annotations"), "annotations", Patterns.annotationKey) ?? {};
    if (f.has("clusterLabel"))
      out.clusterLabel = r.string(
        f.get("clusterLabel"),
        "clusterLabel",
        Patterns.dnsLabel.pattern,
        Patterns.dnsLabel.rule,
      );
    if (f.has("maxParallelism"))
      out.maxParallelism = r.int(f.get("maxParallelism"), "maxParallelism", 0, 10000);
  }
  if (problems.length) throw new InvalidSpecError(problems);
  return out;
}
