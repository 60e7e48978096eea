import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { Schedule_CatchUpPolicy, SimpleType, WorkflowExecution_Phase } from "@flotilla/proto";
import { compileSpecs, type EntityLookup } from "./compile.js";
import { parseSpecFiles } from "./parse.js";

const examples = fileURLToPath(new URL("../../../examples/", import.meta.url));
const nothingRegistered: EntityLookup = { interfaceOf: async () => undefined };
const opts = { project: "p", domain: "development", version: "v1", lookup: nothingRegistered };

async function check(text: string, file = "wf.yaml") {
  const parsed = parseSpecFiles([{ file, text }]);
  const compiled = await compileSpecs(parsed.docs, opts);
  return { parsed, compiled, problems: [...parsed.problems, ...compiled.problems] };
}

test("every example file is valid and compiles into an ordered plan", async () => {
  const files = readdirSync(examples).filter((f) => f.endsWith(".yaml"));
  assert.ok(files.length >= 5, `examples: ${files.join(", ")}`);
  for (const f of files) {
    const { compiled, problems } = await check(readFileSync(join(examples, f), "utf8"), f);
    assert.deepEqual(problems, [], f);
    const kinds = compiled.plan.map((p) => p.kind);
    assert.deepEqual(
      kinds,
      [...kinds].sort(
        (a, b) =>
          ["Task", "Workflow", "LaunchPlan"].indexOf(a) - ["Task", "Workflow", "LaunchPlan"].indexOf(b),
      ),
      f,
    );
  }
});

test("the diamond compiles to promise bindings, typed constants and identifiers under --version", async () => {
  const { compiled, problems } = await check(readFileSync(join(examples, "diamond.yaml"), "utf8"));
  assert.deepEqual(problems, []);
  const wf = compiled.plan.find((p) => p.kind === "Workflow");
  assert.ok(wf?.kind === "Workflow");
  const tpl = wf.request.template!;
  assert.equal(tpl.id?.version, "v1");
  assert.deepEqual(
    tpl.nodes.map((n) => n.id),
    ["a", "b", "c", "d"],
  );
  const b = tpl.nodes[1];
  const x = b.inputs.find((i) => i.var === "x")!.binding!.value;
  assert.equal(x.case, "promise");
  assert.deepEqual(x.case === "promise" ? [x.value.nodeId, x.value.var] : [], ["a", "y"]);
  const plus = b.inputs.find((i) => i.var === "plus")!.binding!.value;
  assert.ok(plus.case === "scalar" && plus.value.value.case === "primitive");
  assert.equal(plus.value.value.value.value.value, 10n);
  const d = tpl.nodes[3];
  assert.equal(d.target.case === "taskNode" && d.target.value.referenceId?.name, "diamond.multiply");
  assert.equal(tpl.interface?.outputs?.variables.result?.type?.type.value, SimpleType.INTEGER);
});

test("every problem of a bad file is reported with its line, column and field path", async () => {
  const text = [
    "kind: Task", // 1
    "name: t1", // 2
    "inputs:", // 3
    "  n: integr", // 4  unknown type
    "outputs:", // 5
    "  out: integer", // 6
    "container:", // 7
    "  image: busybox", // 8
    "  comand: [sh]", // 9  unknown field
    "retries: {user: 20}", // 10 out of range
    "---",
    "kind: Workflow", // 12
    "name: wf", // 13
    "nodes:", // 14
    "  - id: A", // 15 bad node id
    "    task: t1",
    "  - id: b", // 17
    "    task: missing.task", // 18 unknown reference
    "---",
    "kind: Widget", // 20
  ].join("\n");
  const { problems } = await check(text);
  const at = problems.map((p) => `${p.line}:${p.column} ${p.path}`);
  assert.ok(at.includes("4:6 inputs.n"), at.join("\n"));
  assert.ok(at.includes("9:3 container.comand"), at.join("\n"));
  assert.ok(at.includes("10:17 retries.user"), at.join("\n"));
  assert.ok(at.includes("15:9 nodes[0].id"), at.join("\n"));
  assert.ok(at.includes("18:11 nodes[1].task"), at.join("\n"));
  assert.ok(at.includes("20:7 kind"), at.join("\n"));
  assert.ok(problems.every((p) => p.file === "wf.yaml"));
  assert.match(
    problems.find((p) => p.path === "nodes[1].task")!.message,
    /missing\.task.*neither defined in these files nor registered/,
  );
});

