import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createRouterTransport } from "@connectrpc/connect";
import {
  AdminService,
  Cluster_State,
  ClusterSchema,
  ExecutionSchema,
  NodeExecution_Phase,
  ProjectSchema,
  TaskExecution_Phase,
  ValidationErrorSchema,
  WorkflowExecution_Phase,
  type CreateExecutionRequest,
  type CreateLaunchPlanRequest,
  type CreateTaskRequest,
  type CreateWorkflowRequest,
  type Project,
} from "@flotilla/proto";
import { runCli } from "./testing/harness.js";

const examples = fileURLToPath(new URL("../../examples/", import.meta.url));
let home: string;

before(async () => {
  home = await mkdtemp(join(tmpdir(), "flotctl-home-"));
});
after(async () => {
  await rm(home, { recursive: true, force: true });
});

/** An in-memory admin implementing the calls the CLI makes, recording what it was asked. */
function fakeAdmin() {
  const calls = {
    tasks: [] as CreateTaskRequest[],
    workflows: [] as CreateWorkflowRequest[],
    launchPlans: [] as CreateLaunchPlanRequest[],
    executions: [] as CreateExecutionRequest[],
    cordoned: [] as string[],
    terminated: [] as string[],
    projects: [] as Project[],
    attributes: [] as string[],
  };
  const phases = { poll: 0, outcome: WorkflowExecution_Phase.SUCCEEDED };
  const transport = createRouterTransport(({ service }) => {
    service(AdminService, {
      listProjects: () => ({
        projects: [
          create(ProjectSchema, {
            id: "flytesnacks",
            name: "Flyte snacks",
            domains: [{ id: "development" }, { id: "production" }],
          }),
          create(ProjectSchema, {
            id: "risk",
            name: "Risk",
            isolationLabel: "regulated",
            domains: [{ id: "production" }],
          }),
        ],
      }),
      getProject: (req) => {
        if (req.id !== "flytesnacks") throw new ConnectError(`project ${req.id} not found`, Code.NotFound);
        return { project: create(ProjectSchema, { id: "flytesnacks", name: "Flyte snacks" }) };
      },
      registerProject: (req) => {
        if (req.project?.id === "Bad_Id") {
          throw new ConnectError("project.id: not a DNS-1123 label", Code.InvalidArgument, undefined, [
            {
              desc: ValidationErrorSchema,
              value: { violations: [{ field: "project.id", rule: "dns1123_label", description: "Bad_Id" }] },
            },
          ]);
        }
        return { project: req.project };
      },
      updateProject: (req) => (calls.projects.push(req.project!), { project: req.project }),
      updateMatchableAttributes: (req) => (
        calls.attributes.push(`${req.scope?.project}/${req.scope?.domain}:${req.attributes?.target.case}`),
        {}
      ),
      getVersion: () => ({ version: "0.1.0", commit: "abc123", apiVersion: "flotilla.admin.v1" }),
      createTask: (req) => (calls.tasks.push(req), { task: { id: req.template?.id } }),
      getTask: () => {
        throw new ConnectError("not found", Code.NotFound);
      },
      createWorkflow: (req) => (calls.workflows.push(req), { workflow: { id: req.template?.id } }),
      createLaunchPlan: (req) => (calls.launchPlans.push(req), { launchPlan: { id: req.id } }),
      listLaunchPlans: (req) => ({
        launchPlans: [
          { id: { project: req.id?.project, domain: req.id?.domain, name: req.id?.name, version: "v3" } },
        ],
      }),
      getLaunchPlan: (req) => ({
        launchPlan: {
          id: req.id,
          expectedInputs: {
            parameters: {
              name: {
                var: { type: { type: { case: "simple", value: 4 } } },
                behavior: { case: "required", value: true },
              },
              count: {
                var: { type: { type: { case: "simple", value: 2 } } },
                behavior: { case: "required", value: true },
              },
            },
          },
        },
      }),
      createExecution: (req) => (
        calls.executions.push(req),
        { id: { project: req.project, domain: req.domain, name: req.name || "gen123" } }
      ),
      getExecution: (req) => {
        phases.poll++;
        const phase = phases.poll < 3 ? WorkflowExecution_Phase.RUNNING : phases.outcome;
        return {
          execution: create(ExecutionSchema, {
            id: req.id,
            spec: { target: { case: "launchPlan", value: { name: "hello-world-lp", version: "v1" } } },
            closure: {
              phase,
              cluster: "cluster-a",
              createdAt: timestampFromDate(new Date("2026-01-01T00:00:00Z")),
              ...(phase === WorkflowExecution_Phase.FAILED
                ? { error: { code: "TaskFailed", message: "node say failed" } }
                : {}),
            },
          }),
        };
      },
      listNodeExecutions: (req) => ({
        nodeExecutions: [
          {
            id: { executionId: req.executionId, nodeId: "say" },
            closure: { phase: phases.poll < 2 ? NodeExecution_Phase.RUNNING : NodeExecution_Phase.SUCCEEDED },
            metadata: { taskId: { name: "hello.say", version: "v1" } },
          },
        ],
      }),
      listTaskExecutions: (req) => ({
        taskExecutions: [
          {
            id: { nodeExecutionId: req.nodeExecutionId, retryAttempt: 0 },
            closure: { phase: TaskExecution_Phase.FAILED, cost: 0.012345 },
          },
          {
            id: { nodeExecutionId: req.nodeExecutionId, retryAttempt: 1 },
            closure: { phase: TaskExecution_Phase.SUCCEEDED, cost: 0.037655 },
          },
        ],
      }),
      getExecutionData: () => ({
        data: {
          fullInputs: {
            literals: {
              name: {
                value: {
                  case: "scalar",
                  value: {
                    value: { case: "primitive", value: { value: { case: "stringValue", value: "world" } } },
                  },
                },
              },
            },
          },
          fullOutputs: {
            literals: {
              greeting: {
                value: {
                  case: "scalar",
                  value: {
                    value: {
                      case: "primitive",
                      value: { value: { case: "stringValue", value: "hello world" } },
                    },
                  },
                },
              },
            },
          },
        },
      }),
      terminateExecution: (req) => {
        if (req.id?.name === "done")
          throw new ConnectError("execution already SUCCEEDED", Code.FailedPrecondition);
        calls.terminated.push(`${req.id?.name}:${req.cause}`);
        return {};
      },
      cordonCluster: (req) => (
        calls.cordoned.push(`${req.name}:${req.reason}`),
        { cluster: create(ClusterSchema, { name: req.name, state: Cluster_State.CORDONED }) }
      ),
      drainCluster: (req) => ({
        cluster: create(ClusterSchema, { name: req.name, state: Cluster_State.DRAINING }),
        remainingExecutions: 3,
      }),
      explainExecution: () => ({
        decisions: [
          {
            chosenCluster: "cluster-b",
            clusterLabel: "gpu",
            clusterLabelSource: "rule",
            isolationLabel: "",
            matchedRule: { id: "r1", scope: { project: "flytesnacks" } },
            candidates: [
              { cluster: "cluster-a", eligible: false, reason: "Cordoned", message: "cordoned: maintenance" },
              { cluster: "cluster-b", eligible: true, reason: "Eligible", weight: 1 },
            ],
          },
        ],
      }),
    });
  });
  return { transport, calls, phases };
}

