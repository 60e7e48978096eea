import assert from "node:assert/strict";
import { it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { LaunchPlanSpecSchema, ProjectSchema, ResourceType } from "@flotilla/proto";
import { eachDatabase } from "@flotilla/testing";
import { ADMIN_MIGRATIONS_DIR } from "../admin.js";
import { AlreadyExistsError, CompilationError, NotFoundError } from "../errors.js";
import {
  DOMAIN,
  INTEGER,
  PROJECT,
  STRING,
  aTask,
  aWorkflow,
  constInt,
  fromInput,
  fromNode,
  idOf,
  str,
} from "../testing/builders.js";
import { testAdmin } from "../testing/harness.js";

eachDatabase("admin registry", { migrations: ADMIN_MIGRATIONS_DIR }, (ctx) => {
  it("registers projects with default domains, idempotently, and refuses different content", async (t) => {
    const { admin } = await testAdmin(ctx.db(), t);
    const stored = await admin.projects.get(PROJECT);
    assert.deepEqual(
      stored.domains.map((d) => d.id),
      ["development", "staging", "production"],
    );
    const again = await admin.projects.register(create(ProjectSchema, { id: PROJECT, name: "Flotilla" }));
    assert.equal(again.id, PROJECT);
    await assert.rejects(
      admin.projects.register(create(ProjectSchema, { id: PROJECT, name: "Other" })),
      AlreadyExistsError,
    );
    await assert.rejects(admin.projects.get("nope"), NotFoundError);
  });

  it("stores tasks immutably: same digest is idempotent, a different one AlreadyExists", async (t) => {
    const { admin } = await testAdmin(ctx.db(), t);
    const task = aTask("double").withInput("x", INTEGER).withOutput("y", INTEGER).build();
    const first = await admin.tasks.create(task);
    const second = await admin.tasks.create(task);
    assert.equal(second.digest, first.digest);
    assert.match(first.digest, /^sha256:[0-9a-f]{64}$/);
    const changed = aTask("double").withInput("x", STRING).withOutput("y", INTEGER).build();
    await assert.rejects(admin.tasks.create(changed), AlreadyExistsError);
    const listed = await admin.tasks.list(
      { project: PROJECT, domain: DOMAIN, name: "double" },
      { key: "created_at", ascending: false },
      { pageSize: 0, pageToken: "" },
    );
    assert.equal(listed.items.length, 1);
  });

  it("rejects invalid workflows naming the problem and stores nothing", async (t) => {
    const { admin } = await testAdmin(ctx.db(), t);
    await admin.tasks.create(aTask("double").withInput("x", INTEGER).withOutput("y", INTEGER).build());
    await admin.tasks.create(aTask("shout").withInput("s", STRING).withOutput("o", STRING).build());
    const cyclic = aWorkflow("bad")
      .withNode("a", "double")
      .binding("x", fromNode("b", "y"))
      .withNode("b", "double")
      .binding("x", fromNode("a", "y"))
      .build();
    await assert.rejects(
      admin.workflows.create(cyclic),
      (err: unknown) => err instanceof CompilationError && /cycle/.test(err.message),
    );
    const mismatch = aWorkflow("bad")
      .withNode("a", "double")
      .binding("x", constInt(1))
      .withNode("b", "shout")
      .binding("s", fromNode("a", "y"))
      .build();
    await assert.rejects(
      admin.workflows.create(mismatch),
      (err: unknown) =>
        err instanceof CompilationError &&
        /node "b" variable "s": expected string, got integer/.test(err.message),
    );
    const missingInput = aWorkflow("bad").withNode("a", "double").build();
    await assert.rejects(admin.workflows.create(missingInput), /node "a" variable "x": required input/);
    await assert.rejects(admin.workflows.get(idOf(ResourceType.WORKFLOW, "bad")), NotFoundError);
    const page = await admin.workflows.list(
      { project: PROJECT, domain: DOMAIN, name: "" },
      { key: "created_at", ascending: false },
      { pageSize: 0, pageToken: "" },
    );
    assert.equal(page.items.length, 0);
  });

  it("compiles a workflow into a closure and binds a launch plan with defaults and fixed inputs", async (t) => {
    const { admin } = await testAdmin(ctx.db(), t);
    await admin.tasks.create(aTask("double").withInput("x", INTEGER).withOutput("y", INTEGER).build());
    const wf = aWorkflow("chain")
      .withInput("n", INTEGER)
      .withInput("label", STRING)
      .withNode("a", "double")
      .binding("x", fromInput("n"))
      .withOutput("out", INTEGER, fromNode("a", "y"))
      .build();
    const stored = await admin.workflows.create(wf);
    assert.equal(stored.closure?.tasks.length, 1);
    assert.deepEqual(await admin.workflows.create(wf).then((w) => w.digest), stored.digest);
    const lp = await admin.launchPlans.create(
      idOf(ResourceType.LAUNCH_PLAN, "chain-lp"),
      create(LaunchPlanSpecSchema, {
        workflowId: idOf(ResourceType.WORKFLOW, "chain"),
        defaultInputs: {
          parameters: {
            n: {
              var: { type: INTEGER },
              behavior: {
                case: "default",
                value: {
                  value: {
                    case: "scalar",
                    value: { value: { case: "primitive", value: { value: { case: "integer", value: 3n } } } },
                  },
                },
              },
            },
          },
        },
        fixedInputs: { literals: { label: str("fixed") } },
      }),
    );
    assert.deepEqual(Object.keys(lp.expectedInputs!.parameters), ["n"]);
    await assert.rejects(
      admin.launchPlans.create(
        idOf(ResourceType.LAUNCH_PLAN, "wrong"),
        create(LaunchPlanSpecSchema, {
          workflowId: idOf(ResourceType.WORKFLOW, "chain"),
          fixedInputs: { literals: { n: str("three") } },
        }),
      ),
      /input "n": fixed value: expected integer, got string/,
    );
    const active = await admin.launchPlans.setState(idOf(ResourceType.LAUNCH_PLAN, "chain-lp"), 2);
    assert.equal(active.state, 2);
  });
});