test("bindings are type-checked, unbound inputs, unknown variables, bad constants and cycles are found", async () => {
  const text = `
kind: Task
name: inc
inputs: {x: integer}
outputs: {y: integer, s: string}
container: {image: busybox, command: [sh, -c, "true"]}
---
kind: Workflow
name: wf
inputs: {start: string}
outputs:
  out: {type: integer, from: c.y}
nodes:
  - id: a
    task: inc
    inputs: {x: {input: start}}
  - id: b
    task: inc
    inputs: {x: {from: a.s}, z: 1}
  - id: c
    task: inc
    dependsOn: [d]
  - id: d
    task: inc
    inputs: {x: {from: c.y}}
  - id: e
    task: inc
    inputs: {x: "seven"}
`;
  const { problems } = await check(text);
  const messages = problems.map((p) => `${p.line} ${p.message}`);
  const has = (re: RegExp) =>
    assert.ok(
      messages.some((m) => re.test(m)),
      `${re} not in:\n${messages.join("\n")}`,
    );
  has(/^16 node "a" input "x" is integer but workflow input "start" is string/);
  has(/^19 node "b" input "x" is integer but output "a.s" is string/);
  has(/^19 node "b": task "inc" has no input "z"/);
  has(/^20 node "c": required input "x" \(integer\) of inc is not bound/);
  has(/cycle: .*c.*d.*|cycle: .*d.*c/);
  has(/^28 node "e" input "x": expected an integer, got string "seven"/);
});

test("bindings follow the admin's type rule: an enum binds to a string and to a wider enum, not the reverse", async () => {
  const text = `
kind: Task
name: speak
inputs: {mode: string, level: {enum: [low, mid, high]}}
outputs: {pick: {enum: [low, mid]}, said: string}
container: {image: busybox}
---
kind: Workflow
name: w
inputs: {mode: {enum: [fast, slow]}, level: {enum: [low]}}
nodes:
  - id: a
    task: speak
    inputs: {mode: {input: mode}, level: {input: level}}
  - id: b
    task: speak
    inputs: {mode: {from: a.pick}, level: {from: a.pick}}
---
kind: Task
name: strict
inputs: {level: {enum: [low]}}
container: {image: busybox}
---
kind: Workflow
name: narrow
inputs: {text: string}
nodes:
  - id: a
    task: speak
    inputs: {mode: {input: text}, level: low}
  - id: b
    task: strict
    inputs: {level: {from: a.pick}}
  - id: c
    task: strict
    inputs: {level: {from: a.said}}
`;
  const { problems } = await check(text);
  const messages = problems.map((p) => `${p.line} ${p.message}`);
  // Workflow "w" binds enums to a string input and enum subsets to a wider enum: all accepted
  // (the CLI used to demand identical types and rejected all four bindings).
  assert.ok(
    problems.every((p) => p.line > 18),
    messages.join("\n"),
  );
  assert.deepEqual(
    messages.filter((m) => / is enum/.test(m)),
    [
      '33 node "b" input "level" is enum(low) but output "a.pick" is enum(low|mid)',
      '36 node "c" input "level" is enum(low) but output "a.said" is string',
    ],
  );
});

