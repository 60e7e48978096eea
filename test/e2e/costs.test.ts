// Cost and waste end to end: the real admin bin on PostgreSQL with two priced sandbox clusters and
// a propeller each; workflows that succeed (their pods report usage, so requested-minus-used is
// waste) and one whose retried attempts all fail (whole cost is waste). `flotctl get costs -o json`
// (a separate process) and the admin's /metrics counters agree to the micro-dollar, hence to the
// cent, for the same window.
import assert from "node:assert/strict";
import { test } from "node:test";
import { create } from "@bufbuild/protobuf";
import {
  ExecutionSpecSchema,
  WorkflowExecution_Phase,
  type WorkflowExecutionIdentifier,
} from "@flotilla/proto";
import { aTask, aWorkflow, startPropeller } from "@flotilla/propeller";
import { eventually, spawnBin, tempDir } from "@flotilla/testing";
import { propellerEnv } from "./propeller-helpers.js";
import { adminPhase, registerClosure, startRealAdmin } from "./support/real-admin.js";

const CLUSTER_LABEL = "flotilla.io/cluster-label";

interface CostsJson {
  groups: ({ cluster?: string; workflow?: string; attempts: number } & Amounts)[];
  total: Amounts;
}
interface Amounts {
  cost: string;
  waste: string;
  costMicros: number;
  wasteMicros: number;
}

/** Dollars with cents from micro-dollars, half-up (the CLI's and the admin's rule). */
const cents = (micros: number) => (Math.floor((micros + 5000) / 10000) / 100).toFixed(2);

test("flotctl get costs and the cost counters agree to the cent over two priced clusters", async (t) => {
  const envA = await propellerEnv("cost-a");
  t.after(() => envA.stop());
  const envB = await propellerEnv("cost-b");
  t.after(() => envB.stop());
  const admin = await startRealAdmin({
    clusters: [
      {
        name: "cost-a",
        kubeconfig: envA.cluster.kubeconfig,
        labels: { [CLUSTER_LABEL]: "a" },
        prices: { cpuCoreHour: 0.05, memoryGibHour: 0.01 },
      },
      {
        name: "cost-b",
        kubeconfig: envB.cluster.kubeconfig,
        labels: { [CLUSTER_LABEL]: "b" },
        prices: { cpuCoreHour: 0.11, memoryGibHour: 0.013 },
      },
    ],
    t,
  });
  for (const [name, env] of [
    ["cost-a", envA],
    ["cost-b", envB],
  ] as const) {
    const propeller = await startPropeller({
      kubeconfig: env.kc,
      clusterId: name,
      admin: { url: admin.url },
      leaderElection: false,
      processMetrics: false,
    });
    t.after(() => propeller.stop());
  }

  const train = aTask("train").withRequests("2", "4Gi").simulated("1500ms").build();
  const flaky = aTask("flaky").withRequests("1", "1Gi").simulated("700ms", "fail").withRetries(1).build();
  const trainWf = await registerClosure(
    admin.client,
    aWorkflow("train-wf").withNode("fit", train).withNode("eval", train).closure(),
  );
  const flakyWf = await registerClosure(admin.client, aWorkflow("flaky-wf").withNode("f", flaky).closure());
  const runs: [string, NonNullable<typeof trainWf>, string][] = [
    ["train-on-a", trainWf!, "a"],
    ["train-on-b", trainWf!, "b"],
    ["flaky-on-b", flakyWf!, "b"],
  ];
  const ids: WorkflowExecutionIdentifier[] = [];
  for (const [name, wf, label] of runs) {
    const res = await admin.client.createExecution({
      project: wf.project,
      domain: wf.domain,
      name,
      spec: create(ExecutionSpecSchema, { target: { case: "workflow", value: wf }, clusterLabel: label }),
    });
    ids.push(res.id!);
  }
  // A workflow's terminal event follows its attempts' terminal events, so every attempt is priced.
  await eventually(
    async () => {
      const phases = await Promise.all(ids.map((id) => adminPhase(admin.client, id)));
      assert.deepEqual(phases, [
        WorkflowExecution_Phase.SUCCEEDED,
        WorkflowExecution_Phase.SUCCEEDED,
        WorkflowExecution_Phase.FAILED,
      ]);
    },
    { timeout: 60_000, interval: 250 },
  );

  const home = tempDir({ prefix: "e2e-costs-home-", t });
  const flotctl = async (...args: string[]): Promise<CostsJson> => {
    const child = await spawnBin("flotctl", ["get", "costs", ...args, "--admin", admin.url, "-o", "json"], {
      env: { HOME: home.path },
    });
    const status = await child.exited;
    assert.equal(status.code, 0, child.stderr.join("\n"));
    return JSON.parse(child.stdout.join("\n")) as CostsJson;
  };
  const project = trainWf!.project;
  const byCluster = await flotctl("-p", project, "--by", "cluster", "--since", "1h");
  const counter = async (name: string, cluster?: string) =>
    Math.round((await admin.metric(name, cluster ? { project, cluster } : { project })) * 1e6);

  assert.deepEqual(
    byCluster.groups.map((g) => [g.cluster, g.attempts]),
    [
      ["cost-a", 2],
      ["cost-b", 4],
    ],
  );
  for (const g of byCluster.groups) {
    const cost = await counter("flotilla_admin_task_cost_dollars_total", g.cluster);
    const waste = await counter("flotilla_admin_task_waste_dollars_total", g.cluster);
    assert.equal(g.costMicros, cost, `${g.cluster}: report and counter hold the same micro-dollars`);
    assert.equal(g.wasteMicros, waste);
    assert.equal(g.cost, cents(cost), `${g.cluster}: the same to the cent`);
    assert.equal(g.waste, cents(waste));
    assert.ok(g.costMicros > 0);
  }
  const totalCost = await counter("flotilla_admin_task_cost_dollars_total");
  assert.equal(byCluster.total.costMicros, totalCost);
  assert.equal(byCluster.total.cost, cents(totalCost));
  assert.equal(byCluster.total.wasteMicros, await counter("flotilla_admin_task_waste_dollars_total"));

  // By workflow: the flaky workflow's attempts produced nothing (all waste); the training pods
  // reported using less than they requested (some waste, not all).
  const byWorkflow = await flotctl("-p", project, "--by", "workflow", "--since", "1h");
  const wf = new Map(byWorkflow.groups.map((g) => [g.workflow, g]));
  const flakyCost = wf.get("flaky-wf");
  assert.equal(flakyCost?.attempts, 2, "the failed attempt and its retry");
  assert.equal(flakyCost.wasteMicros, flakyCost.costMicros);
  const trainCost = wf.get("train-wf");
  assert.equal(trainCost?.attempts, 4);
  assert.ok(
    trainCost.wasteMicros > 0 && trainCost.wasteMicros < trainCost.costMicros,
    JSON.stringify(trainCost),
  );
  assert.equal(byWorkflow.total.costMicros, byCluster.total.costMicros);
});
