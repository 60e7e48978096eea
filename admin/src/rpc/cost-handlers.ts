/** AdminService cost RPC (GetCosts): request checks and proto mapping around the cost manager. */
import { create } from "@bufbuild/protobuf";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import {
  CostGroupSchema,
  CostGrouping,
  GetCostsResponseSchema,
  type AdminService,
  type GetCostsRequest,
} from "@flotilla/proto";
import { InvalidArgumentError } from "../errors.js";
import type { CostManager } from "../manager/cost-manager.js";
import { CostGroupBy } from "../repository/cost-repository.js";

/** The cost RPCs of AdminService. */
export type CostHandlers = Pick<ServiceImpl<typeof AdminService>, "getCosts">;

const GROUPING: Partial<Record<CostGrouping, CostGroupBy>> = {
  [CostGrouping.UNSPECIFIED]: CostGroupBy.project,
  [CostGrouping.PROJECT]: CostGroupBy.project,
  [CostGrouping.DOMAIN]: CostGroupBy.domain,
  [CostGrouping.WORKFLOW]: CostGroupBy.workflow,
  [CostGrouping.CLUSTER]: CostGroupBy.cluster,
  [CostGrouping.DAY]: CostGroupBy.day,
  [CostGrouping.EXECUTION]: CostGroupBy.execution,
};

/** Creates the GetCosts handler over `costs`. */
export function createCostHandlers(costs: CostManager): CostHandlers {
  return {
    async getCosts(req: GetCostsRequest) {
      const groupBy = GROUPING[req.groupBy];
      if (!groupBy) throw new InvalidArgumentError("group_by", `unknown grouping ${req.groupBy}`);
      if (!req.since) throw new InvalidArgumentError("since", "is required");
      const report = await costs.report({
        project: req.project || undefined,
        domain: req.domain || undefined,
        groupBy,
        since: timestampDate(req.since),
        until: req.until ? timestampDate(req.until) : undefined,
      });
      return create(GetCostsResponseSchema, {
        groups: report.groups.map((g) =>
          create(CostGroupSchema, {
            project: g.project,
            domain: g.domain,
            workflow: g.workflow,
            cluster: g.cluster,
            day: g.day,
            execution: g.execution,
            costMicros: BigInt(g.costMicros),
            wasteMicros: BigInt(g.wasteMicros),
            attempts: BigInt(g.attempts),
          }),
        ),
        totalCostMicros: BigInt(report.totalCostMicros),
        totalWasteMicros: BigInt(report.totalWasteMicros),
        since: timestampFromDate(report.since),
        until: timestampFromDate(report.until),
      });
    },
  };
}