test("YAML syntax errors and duplicate definitions are reported; references to registered entities use the lookup", async () => {
  const syntax = await check("kind: Task\nname: [unclosed\n");
  assert.equal(syntax.problems.length > 0, true);
  assert.match(syntax.problems[0].message, /^YAML syntax/);
  assert.equal(syntax.problems[0].line >= 2, true);

  const dup = await check(
    "kind: Workflow\nname: w\nnodes: [{id: a, task: t}]\n---\nkind: Workflow\nname: w\nnodes: [{id: a, task: t}]\n",
  );
  assert.ok(dup.problems.some((p) => p.line === 6 && /defined twice/.test(p.message)));

  const registered: EntityLookup = {
    interfaceOf: async (kind, id) =>
      kind === "Task" && id.name === "shared.task" && id.version === "v7"
        ? { inputs: { n: { type: undefined, required: false } }, outputs: { done: undefined } }
        : undefined,
  };
  const parsed = parseSpecFiles([
    {
      file: "w.yaml",
      text: "kind: Workflow\nname: w\nnodes:\n  - id: a\n    task: {name: shared.task, version: v7}\n",
    },
  ]);
  const compiled = await compileSpecs(parsed.docs, { ...opts, lookup: registered });
  assert.deepEqual([...parsed.problems, ...compiled.problems], []);
  assert.equal(compiled.plan.length, 1);
});

test("launch plan inputs are typed against the workflow: defaults, fixed, required, unknown names", async () => {
  const text = `
kind: Task
name: t
inputs: {n: integer, s: string}
container: {image: busybox}
---
kind: Workflow
name: w
inputs: {n: integer, s: string}
nodes: [{id: a, task: t, inputs: {n: {input: n}, s: {input: s}}}]
---
kind: LaunchPlan
name: lp
workflow: w
inputs: {n: "x"}
fixedInputs: {s: hello}
requiredInputs: [nope]
schedule: {cron: "*/5 * * * *"}
`;
  const { problems, compiled } = await check(text);
  const messages = problems.map((p) => `${p.line} ${p.message}`);
  assert.ok(
    messages.some((m) => /^15 input "n": expected an integer/.test(m)),
    messages.join("\n"),
  );
  assert.ok(
    messages.some((m) => /^17 workflow "w" has no input "nope"/.test(m)),
    messages.join("\n"),
  );
  assert.equal(
    compiled.plan.some((p) => p.kind === "LaunchPlan"),
    false,
  );

  const ok = await check(text.replace('n: "x"', "n: 5").replace("requiredInputs: [nope]\n", ""));
  assert.deepEqual(ok.problems, []);
  const lp = ok.compiled.plan.find((p) => p.kind === "LaunchPlan");
  assert.ok(lp?.kind === "LaunchPlan");
  assert.equal(lp.request.spec?.workflowId?.name, "w");
  assert.equal(lp.request.spec?.defaultInputs?.parameters.n?.behavior.case, "default");
  assert.ok(lp.request.spec?.fixedInputs?.literals.s);
  assert.equal(lp.request.spec?.schedule?.scheduleExpression.case, "cronExpression");
});

test("a schedule takes a time zone, a catch-up policy and 6-field cron; misplaced settings are reported", async () => {
  const text = (schedule: string) => `kind: Task
name: t
inputs: {day: datetime}
outputs: {}
container: {image: busybox, command: ["true"]}
---
kind: Workflow
name: w
inputs: {day: datetime}
nodes: [{id: a, task: t, inputs: {day: {input: day}}}]
---
kind: LaunchPlan
name: lp
workflow: w
schedule: ${schedule}
`;
  const ok = await check(
    text(
      '{cron: "*/10 * * * * *", timeZone: Europe/Berlin, kickoffInput: day, catchUp: all, maxCatchUp: 20}',
    ),
  );
  assert.deepEqual(ok.problems, []);
  const lp = ok.compiled.plan.find((p) => p.kind === "LaunchPlan");
  assert.ok(lp?.kind === "LaunchPlan");
  const schedule = lp.request.spec?.schedule;
  assert.equal(schedule?.scheduleExpression.value, "*/10 * * * * *");
  assert.equal(schedule?.timeZone, "Europe/Berlin");
  assert.equal(schedule?.catchUpPolicy, Schedule_CatchUpPolicy.ALL);
  assert.equal(schedule?.maxCatchUp, 20);
  assert.equal(schedule?.kickoffTimeInputArg, "day");

  const bad = await check(
    text("{rate: 1m, timeZone: UTC, kickoffInput: day, catchUp: later, maxCatchUp: 5}"),
  );
  const messages = bad.problems.map((p) => `${p.path}: ${p.message}`).join("\n");
  assert.match(messages, /schedule\.timeZone.*applies only to cron/);
  assert.match(messages, /schedule\.catchUp.*skip, last or all/);
  assert.match(messages, /schedule\.maxCatchUp.*applies only to catchUp: all/);
  const fields = await check(text('{cron: "* * * *", kickoffInput: day}'));
  assert.match(
    fields.problems.map((p) => `${p.path}: ${p.message}`).join("\n"),
    /schedule\.cron: .*6 fields with seconds first/,
  );
});

