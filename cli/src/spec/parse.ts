/**
 * Phase one of spec handling: multi-document YAML files → {@link SpecDoc}s. Every YAML syntax
 * error and every field that breaks its rule is reported with file, line, column and field path;
 * parsing continues past errors so one run reports them all. Cross-document checks (references,
 * bindings, types) are phase two ({@link ./compile.ts}).
 */
import { create } from "@bufbuild/protobuf";
import { durationFromMs, type Duration } from "@bufbuild/protobuf/wkt";
import { parseQuantity, tryParseDuration } from "@flotilla/common";
import {
  CacheConfigSchema,
  ContainerSchema,
  ExternalResourceRequestSchema,
  KeyValuePairSchema,
  LaunchPlanSpecSchema,
  NotificationSchema,
  ResourceQuantitiesSchema,
  ResourcesSchema,
  RetryStrategySchema,
  ScheduleSchema,
  Schedule_CatchUpPolicy,
  TaskMetadataSchema,
  TaskTemplateSchema,
  TypedInterfaceSchema,
  VariableMapSchema,
  VariableSchema,
  WorkflowMetadata_FailurePolicy,
  WorkflowMetadataSchema,
  WorkflowExecution_Phase,
  type LiteralType,
  type Notification,
  type ResourceQuantities,
} from "@flotilla/proto";
import { isMap, isScalar, LineCounter, parseAllDocuments, type Node } from "yaml";
import type { SpecProblem } from "../errors.js";
import { enumType, parseTypeExpression } from "../literals.js";
import type {
  BindingSource,
  EntityRef,
  LaunchPlanDoc,
  Origin,
  SpecBinding,
  SpecBranch,
  SpecDoc,
  SpecKind,
  SpecNode,
  SpecValue,
  SpecVariable,
  TaskDoc,
  WorkflowDoc,
} from "./model.js";
import { MAX_TIMEOUT_MS, Patterns, RESERVED_NODE_IDS } from "./patterns.js";
import { SpecReader, join, type Fields, type MaybeNode } from "./reader.js";
import { ConditionSyntaxError, parseCondition } from "./condition.js";

/** The spec file's catch-up policy names. */
const CATCH_UP: Record<string, Schedule_CatchUpPolicy> = {
  skip: Schedule_CatchUpPolicy.SKIP,
  last: Schedule_CatchUpPolicy.LAST,
  all: Schedule_CatchUpPolicy.ALL,
};

/** A spec file's name and text. */
export interface SpecSource {
  file: string;
  text: string;
}

/** Result of {@link parseSpecFiles}. */
export interface ParseResult {
  docs: SpecDoc[];
  problems: SpecProblem[];
}

const TASK_FIELDS = [
  "kind",
  "name",
  "type",
  "description",
  "inputs",
  "outputs",
  "container",
  "retries",
  "timeout",
  "interruptible",
  "cache",
  "externalResources",
  "labels",
  "pluginConfig",
  "simulate",
] as const;
const WORKFLOW_FIELDS = [
  "kind",
  "name",
  "description",
  "inputs",
  "outputs",
  "nodes",
  "failurePolicy",
  "tags",
] as const;
const LAUNCH_PLAN_FIELDS = [
  "kind",
  "name",
  "workflow",
  "inputs",
  "fixedInputs",
  "requiredInputs",
  "schedule",
  "labels",
  "annotations",
  "clusterLabel",
  "maxParallelism",
  "interruptible",
  "serviceAccount",
  "rawOutputDataPrefix",
  "notifications",
] as const;
const NODE_FIELDS = [
  "id",
  "name",
  "task",
  "workflow",
  "launchPlan",
  "branch",
  "inputs",
  "dependsOn",
  "retries",
  "timeout",
  "interruptible",
] as const;