const pd = ["-p", "flytesnacks", "-d", "development"];

test("get projects prints an aligned table without colour, and proto-JSON with -o json", async () => {
  const { transport } = fakeAdmin();
  const table = await runCli(["get", "projects"], { transport });
  assert.equal(table.code, 0, table.stderr);
  const lines = table.stdout.trimEnd().split("\n");
  assert.match(lines[0], /^ID\s+NAME\s+STATE\s+DOMAINS\s+ISOLATION$/);
  assert.match(lines[1], /^flytesnacks\s+Flyte snacks\s+ACTIVE\s+development,production\s+-$/);
  assert.match(lines[2], /^risk\s+Risk\s+ACTIVE\s+production\s+regulated$/);
  assert.equal(lines[1].indexOf("Flyte"), lines[0].indexOf("NAME"));
  assert.equal(table.stdout.includes("\u001b["), false);
  const json = await runCli(["get", "projects", "-o", "json"], { transport });
  const parsed = JSON.parse(json.stdout) as Array<{ id: string; isolationLabel?: string }>;
  assert.deepEqual(
    parsed.map((p) => p.id),
    ["flytesnacks", "risk"],
  );
  assert.equal(parsed[1].isolationLabel, "regulated");
});

test("failures exit non-zero with the stable JSON error shape, including typed details", async () => {
  const { transport } = fakeAdmin();
  const missing = await runCli(["get", "projects", "nope", "-o", "json"], { transport });
  assert.equal(missing.code, 1);
  assert.deepEqual(JSON.parse(missing.stdout), {
    error: { code: "not_found", message: "project nope not found", details: [] },
  });
  const invalid = await runCli(["create", "project", "Bad_Id", "-o", "json"], { transport });
  assert.equal(invalid.code, 1);
  const err = (JSON.parse(invalid.stdout) as { error: { code: string; details: unknown[] } }).error;
  assert.equal(err.code, "invalid_argument");
  assert.deepEqual(err.details, [{ field: "project.id", rule: "dns1123_label", description: "Bad_Id" }]);
  const human = await runCli(["get", "projects", "nope"], { transport });
  assert.equal(human.code, 1);
  assert.equal(human.stdout, "");
  assert.equal(human.stderr, "Error: project nope not found\n");
});