test("simulate becomes sandbox pod annotations in pluginConfig", async () => {
  const { compiled, problems } = await check(readFileSync(join(examples, "long-simulated.yaml"), "utf8"));
  assert.deepEqual(problems, []);
  const train = compiled.plan.find((p) => p.kind === "Task" && p.name === "long.train");
  assert.ok(train?.kind === "Task");
  assert.deepEqual(train.request.template?.pluginConfig?.podAnnotations, {
    "sandbox.flotilla.io/mode": "simulated",
    "sandbox.flotilla.io/duration": "120000ms",
  });
});

test("a branch compiles to an IfElseBlock whose conditions and alternatives read upstream outputs", async () => {
  const { compiled, problems } = await check(
    readFileSync(join(examples, "branch-and-subworkflow.yaml"), "utf8"),
    "branch-and-subworkflow.yaml",
  );
  assert.deepEqual(problems, []);
  assert.deepEqual(
    compiled.plan.map((p) => p.name),
    ["branching.add", "refine", "branch-and-subworkflow"],
    "the sub-workflow is registered before the workflow using it",
  );
  const wf = compiled.plan.find((p) => p.kind === "Workflow" && p.name === "branch-and-subworkflow");
  assert.ok(wf?.kind === "Workflow");
  const route = wf.request.template!.nodes.find((n) => n.id === "route");
  assert.ok(route?.target.case === "branchNode");
  const ifElse = route.target.value.ifElse!;
  const cond = ifElse.cases[0].condition?.expr;
  assert.ok(cond?.case === "conjunction");
  const left = cond.value.leftExpression?.expr;
  assert.ok(left?.case === "comparison");
  assert.deepEqual(
    [left.value.leftValue?.val.case, left.value.rightValue?.val.value],
    ["promise", { $typeName: "flotilla.core.v1.Primitive", value: { case: "integer", value: 10n } }],
  );
  const right = cond.value.rightExpression?.expr;
  assert.ok(right?.case === "comparison");
  assert.equal(right.value.leftValue?.val.case, "workflowInput");
  const then = ifElse.cases[0].thenNode;
  assert.equal(then?.id, "deep");
  assert.ok(then?.target.case === "workflowNode" && then.target.value.reference.case === "subWorkflowRef");
  assert.equal(then.target.value.reference.value.name, "refine");
  assert.ok(ifElse.fallback.case === "elseNode");
  assert.equal(ifElse.fallback.value.id, "shallow");
});

