import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { TaskExecution_Phase } from "@flotilla/proto";
import fc from "fast-check";
import {
  attemptCost,
  formatDollars,
  priceAt,
  toResourceAmounts,
  type AttemptCostInput,
  type PriceVersion,
} from "./attempt-cost.js";

const GiB = 2 ** 30;
const at = (hhmmss: string) => new Date(`2026-03-02T${hhmmss}.000Z`);

// Cluster a: $0.04 / core-hour, $0.005 / GiB-hour, $2.50 / GPU-hour until 12:00, then
// $0.06, $0.008 and $3.00. Cluster b: $0.10 / core-hour, $0.01 / GiB-hour, no GPUs.
const clusterA: PriceVersion[] = [
  {
    effectiveFrom: at("12:00:00"),
    cpuCoreHourMicros: 60_000,
    memoryGibHourMicros: 8_000,
    gpuHourMicros: 3_000_000,
  },
  {
    effectiveFrom: at("00:00:00"),
    cpuCoreHourMicros: 40_000,
    memoryGibHourMicros: 5_000,
    gpuHourMicros: 2_500_000,
  },
];
const clusterB: PriceVersion[] = [
  {
    effectiveFrom: at("00:00:00"),
    cpuCoreHourMicros: 100_000,
    memoryGibHourMicros: 10_000,
    gpuHourMicros: 0,
  },
];

function attempt(partial: Partial<AttemptCostInput> & Pick<AttemptCostInput, "prices">): AttemptCostInput {
  return {
    phase: TaskExecution_Phase.SUCCEEDED,
    startedAt: at("10:00:00"),
    endedAt: at("10:30:00"),
    requested: { cpuMillicores: 1000, memoryBytes: GiB, gpus: 0 },
    ...partial,
  };
}