test("usage errors exit 2: unknown command, bad flag value, missing project", async () => {
  const { transport } = fakeAdmin();
  const unknown = await runCli(["frobnicate"], { transport });
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /command frobnicate not found/);
  const badFlag = await runCli(["get", "projects", "-o", "xml", "-o", "json"], { transport });
  assert.equal(badFlag.code, 2);
  const badOutput = await runCli(["get", "executions", "--phase", "NOPE", "-o", "json", ...pd], {
    transport,
  });
  assert.equal(badOutput.code, 2);
  assert.equal((JSON.parse(badOutput.stdout) as { error: { code: string } }).error.code, "usage");
  const badAdmin = await runCli(["get", "projects", "--admin", "admin:8088"]);
  assert.equal(badAdmin.code, 2);
  assert.match(badAdmin.stderr, /admin URL "admin:8088" must start with http/);
  const noProject = await runCli(["get", "tasks"], { transport });
  assert.equal(noProject.code, 2);
  assert.match(noProject.stderr, /project is required: pass -p\/--project/);
});

test("an unreachable admin is reported with its URL", async () => {
  const r = await runCli(["get", "projects", "--admin", "http://127.0.0.1:1", "-o", "json"]);
  assert.equal(r.code, 1);
  const err = (JSON.parse(r.stdout) as { error: { code: string; message: string } }).error;
  assert.equal(err.code, "unavailable");
  assert.match(err.message, /cannot reach the admin at http:\/\/127\.0\.0\.1:1/);
});

test("config init writes the file; settings resolve flag > env > config > default", async () => {
  const env = { FLOTCTL_CONFIG: join(home, "cfg", "config.yaml") };
  const init = await runCli(
    ["config", "init", "--admin", "http://admin.example:8088", "-p", "flytesnacks", "-d", "development"],
    { env, home },
  );
  assert.equal(init.code, 0, init.stderr);
  const text = await readFile(env.FLOTCTL_CONFIG, "utf8");
  assert.match(text, /admin: http:\/\/admin\.example:8088/);
  assert.match(text, /project: flytesnacks/);
  const view = await runCli(["config", "view", "-o", "json", "-d", "production"], {
    env: { ...env, FLOTILLA_ADMIN: "http://env:1" },
    home,
  });
  assert.equal(view.code, 0, view.stderr);
  const settings = (
    JSON.parse(view.stdout) as { settings: Record<string, { value: string; source: string }> }
  ).settings;
  assert.deepEqual(settings.admin, { value: "http://env:1", source: "env" });
  assert.deepEqual(settings.project, { value: "flytesnacks", source: "config" });
  assert.deepEqual(settings.domain, { value: "production", source: "flag" });
  await writeFile(env.FLOTCTL_CONFIG, "admin: http://x\ncolour: red\n");
  const bad = await runCli(["config", "view"], { env, home });
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /unknown key "colour"/);
});

test("register files registers tasks, then workflows, then launch plans under --version", async () => {
  const { transport, calls } = fakeAdmin();
  const r = await runCli(
    [
      "register",
      "files",
      join(examples, "hello-world.yaml"),
      join(examples, "diamond.yaml"),
      "--version",
      "v1",
      ...pd,
    ],
    { transport },
  );
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(calls.tasks.map((t) => t.template?.id?.name).sort(), [
    "diamond.add",
    "diamond.multiply",
    "hello.say",
  ]);
  assert.deepEqual(calls.workflows.map((w) => w.template?.id?.name).sort(), ["diamond", "hello-world"]);
  assert.deepEqual(
    calls.launchPlans.map((l) => `${l.id?.name}@${l.id?.version}`),
    ["hello-world-lp@v1"],
  );
  assert.equal(calls.tasks[0].template?.id?.project, "flytesnacks");
  assert.match(r.stdout, /^KIND\s+NAME\s+VERSION\s+STATUS/);
  assert.match(r.stdout, /LaunchPlan\s+hello-world-lp\s+v1\s+registered/);
});