test("branch mistakes are reported with file, line and what is wrong", async () => {
  const text = `kind: Task
name: t
inputs: { x: integer, s: string }
outputs: { y: integer }
container: { image: busybox, command: ["true"] }
---
kind: Workflow
name: w
inputs: { mode: string }
outputs:
  out: { type: integer, from: b.y }
nodes:
  - id: a
    task: t
    inputs: { x: 1, s: x }
  - id: b
    branch:
      cases:
        - when: a.y >
          then: { id: c1, task: t, inputs: { x: 1, s: x } }
        - when: a.y == 'ten'
          then: { id: c2, task: t, inputs: { x: 1, s: x } }
        - when: $mode > 'fast' or nope.y == 1
          then: { id: a, task: t, inputs: { x: 1, s: x } }
      error: none of the cases
  - id: e
    branch:
      cases:
        - when: a.y == 1
          then: { id: e1, task: t, inputs: { x: 1, s: x } }
      error: "no case"
      else: { id: e2, task: t, inputs: { x: 1, s: x } }
`;
  const { problems } = await check(text, "bad.yaml");
  const lines = problems.map((p) => `${p.file}:${p.line}: ${p.message}`);
  const expect = (re: RegExp) =>
    assert.ok(
      lines.some((l) => re.test(l)),
      `${re} in\n${lines.join("\n")}`,
    );
  expect(/^bad\.yaml:19: condition "a\.y >": an operand is missing at the end/);
  expect(/^bad\.yaml:28: a branch needs exactly one of else \(a node\) and error \(a message\)/);
  // The parse problems stop compilation of this file; fix them to see the compile problems.
  const fixed = text.replace("when: a.y >\n", "when: a.y > 1\n").replace('      error: "no case"\n', "");
  const second = await check(fixed, "bad.yaml");
  const lines2 = second.problems.map((p) => `${p.file}:${p.line}: ${p.message}`);
  const expect2 = (re: RegExp) =>
    assert.ok(
      lines2.some((l) => re.test(l)),
      `${re} in\n${lines2.join("\n")}`,
    );
  expect2(/^bad\.yaml:21: branch "b" condition: cannot compare integer with string/);
  expect2(/^bad\.yaml:23: branch "b" condition: > does not apply to string values/);
  expect2(/^bad\.yaml:23: branch "b" condition: no upstream node "nope"/);
  expect2(/^bad\.yaml:24: node id "a" is used twice/);
  assert.equal(lines2.length, 4, lines2.join("\n"));
});

test("launch plan notifications: phases and exactly one channel, each problem on its line", async () => {
  const head = `
kind: Task
name: t
container: {image: busybox}
---
kind: Workflow
name: w
nodes: [{id: a, task: t}]
---
kind: LaunchPlan
name: lp
workflow: w
notifications:
`;
  const ok = await check(
    head +
      `  - {on: [FAILED, TIMED_OUT], webhook: "https://hooks.example.com/flotilla"}
  - {on: [SUCCEEDED], slack: "#ml-alerts"}
  - {on: [ABORTED], email: [ops@example.com, ml@example.com]}
`,
  );
  assert.deepEqual(ok.problems, []);
  const lp = ok.compiled.plan.find((p) => p.kind === "LaunchPlan");
  assert.ok(lp?.kind === "LaunchPlan");
  assert.deepEqual(
    lp.request.spec?.notifications.map((n) => [n.phases, n.type.case]),
    [
      [[WorkflowExecution_Phase.FAILED, WorkflowExecution_Phase.TIMED_OUT], "webhook"],
      [[WorkflowExecution_Phase.SUCCEEDED], "slack"],
      [[WorkflowExecution_Phase.ABORTED], "email"],
    ],
  );
  const bad = await check(
    head +
      `  - {on: [RUNNING], webhook: "https://x.example/h"}
  - {on: [FAILED], slack: "#a", email: [a@example.com]}
  - {webhook: "ftp://x"}
`,
  );
  const messages = bad.problems.map((p) => `${p.line} ${p.path}: ${p.message}`);
  assert.ok(
    messages.some((m) => /^14 notifications\[0\]\.on\[0\]: "RUNNING" is not one of/.test(m)),
    messages.join("\n"),
  );
  assert.ok(
    messages.some((m) => /^15 notifications\[1\]: exactly one of webhook, slack, email/.test(m)),
    messages.join("\n"),
  );
  assert.ok(
    messages.some((m) => /^16 notifications\[2\]\.webhook: "ftp:\/\/x" is not an http\(s\) URL/.test(m)),
    messages.join("\n"),
  );
  assert.ok(
    messages.some((m) => /^16 notifications\[2\]\.on: required field "on"/.test(m)),
    messages.join("\n"),
  );
});