describe("attempt cost (exact micro-dollar arithmetic)", () => {
  it("prices a window over two clusters with a price change and a retried attempt", () => {
    const attempts = {
      // a, before the change: 2 cores × 0.5 h × 40,000 + 4 GiB × 0.5 h × 5,000 = 40,000 + 10,000.
      trainOnA: attempt({
        prices: clusterA,
        requested: { cpuMillicores: 2000, memoryBytes: 4 * GiB, gpus: 0 },
      }),
      // a, attempt 0 started 11:50 and failed (retried) at 12:10: the version in effect at the
      // start applies to the whole 20 minutes: 1/3 h × (40,000 + 5,000) = 15,000, all waste.
      retriedOnA: attempt({
        prices: clusterA,
        phase: TaskExecution_Phase.RETRYABLE_FAILED,
        startedAt: at("11:50:00"),
        endedAt: at("12:10:00"),
      }),
      // a, attempt 1 at the new price with a GPU, 30 minutes: 0.5 h × (60,000 + 8,000 + 3,000,000)
      // = 1,534,000; usage 0.25 cores, 0.5 GiB, 1 GPU: waste 0.5 h × (0.75 × 60,000 + 0.5 × 8,000)
      // = 22,500 + 2,000.
      retryOnA: attempt({
        prices: clusterA,
        startedAt: at("12:15:00"),
        endedAt: at("12:45:00"),
        requested: { cpuMillicores: 1000, memoryBytes: GiB, gpus: 1 },
        used: { cpuMillicores: 250, memoryBytes: GiB / 2, gpus: 1 },
      }),
      // b, failed after 1.234 s: (500 × 100,000 × 2^30 + 3 × 2^30 × 10,000 × 1000) × 1234 /
      // (1000 × 2^30 × 3,600,000) = 27.41666… micro-dollars, rounded to 27, all waste.
      failedOnB: attempt({
        prices: clusterB,
        phase: TaskExecution_Phase.FAILED,
        startedAt: at("09:00:00"),
        endedAt: new Date(at("09:00:00").getTime() + 1234),
        requested: { cpuMillicores: 500, memoryBytes: 3 * GiB, gpus: 0 },
      }),
      // b, failed before it ever ran: no wall time, no cost.
      neverRanOnB: attempt({
        prices: clusterB,
        phase: TaskExecution_Phase.FAILED,
        startedAt: undefined,
      }),
    };
    const costs = Object.fromEntries(Object.entries(attempts).map(([k, a]) => [k, attemptCost(a)])) as Record<
      keyof typeof attempts,
      ReturnType<typeof attemptCost>
    >;

    assert.deepEqual(
      Object.fromEntries(Object.entries(costs).map(([k, c]) => [k, [c.costMicros, c.wasteMicros]])),
      {
        trainOnA: [50_000, 0],
        retriedOnA: [15_000, 15_000],
        retryOnA: [1_534_000, 24_500],
        failedOnB: [27, 27],
        neverRanOnB: [0, 0],
      },
    );
    assert.equal(costs.retriedOnA.price, clusterA[1], "the version in effect at the start");
    assert.equal(costs.retryOnA.price, clusterA[0]);

    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    const onA = [costs.trainOnA, costs.retriedOnA, costs.retryOnA];
    const onB = [costs.failedOnB, costs.neverRanOnB];
    assert.equal(sum(onA.map((c) => c.costMicros)), 1_599_000);
    assert.equal(sum(onA.map((c) => c.wasteMicros)), 39_500);
    assert.equal(sum(onB.map((c) => c.costMicros)), 27);
    const total = sum([...onA, ...onB].map((c) => c.costMicros));
    assert.equal(total, 1_599_027);
    assert.equal(formatDollars(total), "1.60");
    assert.equal(formatDollars(39_527), "0.04");
  });

  it("rounds each attempt once, half-up to the micro-dollar", () => {
    const onePerHour: PriceVersion[] = [
      { effectiveFrom: at("00:00:00"), cpuCoreHourMicros: 1, memoryGibHourMicros: 0, gpuHourMicros: 0 },
    ];
    const halfHour = (cpuMillicores: number) =>
      attemptCost(
        attempt({
          prices: onePerHour,
          startedAt: at("10:00:00"),
          endedAt: at("10:30:00"),
          requested: { cpuMillicores, memoryBytes: 0, gpus: 0 },
        }),
      ).costMicros;
    assert.equal(halfHour(1000), 1, "0.5 rounds up");
    assert.equal(halfHour(999), 0, "0.4995 rounds down");
    assert.equal(halfHour(3000), 2, "1.5 rounds up");
  });

  it("applies the version whose effectiveFrom is at or before the start", () => {
    assert.equal(priceAt(clusterA, at("11:59:59")), clusterA[1]);
    assert.equal(priceAt(clusterA, at("12:00:00")), clusterA[0]);
    assert.equal(priceAt(clusterB, new Date("2026-03-01T23:59:59Z")), undefined);
    const before = attemptCost(attempt({ prices: clusterB, startedAt: new Date("2026-03-01T23:00:00Z") }));
    assert.deepEqual([before.costMicros, before.wasteMicros, before.price], [0, 0, undefined]);
  });

  it("counts an aborted attempt as waste, and usage above the request as no waste", () => {
    const aborted = attemptCost(attempt({ prices: clusterB, phase: TaskExecution_Phase.ABORTED }));
    assert.deepEqual([aborted.costMicros, aborted.wasteMicros], [55_000, 55_000]);
    const busy = attemptCost(
      attempt({ prices: clusterB, used: { cpuMillicores: 1500, memoryBytes: 2 * GiB, gpus: 0 } }),
    );
    assert.deepEqual([busy.costMicros, busy.wasteMicros], [55_000, 0]);
  });

  it("converts reported amounts to integer units", () => {
    assert.deepEqual(toResourceAmounts({ cpuCores: 0.2506, memoryBytes: 1.5, gpus: 0.1 }), {
      cpuMillicores: 251,
      memoryBytes: 2,
      gpus: 1,
    });
    assert.deepEqual(toResourceAmounts({ cpuCores: -1, memoryBytes: Number.NaN, gpus: 0 }), {
      cpuMillicores: 0,
      memoryBytes: 0,
      gpus: 0,
    });
  });

  it("renders dollars with cents, half-up", () => {
    assert.equal(formatDollars(0), "0.00");
    assert.equal(formatDollars(4_999), "0.00");
    assert.equal(formatDollars(5_000), "0.01");
    assert.equal(formatDollars(123_455_000), "123.46");
  });

  it("property: 0 <= waste <= cost, waste is all of an unproductive attempt, and splitting the request moves the cost by at most a micro-dollar", () => {
    const amounts = fc.record({
      cpuMillicores: fc.integer({ min: 0, max: 256_000 }),
      memoryBytes: fc.integer({ min: 0, max: 2 ** 40 }),
      gpus: fc.integer({ min: 0, max: 16 }),
    });
    const price = fc.record({
      effectiveFrom: fc.constant(at("00:00:00")),
      cpuCoreHourMicros: fc.integer({ min: 0, max: 10_000_000 }),
      memoryGibHourMicros: fc.integer({ min: 0, max: 1_000_000 }),
      gpuHourMicros: fc.integer({ min: 0, max: 100_000_000 }),
    });
    fc.assert(
      fc.property(
        amounts,
        amounts,
        price,
        fc.integer({ min: 0, max: 30 * 86_400_000 }),
        fc.constantFrom(
          TaskExecution_Phase.SUCCEEDED,
          TaskExecution_Phase.FAILED,
          TaskExecution_Phase.RETRYABLE_FAILED,
          TaskExecution_Phase.ABORTED,
        ),
        (requested, used, p, wallMs, phase) => {
          const startedAt = at("01:00:00");
          const endedAt = new Date(startedAt.getTime() + wallMs);
          const c = attemptCost({ phase, startedAt, endedAt, requested, used, prices: [p] });
          assert.ok(c.wasteMicros >= 0 && c.wasteMicros <= c.costMicros);
          assert.ok(Number.isSafeInteger(c.costMicros));
          if (phase !== TaskExecution_Phase.SUCCEEDED) assert.equal(c.wasteMicros, c.costMicros);
          const part = (r: typeof requested) =>
            attemptCost({ phase, startedAt, endedAt, requested: r, prices: [p] }).costMicros;
          const zero = { cpuMillicores: 0, memoryBytes: 0, gpus: 0 };
          const split =
            part({ ...zero, cpuMillicores: requested.cpuMillicores }) +
            part({ ...zero, memoryBytes: requested.memoryBytes }) +
            part({ ...zero, gpus: requested.gpus });
          assert.ok(Math.abs(split - c.costMicros) <= 1, `${split} vs ${c.costMicros}`);
        },
      ),
    );
  });
});
