import assert from "node:assert/strict";
import { test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { createRouterTransport } from "@connectrpc/connect";
import {
  AdminService,
  ClusterSchema,
  CostGroupSchema,
  CostGrouping,
  GetCostsResponseSchema,
  type GetCostsRequest,
} from "@flotilla/proto";
import { runCli } from "../../testing/harness.js";
import { dollars, parseWhen } from "./costs.js";

/** An admin answering GetCosts with two workflows, recording the requests. */
function costAdmin() {
  const requests: GetCostsRequest[] = [];
  const transport = createRouterTransport(({ service }) => {
    service(AdminService, {
      getCluster: (req) => ({
        cluster: create(ClusterSchema, {
          name: req.name,
          prices: req.name === "east" ? { cpuHour: 0.0425, memoryGibHour: 0.0057, gpuHour: 2.48 } : {},
        }),
        activeExecutions: 0,
      }),
      getCosts: (req) => {
        requests.push(req);
        return create(GetCostsResponseSchema, {
          groups: [
            create(CostGroupSchema, {
              project: "ml",
              domain: "development",
              workflow: "train",
              costMicros: 1_534_005n,
              wasteMicros: 24_500n,
              attempts: 2n,
            }),
            create(CostGroupSchema, {
              project: "ml",
              domain: "development",
              workflow: "prep",
              costMicros: 15_000n,
              wasteMicros: 15_000n,
              attempts: 1n,
            }),
          ],
          totalCostMicros: 1_549_005n,
          totalWasteMicros: 39_500n,
          since: req.since,
          until: req.until ?? timestampFromDate(new Date("2026-03-09T00:00:00Z")),
        });
      },
    });
  });
  return { transport, requests };
}

test("get costs asks for the window and grouping and prints dollars with cents", async () => {
  const { transport, requests } = costAdmin();
  const before = Date.now();
  const run = await runCli(["get", "costs", "-p", "ml", "--by", "workflow", "--since", "7d"], { transport });
  assert.equal(run.code, 0, run.stderr);
  const req = requests[0];
  assert.equal(req.project, "ml");
  assert.equal(req.domain, "");
  assert.equal(req.groupBy, CostGrouping.WORKFLOW);
  const sinceMs = timestampDate(req.since!).getTime();
  assert.ok(Math.abs(before - 7 * 86_400_000 - sinceMs) < 60_000, "since is 7 days back");
  assert.equal(req.until, undefined);
  assert.match(run.stdout, /PROJECT\s+DOMAIN\s+WORKFLOW\s+ATTEMPTS\s+COST \(\$\)\s+WASTE \(\$\)\s+WASTE %/);
  assert.match(run.stdout, /ml\s+development\s+train\s+2\s+1\.53\s+0\.02\s+1\.5/);
  assert.match(run.stdout, /ml\s+development\s+prep\s+1\s+0\.02\s+0\.02\s+100/);
  assert.match(run.stdout, /TOTAL \$1\.55 \(waste \$0\.04\)/);
});

test("get costs -o json carries micro-dollars and dollars, and the window applied", async () => {
  const { transport, requests } = costAdmin();
  const run = await runCli(
    [
      "get",
      "costs",
      "-p",
      "ml",
      "-d",
      "development",
      "--by",
      "workflow",
      "--since",
      "2026-03-01T00:00:00Z",
      "--until",
      "2026-03-08T00:00:00Z",
      "-o",
      "json",
    ],
    { transport },
  );
  assert.equal(run.code, 0, run.stderr);
  assert.equal(requests[0].domain, "development");
  assert.deepEqual(JSON.parse(run.stdout), {
    currency: "USD",
    groupBy: "workflow",
    since: "2026-03-01T00:00:00.000Z",
    until: "2026-03-08T00:00:00.000Z",
    groups: [
      {
        project: "ml",
        domain: "development",
        workflow: "train",
        attempts: 2,
        cost: "1.53",
        waste: "0.02",
        costMicros: 1_534_005,
        wasteMicros: 24_500,
      },
      {
        project: "ml",
        domain: "development",
        workflow: "prep",
        attempts: 1,
        cost: "0.02",
        waste: "0.02",
        costMicros: 15_000,
        wasteMicros: 15_000,
      },
    ],
    total: { cost: "1.55", waste: "0.04", costMicros: 1_549_005, wasteMicros: 39_500 },
  });
});

test("get costs rejects a bad window or grouping with exit 2 and names the flag", async () => {
  const { transport, requests } = costAdmin();
  const badSince = await runCli(["get", "costs", "--since", "last week"], { transport });
  assert.equal(badSince.code, 2);
  assert.match(badSince.stderr, /--since expects a duration/);
  const backwards = await runCli(["get", "costs", "--since", "1d", "--until", "2d"], { transport });
  assert.equal(backwards.code, 2);
  assert.match(backwards.stderr, /--until must be after --since/);
  const badBy = await runCli(["get", "costs", "--by", "team"], { transport });
  assert.equal(badBy.code, 2);
  const domainAlone = await runCli(["get", "costs", "-d", "development"], { transport });
  assert.equal(domainAlone.code, 2);
  assert.match(domainAlone.stderr, /--domain needs a project/);
  assert.equal(requests.length, 0);
});

test("dollars round half-up to the cent; --since takes durations and RFC 3339 times", () => {
  assert.equal(dollars(0n), "0.00");
  assert.equal(dollars(4_999n), "0.00");
  assert.equal(dollars(5_000n), "0.01");
  assert.equal(dollars(1_234_565_000n), "1234.57");
  const now = new Date("2026-03-08T12:00:00Z");
  assert.equal(parseWhen("since", "36h", now).toISOString(), "2026-03-07T00:00:00.000Z");
  assert.equal(parseWhen("since", "2026-03-01", now).toISOString(), "2026-03-01T00:00:00.000Z");
  assert.throws(() => parseWhen("until", "yesterday", now), /--until expects/);
});

test("get clusters NAME shows the cluster's price table", async () => {
  const { transport } = costAdmin();
  const east = await runCli(["get", "clusters", "east"], { transport });
  assert.equal(east.code, 0, east.stderr);
  assert.match(east.stdout, /Prices:\s+\$0\.0425 \/ core-hour, \$0\.0057 \/ GiB-hour, \$2\.48 \/ GPU-hour/);
  const free = await runCli(["get", "clusters", "free"], { transport });
  assert.match(free.stdout, /Prices:\s+none \(costs 0\)/);
});
