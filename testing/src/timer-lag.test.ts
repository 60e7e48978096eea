import assert from "node:assert/strict";
import { it } from "node:test";
import { probeTimerLag } from "./timer-lag.js";

it("reports the event loop's lateness when the loop is blocked", async () => {
  const probe = probeTimerLag(10);
  await new Promise((r) => setTimeout(r, 30));
  const busyUntil = Date.now() + 200;
  while (Date.now() < busyUntil); // block the loop: the next tick comes ~200 ms late
  await new Promise((r) => setTimeout(r, 30));
  const lag = probe.stop();
  assert.ok(lag >= 150, `lag ${lag} ms`);
});
