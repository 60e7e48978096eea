import { Flags } from "@oclif/core";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { CostGrouping, type CostGroup, type GetCostsResponse } from "@flotilla/proto";
import { DURATION_SYNTAX, tryParseDuration } from "@flotilla/common";
import { FlotctlCommand } from "../../base-command.js";
import { UsageError } from "../../errors.js";
import { formatDollars } from "../../output/format.js";
import type { Column } from "../../output/table.js";

const GROUPINGS = ["project", "domain", "workflow", "cluster", "day", "execution"] as const;
type Grouping = (typeof GROUPINGS)[number];

const GROUPING_ENUM: Record<Grouping, CostGrouping> = {
  project: CostGrouping.PROJECT,
  domain: CostGrouping.DOMAIN,
  workflow: CostGrouping.WORKFLOW,
  cluster: CostGrouping.CLUSTER,
  day: CostGrouping.DAY,
  execution: CostGrouping.EXECUTION,
};

/** The key fields of a cost group. */
type KeyField = "project" | "domain" | "workflow" | "cluster" | "day" | "execution";

/** Key columns of each grouping. */
const KEY_COLUMNS: Record<Grouping, KeyField[]> = {
  project: ["project"],
  domain: ["project", "domain"],
  workflow: ["project", "domain", "workflow"],
  cluster: ["cluster"],
  day: ["day"],
  execution: ["project", "domain", "execution"],
};

/** Dollars with cents from micro-dollars (see {@link formatDollars}). */
export const dollars = formatDollars;

/**
 * A point in time from `--since` / `--until`: a duration back from `now` ("7d", "12h") or an
 * RFC 3339 time. Throws {@link UsageError} naming the flag.
 */
export function parseWhen(flag: string, text: string, now: Date): Date {
  const ms = tryParseDuration(text);
  if (ms !== undefined) return new Date(now.getTime() - ms);
  if (/^\d{4}-\d{2}-\d{2}(T|$)/.test(text)) {
    const d = new Date(text);
    if (!Number.isNaN(d.getTime())) return d;
  }
  throw new UsageError(
    `--${flag} expects ${DURATION_SYNTAX} (that long ago) or an RFC 3339 time such as 2026-03-01T00:00:00Z, got "${text}"`,
  );
}

/** The JSON form of a report: amounts as exact micro-dollars and as dollars with cents. */
function reportJson(by: Grouping, res: GetCostsResponse) {
  const amounts = (cost: bigint, waste: bigint) => ({
    cost: dollars(cost),
    waste: dollars(waste),
    costMicros: Number(cost),
    wasteMicros: Number(waste),
  });
  return {
    currency: "USD",
    groupBy: by,
    since: res.since ? timestampDate(res.since).toISOString() : "",
    until: res.until ? timestampDate(res.until).toISOString() : "",
    groups: res.groups.map((g) => ({
      ...Object.fromEntries(KEY_COLUMNS[by].map((k) => [k, g[k]])),
      attempts: Number(g.attempts),
      ...amounts(g.costMicros, g.wasteMicros),
    })),
    total: amounts(res.totalCostMicros, res.totalWasteMicros),
  };
}

/** `flotctl get costs [-p PROJECT [-d DOMAIN]] [--by GROUPING] [--since WHEN] [--until WHEN]`. */
export default class GetCosts extends FlotctlCommand<typeof GetCosts> {
  static override flags = {
    by: Flags.string({ summary: "Group by this dimension.", options: [...GROUPINGS], default: "project" }),
    since: Flags.string({
      summary: "Window start: a duration back from now (7d, 12h) or an RFC 3339 time.",
      default: "7d",
    }),
    until: Flags.string({ summary: "Window end (exclusive), same forms as --since (default: now)." }),
  };

  async run(): Promise<void> {
    const client = await this.client();
    const now = new Date();
    const by = this.flags.by as Grouping;
    const since = parseWhen("since", this.flags.since, now);
    const until = this.flags.until !== undefined ? parseWhen("until", this.flags.until, now) : undefined;
    if (until && until.getTime() <= since.getTime()) throw new UsageError("--until must be after --since");
    // The project narrows when given (flag, env or config file); the domain only when passed.
    const project = (await this.setting("project")) ?? "";
    const domain = this.flags.domain ?? "";
    if (domain && !project) throw new UsageError("--domain needs a project (-p)");
    const res = await client.getCosts({
      project,
      domain,
      groupBy: GROUPING_ENUM[by],
      since: timestampFromDate(since),
      ...(until ? { until: timestampFromDate(until) } : {}),
    });
    await this.print({
      data: reportJson(by, res),
      table: () => {
        const columns: Column<CostGroup>[] = [
          ...KEY_COLUMNS[by].map((k) => ({ header: k.toUpperCase(), get: (g: CostGroup) => g[k] })),
          { header: "ATTEMPTS", get: (g) => String(g.attempts) },
          { header: "COST ($)", get: (g) => dollars(g.costMicros) },
          { header: "WASTE ($)", get: (g) => dollars(g.wasteMicros) },
          {
            header: "WASTE %",
            get: (g) => (g.costMicros > 0n ? `${Number((g.wasteMicros * 1000n) / g.costMicros) / 10}` : "-"),
          },
        ];
        const window = `${timestampDate(res.since!).toISOString()} .. ${timestampDate(res.until!).toISOString()}`;
        return (
          `${this.table(columns, res.groups)}\n` +
          `TOTAL $${dollars(res.totalCostMicros)} (waste $${dollars(res.totalWasteMicros)}) for ${window}`
        );
      },
    });
  }
}