test("register files with any error registers nothing and lists every problem with file:line", async () => {
  const { transport, calls } = fakeAdmin();
  const dir = await mkdtemp(join(tmpdir(), "flotctl-spec-"));
  try {
    const good = join(dir, "good.yaml");
    const bad = join(dir, "bad.yaml");
    await writeFile(good, await readFile(join(examples, "hello-world.yaml"), "utf8"));
    await writeFile(
      bad,
      "kind: Task\nname: t\ncontainer: {image: busybox}\ntimeout: forever\n---\nkind: Workflow\nname: w\nnodes:\n  - id: a\n    task: t\n    inputs: {x: 1}\n",
    );
    const r = await runCli(["register", "files", dir, "--version", "v1", ...pd, "-o", "json"], { transport });
    assert.equal(r.code, 1);
    assert.equal(calls.tasks.length + calls.workflows.length + calls.launchPlans.length, 0);
    const err = (
      JSON.parse(r.stdout) as {
        error: { code: string; details: Array<{ file: string; line: number; path: string }> };
      }
    ).error;
    assert.equal(err.code, "invalid_spec");
    assert.deepEqual(
      err.details.map((d) => `${d.file.slice(dir.length + 1)}:${d.line} ${d.path}`),
      ["bad.yaml:4 timeout", "bad.yaml:11 nodes[0].inputs.x"],
    );
    const human = await runCli(["register", "files", bad, "--version", "v1", ...pd], { transport });
    assert.match(human.stderr, /2 problems found, nothing was registered/);
    assert.match(human.stderr, /bad\.yaml:4:10: timeout: expected a duration/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("create execution types --inputs against the launch plan and picks the latest version", async () => {
  const { transport, calls } = fakeAdmin();
  const r = await runCli(
    [
      "create",
      "execution",
      "--launchplan",
      "hello-world-lp",
      "--inputs",
      "name=world",
      "--inputs",
      "count=3",
      "--name",
      "hello-1",
      ...pd,
      "-o",
      "json",
    ],
    { transport },
  );
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), {
    project: "flytesnacks",
    domain: "development",
    name: "hello-1",
    alreadyExisted: false,
    target: "LaunchPlan/hello-world-lp:v3",
  });
  const req = calls.executions[0];
  assert.equal(req.spec?.target.case, "launchPlan");
  assert.equal(req.spec?.target.value?.version, "v3");
  const count = req.spec?.inputs?.literals.count?.value;
  assert.ok(count?.case === "scalar" && count.value.value.case === "primitive");
  assert.equal(count.value.value.value.value.value, 3n);
  const bad = await runCli(
    [
      "create",
      "execution",
      "--launchplan",
      "hello-world-lp",
      "--inputs",
      "count=three",
      "--inputs",
      "nope=1",
      ...pd,
    ],
    { transport },
  );
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /count: expected an integer, got string "three"/);
  assert.match(bad.stderr, /nope: not an input of hello-world-lp/);
  assert.equal(calls.executions.length, 1);
});

test("update cluster, delete execution and explain execution call the admin and report", async () => {
  const { transport, calls } = fakeAdmin();
  const noReason = await runCli(["update", "cluster", "cluster-a", "--cordon"], { transport });
  assert.equal(noReason.code, 2);
  const cordon = await runCli(["update", "cluster", "cluster-a", "--cordon", "--reason", "maintenance"], {
    transport,
  });
  assert.equal(cordon.code, 0, cordon.stderr);
  assert.deepEqual(calls.cordoned, ["cluster-a:maintenance"]);
  assert.equal(cordon.stdout, "cluster cluster-a is CORDONED\n");
  const drain = await runCli(["update", "cluster", "cluster-a", "--drain", "--reason", "bye"], { transport });
  assert.equal(drain.stdout, "cluster cluster-a is DRAINING (3 executions still running)\n");
  const del = await runCli(["delete", "execution", "abc", ...pd, "--cause", "wrong inputs"], { transport });
  assert.equal(del.code, 0, del.stderr);
  assert.deepEqual(calls.terminated, ["abc:wrong inputs"]);
  const done = await runCli(["delete", "execution", "done", ...pd, "-o", "json"], { transport });
  assert.equal(done.code, 1);
  assert.equal((JSON.parse(done.stdout) as { error: { code: string } }).error.code, "failed_precondition");
  const explain = await runCli(["explain", "execution", "abc", ...pd], { transport });
  assert.equal(explain.code, 0, explain.stderr);
  assert.match(explain.stdout, /Chosen cluster:\s+cluster-b/);
  assert.match(explain.stdout, /Cluster label:\s+gpu \(from rule\)/);
  assert.match(explain.stdout, /cluster-a\s+no\s+Cordoned/);
  assert.match(explain.stdout, /cluster-b \*\s+yes\s+Eligible/);
});

test("get executions --details shows the node tree with attempts", async () => {
  const { transport } = fakeAdmin();
  const r = await runCli(["get", "executions", "hello-1", "--details", ...pd], { transport });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Execution:\s+flytesnacks\/development\/hello-1/);
  assert.match(r.stdout, /Cluster:\s+cluster-a/);
  assert.match(r.stdout, /say\s+RUNNING\s+hello\.say:v1\s+-\s+-\s+#0 FAILED, #1 SUCCEEDED\s+0\.05\s/);
  assert.match(r.stdout, /Cost:\s+\$0\.05 \(finished attempts\)/);
  assert.match(r.stdout, /Inputs:\s+\{"name":"world"\}/);
  assert.match(r.stdout, /Outputs:\s+\{"greeting":"hello world"\}/);
});

test("watch execution without a TTY prints phase changes and exits with the outcome", async () => {
  const ok = fakeAdmin();
  const r = await runCli(["watch", "execution", "hello-1", ...pd, "--interval", "50ms"], {
    transport: ok.transport,
  });
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout
    .trimEnd()
    .split("\n")
    .map((l) => l.slice(9));
  assert.deepEqual(lines, [
    "execution hello-1 RUNNING on cluster-a",
    "node say attempt #0 FAILED",
    "node say attempt #1 SUCCEEDED",
    "node say RUNNING",
    "node say SUCCEEDED",
    "execution hello-1 SUCCEEDED on cluster-a",
  ]);
  const failing = fakeAdmin();
  failing.phases.outcome = WorkflowExecution_Phase.FAILED;
  const f = await runCli(["watch", "execution", "hello-1", ...pd, "--interval", "50ms", "-o", "json"], {
    transport: failing.transport,
  });
  assert.equal(f.code, 1);
  const out = f.stdout;
  const lastBrace = out.lastIndexOf('{\n  "error"');
  assert.equal((JSON.parse(out.slice(0, lastBrace)) as { phase: string }).phase, "FAILED");
  assert.deepEqual(
    (JSON.parse(out.slice(lastBrace)) as { error: { code: string; details: unknown[] } }).error.code,
    "execution_failed",
  );
});

test("watch execution on a terminal renders the live tree with ink and exits with the outcome", async () => {
  const { transport } = fakeAdmin();
  const r = await runCli(["watch", "execution", "hello-1", ...pd, "--interval", "50ms"], {
    transport,
    tty: true,
    env: { NO_COLOR: "1" },
  });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /flytesnacks\/development\/hello-1 {2}SUCCEEDED {2}cluster cluster-a/);
  assert.match(r.stdout, /✓ say {2}SUCCEEDED/);
  assert.match(r.stdout, /retries 1/);
});