/** Parses every document of every file; returns the documents that parsed and all problems. */
export function parseSpecFiles(sources: SpecSource[]): ParseResult {
  const problems: SpecProblem[] = [];
  const docs: SpecDoc[] = [];
  for (const src of sources) {
    const lines = new LineCounter();
    const reader = new SpecReader(src.file, lines, problems);
    const parsed = parseAllDocuments(src.text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
    const documents = Array.isArray(parsed) ? parsed : [];
    if (!Array.isArray(parsed)) {
      reader.report({ line: 1, column: 1 }, "", "not a YAML stream");
      continue;
    }
    let count = 0;
    documents.forEach((doc, index) => {
      if (doc.errors.length > 0) {
        for (const e of doc.errors) {
          const p = lines.linePos(e.pos[0]);
          problems.push({
            file: src.file,
            line: p?.line ?? 0,
            column: p?.col ?? 0,
            path: "",
            message: `YAML syntax: ${e.message.split("\n")[0]}`,
          });
        }
        return;
      }
      const contents = doc.contents as MaybeNode;
      if (contents === null || contents === undefined || (isScalar(contents) && contents.value === null))
        return;
      count++;
      const d = parseDocument(reader, contents, index);
      if (d) docs.push(d);
    });
    if (count === 0 && problems.every((p) => p.file !== src.file)) {
      reader.report({ line: 1, column: 1 }, "", "the file contains no documents");
    }
  }
  return { docs, problems };
}

function origin(r: SpecReader, node: MaybeNode, path: string, fallback?: MaybeNode): Origin {
  return { file: r.file, at: r.pos(node, r.pos(fallback)), path };
}

function parseDocument(r: SpecReader, node: Node, index: number): SpecDoc | undefined {
  const docPath = `document[${index}]`;
  if (!isMap(node)) {
    r.report(node, docPath, "each document must be a mapping with a `kind`");
    return undefined;
  }
  const kindNode = node.get("kind", true) as MaybeNode;
  if (kindNode === undefined) {
    r.report(node, "kind", 'required field "kind" is missing (Task, Workflow or LaunchPlan)');
    return undefined;
  }
  const kind = r.string(
    kindNode,
    "kind",
    /^(Task|Workflow|LaunchPlan)$/,
    "one of Task, Workflow, LaunchPlan",
  ) as SpecKind | undefined;
  if (!kind) return undefined;
  if (kind === "Task") return parseTask(r, node);
  if (kind === "Workflow") return parseWorkflow(r, node);
  return parseLaunchPlan(r, node);
}

/** What every document starts with: its kind, its name and where the name is written. */
function docHead<K extends SpecKind>(r: SpecReader, f: Fields, node: Node, kind: K, docName: string) {
  return { kind, name: docName, origin: origin(r, f.get("name"), "name", node) };
}

function parseType(r: SpecReader, node: MaybeNode, path: string): LiteralType | undefined {
  if (isScalar(node) && typeof node.value === "string") {
    try {
      return parseTypeExpression(node.value);
    } catch (err) {
      r.report(node, path, (err as Error).message);
      return undefined;
    }
  }
  if (isMap(node) && node.has("enum")) {
    const f = r.fields(node, path, ["enum"]);
    const values = f && r.strings(f.get("enum"), f.pathOf("enum"));
    if (!values) return undefined;
    if (values.length === 0 || values.length > 256 || new Set(values).size !== values.length) {
      r.report(node, path, "enum needs 1-256 unique values");
      return undefined;
    }
    return enumType(values);
  }
  r.report(node, path, "expected a type such as integer, string, list<float> or {enum: [a, b]}");
  return undefined;
}

/** Interface variables: `name: type` or `name: {type, description[, from]}`. */
function parseVariables(
  r: SpecReader,
  node: MaybeNode,
  path: string,
  extra: readonly string[] = [],
): Array<SpecVariable & { fromNode?: Node | null }> {
  if (node === undefined || node === null) return [];
  const entries = r.entries(node, path);
  if (!entries) return [];
  if (entries.length > 256) r.report(node, path, `at most 256 variables allowed, got ${entries.length}`);
  const out: Array<SpecVariable & { fromNode?: Node | null }> = [];
  for (const e of entries) {
    const p = join(path, e.key);
    if (!Patterns.variable.pattern.test(e.key)) {
      r.report(e.keyNode, p, `${JSON.stringify(e.key)} is not ${Patterns.variable.rule}`);
      continue;
    }
    let typeNode: MaybeNode = e.value;
    let description = "";
    let fromNode: Node | null | undefined;
    if (isMap(e.value) && !e.value.has("enum")) {
      const f = r.fields(e.value, p, ["type", "description", ...extra]);
      if (!f) continue;
      typeNode = f.require("type");
      if (typeNode === undefined) continue;
      const d = f.get("description");
      if (d !== undefined) description = r.string(d, f.pathOf("description")) ?? "";
      if (f.has("from")) fromNode = f.get("from");
    }
    const type = parseType(r, typeNode, p);
    if (!type) continue;
    const v: SpecVariable & { fromNode?: Node | null } = {
      name: e.key,
      type,
      description,
      origin: origin(r, e.keyNode, p),
    };
    if (fromNode !== undefined) v.fromNode = fromNode;
    out.push(v);
  }
  return out;
}

function variableMap(vars: SpecVariable[]) {
  return create(VariableMapSchema, {
    variables: Object.fromEntries(
      vars.map((v) => [v.name, create(VariableSchema, { type: v.type, description: v.description })]),
    ),
  });
}

function parseDuration(
  r: SpecReader,
  node: MaybeNode,
  path: string,
  maxMs = MAX_TIMEOUT_MS,
): Duration | undefined {
  const text =
    isScalar(node) && (typeof node.value === "string" || typeof node.value === "number")
      ? String(node.value)
      : undefined;
  const ms = text === undefined ? undefined : tryParseDuration(text, { bareSeconds: true });
  if (ms === undefined || ms < 0 || ms > maxMs) {
    r.report(
      node,
      path,
      `expected a duration such as "30s", "5m" or "1h30m" (at most ${maxMs / 3_600_000}h)`,
    );
    return undefined;
  }
  return durationFromMs(ms);
}

function parseRetries(r: SpecReader, node: MaybeNode, path: string) {
  const f = r.fields(node, path, ["user", "system"]);
  if (!f) return undefined;
  const user = f.has("user") ? r.int(f.get("user"), f.pathOf("user"), 0, 10) : 0;
  const system = f.has("system") ? r.int(f.get("system"), f.pathOf("system"), 0, 10) : 0;
  return create(RetryStrategySchema, { userRetries: user ?? 0, systemRetries: system ?? 0 });
}

function parseQuantities(r: SpecReader, node: MaybeNode, path: string): ResourceQuantities | undefined {
  const f = r.fields(node, path, ["cpu", "memory", "gpu", "ephemeralStorage"]);
  if (!f) return undefined;
  const q = create(ResourceQuantitiesSchema, {});
  for (const key of ["cpu", "memory", "gpu", "ephemeralStorage"] as const) {
    if (!f.has(key)) continue;
    const v = r.scalarText(f.get(key), f.pathOf(key));
    if (v === undefined) continue;
    const pattern = key === "gpu" ? /^\d+$/ : Patterns.quantity.pattern;
    if (!pattern.test(v) || (key !== "gpu" && parseQuantity(v) <= 0)) {
      r.report(
        f.get(key),
        f.pathOf(key),
        `${JSON.stringify(v)} is not ${key === "gpu" ? "a whole number of GPUs" : `${Patterns.quantity.rule} greater than 0`}`,
      );
      continue;
    }
    q[key] = v;
  }
  return q;
}

function parseTask(r: SpecReader, node: Node): TaskDoc | undefined {
  const f = r.fields(node, "", TASK_FIELDS);
  if (!f) return undefined;
  const taskName = f.requireString("name", Patterns.entityName);
  const type = f.has("type") ? f.string("type", Patterns.taskType) : "container";
  const inputs = parseVariables(r, f.get("inputs"), "inputs");
  const outputs = parseVariables(r, f.get("outputs"), "outputs");
  const template = create(TaskTemplateSchema, {
    type: type ?? "container",
    interface: create(TypedInterfaceSchema, { inputs: variableMap(inputs), outputs: variableMap(outputs) }),
    metadata: create(TaskMetadataSchema, {}),
  });
  const meta = template.metadata!;
  if (f.has("description")) meta.description = r.string(f.get("description"), "description") ?? "";
  if (f.has("retries")) {
    const retries = parseRetries(r, f.get("retries"), "retries");
    if (retries) meta.retries = retries;
  }
  if (f.has("timeout")) {
    const t = parseDuration(r, f.get("timeout"), "timeout");
    if (t) meta.timeout = t;
  }
  if (f.has("interruptible")) meta.interruptible = r.bool(f.get("interruptible"), "interruptible") ?? false;
  if (f.has("cache")) {
    const c = r.fields(f.get("cache"), "cache", ["enabled", "version"]);
    if (c) {
      const enabled = c.has("enabled") ? (r.bool(c.get("enabled"), "cache.enabled") ?? false) : true;
      const version = c.has("version")
        ? r.string(
            c.get("version"),
            "cache.version",
            Patterns.cacheVersion.pattern,
            Patterns.cacheVersion.rule,
          )
        : undefined;
      if (enabled && !c.has("version"))
        r.report(
          c.node,
          "cache.version",
          "required when caching is enabled (bump it to invalidate cached outputs)",
        );
      meta.cache = create(CacheConfigSchema, { enabled, version: version ?? "" });
    }
  }
  const isContainer = (type ?? "container") === "container";
  if (f.has("container")) {
    if (!isContainer)
      r.report(
        f.get("container"),
        "container",
        `only "container" tasks have a container (type is "${type}")`,
      );
    const c = r.fields(f.get("container"), "container", ["image", "command", "args", "env", "resources"]);
    if (c) {
      const image = c.require("image");
      const container = create(ContainerSchema, {
        image:
          (image !== undefined && r.string(image, "container.image", /^\S{1,1024}$/, "an image reference")) ||
          "",
      });
      if (c.has("command")) container.command = r.strings(c.get("command"), "container.command") ?? [];
      if (c.has("args")) container.args = r.strings(c.get("args"), "container.args") ?? [];
      if (c.has("env")) {
        const env = r.stringMap(c.get("env"), "container.env", Patterns.envKey, undefined, 256) ?? {};
        container.env = Object.entries(env).map(([key, value]) => create(KeyValuePairSchema, { key, value }));
      }
      if (c.has("resources")) {
        const rf = r.fields(c.get("resources"), "container.resources", ["requests", "limits"]);
        if (rf) {
          const res = create(ResourcesSchema, {});
          if (rf.has("requests"))
            res.requests = parseQuantities(r, rf.get("requests"), "container.resources.requests");
          if (rf.has("limits"))
            res.limits = parseQuantities(r, rf.get("limits"), "container.resources.limits");
          container.resources = res;
        }
      }
      template.container = container;
    }
  } else if (isContainer && type !== undefined) {
    r.report(
      f.node,
      "container",
      'required field "container" is missing (type "container" needs an image and command)',
    );
  }
  if (f.has("externalResources")) {
    const items = r.items(f.get("externalResources"), "externalResources") ?? [];
    if (items.length > 16)
      r.report(
        f.get("externalResources"),
        "externalResources",
        `at most 16 entries allowed, got ${items.length}`,
      );
    const seen = new Set<string>();
    items.forEach((item, i) => {
      const p = `externalResources[${i}]`;
      const e = r.fields(item, p, ["resource", "tokens"]);
      if (!e) return;
      const resNode = e.require("resource");
      const resource =
        resNode === undefined
          ? undefined
          : r.string(resNode, `${p}.resource`, Patterns.dnsLabel.pattern, Patterns.dnsLabel.rule);
      const tokens = e.has("tokens") ? r.int(e.get("tokens"), `${p}.tokens`, 1, 1_000_000) : 1;
      if (resource && seen.has(resource))
        r.report(resNode, `${p}.resource`, `resource "${resource}" is listed twice`);
      if (resource) seen.add(resource);
      if (resource && tokens)
        template.externalResources.push(create(ExternalResourceRequestSchema, { resource, tokens }));
    });
  }
  if (f.has("labels"))
    template.labels = r.stringMap(f.get("labels"), "labels", Patterns.labelKey, Patterns.labelValue) ?? {};
  const pluginConfig: Record<string, unknown> = {};
  if (f.has("pluginConfig")) {
    const pc = f.get("pluginConfig");
    if (!isMap(pc)) r.report(pc, "pluginConfig", "expected a mapping");
    else Object.assign(pluginConfig, pc.toJSON() as Record<string, unknown>);
  }
  if (f.has("simulate")) {
    const s = r.fields(f.get("simulate"), "simulate", ["duration", "outcome", "exitCode"]);
    if (s) {
      const annotations: Record<string, string> = { "sandbox.flotilla.io/mode": "simulated" };
      if (s.has("duration")) {
        const d = parseDuration(r, s.get("duration"), "simulate.duration");
        if (d)
          annotations["sandbox.flotilla.io/duration"] =
            `${Number(d.seconds) * 1000 + Math.floor(d.nanos / 1e6)}ms`;
      }
      if (s.has("outcome")) {
        const o = r.string(
          s.get("outcome"),
          "simulate.outcome",
          /^(succeed|fail|oom|preempt|image-pull-error)$/,
          "one of succeed, fail, oom, preempt, image-pull-error",
        );
        if (o) annotations["sandbox.flotilla.io/outcome"] = o;
      }
      if (s.has("exitCode")) {
        const c = r.int(s.get("exitCode"), "simulate.exitCode", 0, 255);
        if (c !== undefined) annotations["sandbox.flotilla.io/exit-code"] = String(c);
      }
      const existing = (pluginConfig.podAnnotations ?? {}) as Record<string, unknown>;
      pluginConfig.podAnnotations = { ...existing, ...annotations };
    }
  }
  if (Object.keys(pluginConfig).length > 0) template.pluginConfig = pluginConfig as never;
  if (!taskName) return undefined;
  return { ...docHead(r, f, node, "Task", taskName), template, inputs, outputs };
}

function parseRef(r: SpecReader, node: MaybeNode, path: string, kind: SpecKind): EntityRef | undefined {
  if (isScalar(node)) {
    const n = r.string(node, path, Patterns.entityName.pattern, Patterns.entityName.rule);
    return n ? { kind, name: n, origin: origin(r, node, path) } : undefined;
  }
  const f = r.fields(node, path, ["name", "version"]);
  if (!f) return undefined;
  const n = f.requireString("name", Patterns.entityName);
  const version = f.has("version") ? f.string("version", Patterns.version) : undefined;
  if (!n) return undefined;
  const ref: EntityRef = { kind, name: n, origin: origin(r, node, path) };
  if (version) ref.version = version;
  return ref;
}

/** A binding: `{input: x}`, `{from: node.output}`, `{value: v[, type: T]}`, or a plain constant. */
function parseBinding(
  r: SpecReader,
  variable: string,
  node: MaybeNode,
  path: string,
  keyNode: MaybeNode,
): SpecBinding | undefined {
  const o = origin(r, node, path, keyNode);
  if (isMap(node) && (node.has("input") || node.has("from") || node.has("value"))) {
    const f = r.fields(node, path, ["input", "from", "value", "type"]);
    if (!f) return undefined;
    const given = ["input", "from", "value"].filter((k) => f.has(k));
    if (given.length !== 1) {
      r.report(node, path, `exactly one of input, from, value is allowed, got ${given.join(" and ")}`);
      return undefined;
    }
    let source: BindingSource | undefined;
    if (f.has("input")) {
      const input = f.string("input", Patterns.variable);
      if (input) source = { kind: "input", input };
    } else if (f.has("from")) {
      const text = r.string(
        f.get("from"),
        f.pathOf("from"),
        /^[a-z0-9_-]{1,63}\.[a-zA-Z_][a-zA-Z0-9_]{0,62}$/,
        'an upstream output written "<node-id>.<output>"',
      );
      if (text) {
        const dot = text.indexOf(".");
        source = { kind: "promise", node: text.slice(0, dot), output: text.slice(dot + 1) };
      }
    } else {
      const valueNode = f.get("value");
      const value = valueNode === null || valueNode === undefined ? null : (valueNode.toJSON() as unknown);
      source = { kind: "value", value };
      if (f.has("type")) {
        const t = parseType(r, f.get("type"), f.pathOf("type"));
        if (t) source.type = t;
      }
    }
    if (f.has("type") && !f.has("value"))
      r.report(f.get("type"), f.pathOf("type"), "type is only allowed with value");
    return source ? { variable, source, origin: o } : undefined;
  }
  if (node === null || node === undefined) {
    r.report(
      node ?? keyNode,
      path,
      "expected a binding: {input: <workflow input>}, {from: <node>.<output>} or a value",
    );
    return undefined;
  }
  return { variable, source: { kind: "value", value: node.toJSON() as unknown }, origin: o };
}

function parseNode(r: SpecReader, node: Node, path: string): SpecNode | undefined {
  const f = r.fields(node, path, NODE_FIELDS);
  if (!f) return undefined;
  let id = f.requireString("id", Patterns.nodeId);
  if (id && RESERVED_NODE_IDS.has(id)) {
    r.report(f.get("id"), f.pathOf("id"), `"${id}" is reserved`);
    id = undefined;
  }
  const targets = (["task", "workflow", "launchPlan", "branch"] as const).filter((k) => f.has(k));
  let target: EntityRef | undefined;
  let branch: SpecBranch | undefined;
  if (targets.length !== 1) {
    r.report(
      node,
      path,
      targets.length === 0
        ? "a node needs one of task, workflow, launchPlan, branch"
        : `a node runs exactly one of task, workflow, launchPlan, branch, got ${targets.join(" and ")}`,
    );
  } else if (targets[0] === "branch") {
    branch = parseBranch(r, f.get("branch"), f.pathOf("branch"));
    if (f.has("inputs"))
      r.report(f.get("inputs"), f.pathOf("inputs"), "a branch has no inputs: bind them on its case nodes");
  } else {
    const k = targets[0];
    target = parseRef(
      r,
      f.get(k),
      f.pathOf(k),
      k === "task" ? "Task" : k === "workflow" ? "Workflow" : "LaunchPlan",
    );
  }
  const inputs: SpecBinding[] = [];
  if (f.has("inputs")) {
    for (const e of r.entries(f.get("inputs"), f.pathOf("inputs")) ?? []) {
      const p = join(f.pathOf("inputs"), e.key);
      if (!Patterns.variable.pattern.test(e.key)) {
        r.report(e.keyNode, p, `${JSON.stringify(e.key)} is not ${Patterns.variable.rule}`);
        continue;
      }
      const b = parseBinding(r, e.key, e.value, p, e.keyNode);
      if (b) inputs.push(b);
    }
  }
  const dependsOn: SpecNode["dependsOn"] = [];
  if (f.has("dependsOn")) {
    const items = r.items(f.get("dependsOn"), f.pathOf("dependsOn")) ?? [];
    items.forEach((item, i) => {
      const p = `${f.pathOf("dependsOn")}[${i}]`;
      const d = r.string(item, p, Patterns.nodeId.pattern, Patterns.nodeId.rule);
      if (d) dependsOn.push({ id: d, origin: origin(r, item, p) });
    });
  }
  const spec: SpecNode = {
    id: id ?? "",
    origin: origin(r, f.get("id"), f.pathOf("id"), node),
    ...(target ? { target } : {}),
    ...(branch ? { branch } : {}),
    inputs,
    dependsOn,
    displayName: "",
  };
  if (f.has("name"))
    spec.displayName = r.string(f.get("name"), f.pathOf("name"), /^.{1,255}$/, "at most 255 chars") ?? "";
  if (f.has("retries")) {
    const retries = parseRetries(r, f.get("retries"), f.pathOf("retries"));
    if (retries) spec.retries = retries;
  }
  if (f.has("timeout")) {
    const t = parseDuration(r, f.get("timeout"), f.pathOf("timeout"));
    if (t) spec.timeout = t;
  }
  if (f.has("interruptible")) {
    const b = r.bool(f.get("interruptible"), f.pathOf("interruptible"));
    if (b !== undefined) spec.interruptible = b;
  }
  return id && (target || branch) ? spec : undefined;
}

const BRANCH_FIELDS = ["cases", "else", "error"] as const;
const CASE_FIELDS = ["when", "then"] as const;

/**
 * A branch: `{cases: [{when: "<condition>", then: <node>}, ...], else: <node>}` or with
 * `error: "<message>"` instead of `else`. Conditions use the syntax of ./condition.ts; a syntax
 * error is reported at the condition's line.
 */
function parseBranch(r: SpecReader, node: MaybeNode, path: string): SpecBranch | undefined {
  const f = r.fields(node, path, BRANCH_FIELDS);
  if (!f) return undefined;
  const branch: SpecBranch = { cases: [] };
  let ok = true;
  const casesNode = f.require("cases");
  const items = casesNode === undefined ? [] : (r.items(casesNode, f.pathOf("cases")) ?? []);
  if (casesNode !== undefined && (items.length === 0 || items.length > 64)) {
    r.report(casesNode, f.pathOf("cases"), `a branch needs 1-64 cases, got ${items.length}`);
    ok = false;
  }
  items.forEach((item, i) => {
    const p = `${f.pathOf("cases")}[${i}]`;
    const c = r.fields(item, p, CASE_FIELDS);
    if (!c) {
      ok = false;
      return;
    }
    const whenNode = c.require("when");
    const thenNode = c.require("then");
    const text = whenNode === undefined ? undefined : r.scalarText(whenNode, c.pathOf("when"));
    let when;
    if (text !== undefined) {
      try {
        when = parseCondition(text);
      } catch (err) {
        if (!(err instanceof ConditionSyntaxError)) throw err;
        r.report(whenNode, c.pathOf("when"), `condition ${JSON.stringify(text)}: ${err.message}`);
      }
    }
    const then = thenNode ? parseNode(r, thenNode, c.pathOf("then")) : undefined;
    if (then?.branch)
      r.report(thenNode, c.pathOf("then"), "a case runs a task, workflow or launch plan node");
    if (when && then && !then.branch) {
      branch.cases.push({ when, whenOrigin: origin(r, whenNode, c.pathOf("when")), then });
    } else ok = false;
  });
  if (f.has("else") === f.has("error")) {
    r.report(node, path, "a branch needs exactly one of else (a node) and error (a message)");
    ok = false;
  } else if (f.has("else")) {
    const elseNode = f.get("else");
    const otherwise = elseNode ? parseNode(r, elseNode, f.pathOf("else")) : undefined;
    if (otherwise?.branch)
      r.report(elseNode, f.pathOf("else"), "else runs a task, workflow or launch plan node");
    if (otherwise && !otherwise.branch) branch.otherwise = otherwise;
    else ok = false;
  } else {
    const message = r.string(f.get("error"), f.pathOf("error"), /^.{1,1024}$/s, "1-1024 chars");
    if (message === undefined) ok = false;
    else branch.error = message;
  }
  return ok ? branch : undefined;
}

function parseWorkflow(r: SpecReader, node: Node): WorkflowDoc | undefined {
  const f = r.fields(node, "", WORKFLOW_FIELDS);
  if (!f) return undefined;
  const wfName = f.requireString("name", Patterns.entityName);
  const inputs = parseVariables(r, f.get("inputs"), "inputs");
  const outputVars = parseVariables(r, f.get("outputs"), "outputs", ["from"]);
  const outputs: WorkflowDoc["outputs"] = outputVars.map((v) => {
    const out: WorkflowDoc["outputs"][number] = {
      name: v.name,
      type: v.type,
      description: v.description,
      origin: v.origin,
    };
    if (v.fromNode === undefined) {
      r.report(v.origin.at, v.origin.path, `workflow output "${v.name}" needs {type, from: <node>.<output>}`);
      return out;
    }
    const b = parseOutputSource(r, v.name, v.fromNode, `${v.origin.path}.from`);
    if (b) out.from = b;
    return out;
  });
  const metadata = create(WorkflowMetadataSchema, {});
  if (f.has("description")) metadata.description = r.string(f.get("description"), "description") ?? "";
  if (f.has("failurePolicy")) {
    const p = r.string(
      f.get("failurePolicy"),
      "failurePolicy",
      /^(failImmediately|failAfterExecutableNodesComplete)$/,
      "failImmediately or failAfterExecutableNodesComplete",
    );
    if (p)
      metadata.failurePolicy =
        p === "failImmediately"
          ? WorkflowMetadata_FailurePolicy.FAIL_IMMEDIATELY
          : WorkflowMetadata_FailurePolicy.FAIL_AFTER_EXECUTABLE_NODES_COMPLETE;
  }
  if (f.has("tags"))
    metadata.tags = r.stringMap(f.get("tags"), "tags", Patterns.labelKey, Patterns.labelValue) ?? {};
  const nodes: SpecNode[] = [];
  const nodesNode = f.require("nodes");
  if (nodesNode !== undefined) {
    const items = r.items(nodesNode, "nodes") ?? [];
    if (items.length === 0 || items.length > 1000)
      r.report(nodesNode, "nodes", `a workflow needs 1-1000 nodes, got ${items.length}`);
    items.forEach((item, i) => {
      const n = parseNode(r, item, `nodes[${i}]`);
      if (n) nodes.push(n);
    });
  }
  if (!wfName) return undefined;
  return { ...docHead(r, f, node, "Workflow", wfName), inputs, outputs, nodes, metadata };
}

/** A workflow output's `from`: "<node>.<output>" or a binding mapping ({input: x}, {value: v}). */
function parseOutputSource(
  r: SpecReader,
  variable: string,
  node: Node | null,
  path: string,
): SpecBinding | undefined {
  if (isMap(node)) return parseBinding(r, variable, node, path, node);
  const text = r.string(
    node,
    path,
    /^[a-z0-9_-]{1,63}\.[a-zA-Z_][a-zA-Z0-9_]{0,62}$/,
    'an upstream output written "<node-id>.<output>"',
  );
  if (!text) return undefined;
  const dot = text.indexOf(".");
  return {
    variable,
    source: { kind: "promise", node: text.slice(0, dot), output: text.slice(dot + 1) },
    origin: origin(r, node, path),
  };
}

function parseValues(r: SpecReader, node: MaybeNode, path: string): SpecValue[] {
  const out: SpecValue[] = [];
  for (const e of r.entries(node, path) ?? []) {
    const p = join(path, e.key);
    if (!Patterns.variable.pattern.test(e.key)) {
      r.report(e.keyNode, p, `${JSON.stringify(e.key)} is not ${Patterns.variable.rule}`);
      continue;
    }
    out.push({
      name: e.key,
      value: e.value === null ? null : (e.value.toJSON() as unknown),
      origin: origin(r, e.value, p, e.keyNode),
    });
  }
  return out;
}

const NOTIFY_PHASES: Record<string, WorkflowExecution_Phase> = {
  SUCCEEDED: WorkflowExecution_Phase.SUCCEEDED,
  FAILED: WorkflowExecution_Phase.FAILED,
  ABORTED: WorkflowExecution_Phase.ABORTED,
  TIMED_OUT: WorkflowExecution_Phase.TIMED_OUT,
};

/**
 * A launch plan's `notifications`: a list of `{on: [PHASE...], webhook: URL | slack: "#channel"
 * | email: [address...]}`. The shape is checked here; what the admin can deliver (https only,
 * configured channels) is checked by the admin when the launch plan is registered.
 */
function parseNotifications(r: SpecReader, node: MaybeNode): Notification[] {
  const out: Notification[] = [];
  (r.items(node, "notifications") ?? []).forEach((item, i) => {
    const p = `notifications[${i}]`;
    const n = r.fields(item, p, ["on", "webhook", "slack", "email"]);
    if (!n) return;
    const phases = (
      n.has("on")
        ? (r.strings(
            n.get("on"),
            `${p}.on`,
            /^(SUCCEEDED|FAILED|ABORTED|TIMED_OUT)$/,
            "one of SUCCEEDED, FAILED, ABORTED, TIMED_OUT",
          ) ?? [])
        : []
    ).map((x) => NOTIFY_PHASES[x]);
    if (!n.has("on"))
      r.report(item, `${p}.on`, 'required field "on" is missing (the phases that trigger it)');
    const channels = (["webhook", "slack", "email"] as const).filter((k) => n.has(k));
    if (channels.length !== 1) {
      r.report(item, p, "exactly one of webhook, slack, email is required");
      return;
    }
    if (channels[0] === "webhook") {
      const url = r.string(n.get("webhook"), `${p}.webhook`, /^https?:\/\/\S{1,2040}$/, "an http(s) URL");
      if (url) out.push(create(NotificationSchema, { phases, type: { case: "webhook", value: { url } } }));
    } else if (channels[0] === "slack") {
      const channel = r.string(
        n.get("slack"),
        `${p}.slack`,
        /^#[a-z0-9_.-]{1,79}$/,
        "a Slack channel (#name)",
      );
      if (channel)
        out.push(create(NotificationSchema, { phases, type: { case: "slack", value: { channel } } }));
    } else {
      const recipients = r.strings(n.get("email"), `${p}.email`, /^[^\s@]+@[^\s@]+$/, "an email address");
      if (recipients)
        out.push(create(NotificationSchema, { phases, type: { case: "email", value: { recipients } } }));
    }
  });
  return out;
}

function parseLaunchPlan(r: SpecReader, node: Node): LaunchPlanDoc | undefined {
  const f = r.fields(node, "", LAUNCH_PLAN_FIELDS);
  if (!f) return undefined;
  const lpName = f.requireString("name", Patterns.entityName);
  const wfNode = f.require("workflow");
  const workflow = wfNode === undefined ? undefined : parseRef(r, wfNode, "workflow", "Workflow");
  const spec = create(LaunchPlanSpecSchema, {});
  const defaults = f.has("inputs") ? parseValues(r, f.get("inputs"), "inputs") : [];
  const fixed = f.has("fixedInputs") ? parseValues(r, f.get("fixedInputs"), "fixedInputs") : [];
  for (const x of fixed) {
    if (defaults.some((d) => d.name === x.name))
      r.report(x.origin.at, x.origin.path, `input "${x.name}" is both a default and a fixed input`);
  }
  const required: LaunchPlanDoc["required"] = [];
  if (f.has("requiredInputs")) {
    (r.items(f.get("requiredInputs"), "requiredInputs") ?? []).forEach((item, i) => {
      const p = `requiredInputs[${i}]`;
      const n = r.string(item, p, Patterns.variable.pattern, Patterns.variable.rule);
      if (!n) return;
      if (defaults.some((d) => d.name === n) || fixed.some((d) => d.name === n))
        r.report(item, p, `input "${n}" cannot be required and also have a value`);
      else required.push({ name: n, origin: origin(r, item, p) });
    });
  }
  if (f.has("schedule")) {
    const s = r.fields(f.get("schedule"), "schedule", [
      "cron",
      "rate",
      "timeZone",
      "kickoffInput",
      "catchUp",
      "maxCatchUp",
    ]);
    if (s) {
      const schedule = create(ScheduleSchema, {});
      if (s.has("cron") === s.has("rate"))
        r.report(s.node, "schedule", "exactly one of cron, rate is required");
      else if (s.has("cron")) {
        const cron = r.string(
          s.get("cron"),
          "schedule.cron",
          /^(@(hourly|daily|weekly|monthly|yearly|annually|midnight)|(\S+\s+){4}\S+|(\S+\s+){5}\S+)$/,
          "a 5-field cron expression, 6 fields with seconds first, or @hourly/@daily/@weekly/@monthly/@yearly",
        );
        if (cron) schedule.scheduleExpression = { case: "cronExpression", value: cron };
      } else {
        // The admin's scheduler.minInterval (default 1m) is the real minimum; it checks.
        const rate = parseDuration(r, s.get("rate"), "schedule.rate", 366 * 24 * 3600 * 1000);
        if (rate && (Number(rate.seconds) < 1 || rate.nanos !== 0))
          r.report(s.get("rate"), "schedule.rate", "must be whole seconds, at least 1s");
        else if (rate) schedule.scheduleExpression = { case: "fixedRate", value: rate };
      }
      if (s.has("timeZone")) {
        if (s.has("rate")) r.report(s.get("timeZone"), "schedule.timeZone", "applies only to cron");
        schedule.timeZone = r.string(s.get("timeZone"), "schedule.timeZone") ?? "";
      }
      if (s.has("kickoffInput"))
        schedule.kickoffTimeInputArg = s.string("kickoffInput", Patterns.variable) ?? "";
      if (s.has("catchUp")) {
        const policy = r.string(
          s.get("catchUp"),
          "schedule.catchUp",
          /^(skip|last|all)$/,
          "skip, last or all",
        );
        if (policy) schedule.catchUpPolicy = CATCH_UP[policy]!;
      }
      if (s.has("maxCatchUp")) {
        if (schedule.catchUpPolicy !== Schedule_CatchUpPolicy.ALL)
          r.report(s.get("maxCatchUp"), "schedule.maxCatchUp", "applies only to catchUp: all");
        schedule.maxCatchUp = r.int(s.get("maxCatchUp"), "schedule.maxCatchUp", 1, 1000) ?? 0;
      }
      spec.schedule = schedule;
    }
  }
  if (f.has("labels"))
    spec.labels = r.stringMap(f.get("labels"), "labels", Patterns.labelKey, Patterns.labelValue) ?? {};
  if (f.has("annotations"))
    spec.annotations = r.stringMap(f.get("annotations"), "annotations", Patterns.annotationKey) ?? {};
  if (f.has("clusterLabel")) spec.clusterLabel = f.string("clusterLabel", Patterns.dnsLabel) ?? "";
  if (f.has("maxParallelism"))
    spec.maxParallelism = r.int(f.get("maxParallelism"), "maxParallelism", 0, 10000) ?? 0;
  if (f.has("interruptible")) {
    const b = r.bool(f.get("interruptible"), "interruptible");
    if (b !== undefined) spec.interruptible = b;
  }
  if (f.has("serviceAccount")) spec.serviceAccount = f.string("serviceAccount", Patterns.dnsSubdomain) ?? "";
  if (f.has("rawOutputDataPrefix"))
    spec.rawOutputDataPrefix =
      r.string(
        f.get("rawOutputDataPrefix"),
        "rawOutputDataPrefix",
        /^[a-z][a-z0-9+.-]*:\/\/\S{1,2040}$/,
        "an absolute URI",
      ) ?? "";
  if (f.has("notifications")) spec.notifications = parseNotifications(r, f.get("notifications"));
  if (!lpName || !workflow) return undefined;
  return {
    ...docHead(r, f, node, "LaunchPlan", lpName),
    workflow,
    defaults,
    fixed,
    required,
    spec,
  };
}