test("completion bash is valid bash that completes topics, sub-commands and flags", async () => {
  const r = await runCli(["completion", "bash"]);
  assert.equal(r.code, 0, r.stderr);
  const dir = await mkdtemp(join(tmpdir(), "flotctl-completion-"));
  try {
    const script = join(dir, "flotctl.bash");
    await writeFile(script, r.stdout);
    const complete = (words: string[]) =>
      execFileSync(
        "bash",
        [
          "-c",
          `source ${script}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${words.length - 1}; _flotctl; echo "\${COMPREPLY[@]}"`,
        ],
        {
          encoding: "utf8",
        },
      ).trim();
    assert.equal(complete(["flotctl", "ge"]), "get");
    assert.equal(complete(["flotctl", "get", "ex"]), "executions");
    assert.match(complete(["flotctl", "get", "executions", "--de"]), /^--details$/);
    assert.match(complete(["flotctl", "update", "cluster", "x", "--"]), /--cordon.*--drain.*--uncordon/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("update project changes isolation and labels, and sets attributes at project/domain scope", async () => {
  const { transport, calls } = fakeAdmin();
  const r = await runCli(
    [
      "update",
      "project",
      "flytesnacks",
      "--isolation",
      "regulated",
      "--label",
      "team=risk",
      "-d",
      "production",
      "--cluster-label",
      "gpu",
      "--max-parallelism",
      "5",
    ],
    { transport },
  );
  assert.equal(r.code, 0, r.stderr);
  assert.equal(calls.projects[0]?.isolationLabel, "regulated");
  assert.deepEqual(calls.projects[0]?.labels, { team: "risk" });
  assert.deepEqual(calls.attributes, [
    "flytesnacks/production:executionClusterLabel",
    "flytesnacks/production:workflowExecutionConfig",
  ]);
  const nothing = await runCli(["update", "project", "flytesnacks"], { transport });
  assert.equal(nothing.code, 2);
  const bad = await runCli(["update", "project", "flytesnacks", "--isolation", "Not_A_Label"], { transport });
  assert.equal(bad.code, 2);
  assert.equal(calls.projects.length, 1);
});

test("create execution from an exec file; exec file errors name the line", async () => {
  const { transport, calls } = fakeAdmin();
  const dir = await mkdtemp(join(tmpdir(), "flotctl-exec-"));
  try {
    const file = join(dir, "run.yaml");
    await writeFile(
      file,
      "launchPlan: hello-world-lp\nversion: v1\nname: from-file\ninputs:\n  name: bob\n  count: 2\nlabels: {ticket: ops-1}\n",
    );
    const r = await runCli(["create", "execution", "--exec-file", file, "--inputs", "count=7", ...pd], {
      transport,
    });
    assert.equal(r.code, 0, r.stderr);
    const req = calls.executions[0];
    assert.equal(req.name, "from-file");
    assert.equal(req.spec?.target.value?.version, "v1");
    assert.deepEqual(req.spec?.labels, { ticket: "ops-1" });
    const count = req.spec?.inputs?.literals.count?.value;
    assert.ok(count?.case === "scalar" && count.value.value.case === "primitive");
    assert.equal(count.value.value.value.value.value, 7n, "flags override the file");
    await writeFile(file, "launchPlan: hello-world-lp\nname: Not_Valid\nmaxParallelism: -1\n");
    const bad = await runCli(["create", "execution", "--exec-file", file, ...pd, "-o", "json"], {
      transport,
    });
    assert.equal(bad.code, 1);
    const err = (
      JSON.parse(bad.stdout) as { error: { code: string; details: Array<{ line: number; path: string }> } }
    ).error;
    assert.equal(err.code, "invalid_spec");
    assert.deepEqual(
      err.details.map((d) => `${d.line} ${d.path}`),
      ["2 name", "3 maxParallelism"],
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("version shows client and admin versions, and still works when the admin is down", async () => {
  const { transport } = fakeAdmin();
  const up = await runCli(["version", "-o", "json"], { transport });
  assert.equal(up.code, 0, up.stderr);
  assert.deepEqual((JSON.parse(up.stdout) as { server: unknown }).server, {
    version: "0.1.0",
    commit: "abc123",
    apiVersion: "flotilla.admin.v1",
  });
  const down = await runCli(["version", "--admin", "http://127.0.0.1:1"]);
  assert.equal(down.code, 0);
  assert.match(down.stdout, /Client:\s+flotctl 0\.1\.0/);
  assert.match(down.stdout, /Admin:\s+unavailable \(cannot reach the admin at http:\/\/127\.0\.0\.1:1/);
});

test("every command has a summary and help examples", async () => {
  const { manifestCommands } = await import("./manifest.js");
  const commands = manifestCommands() as Record<string, { summary?: string; examples?: unknown[] }>;
  assert.ok(Object.keys(commands).length >= 18);
  for (const [id, c] of Object.entries(commands)) {
    assert.ok(c.summary, `${id} has a summary`);
    assert.ok((c.examples?.length ?? 0) >= 1, `${id} has examples`);
  }
});
