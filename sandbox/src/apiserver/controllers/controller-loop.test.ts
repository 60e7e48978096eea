import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setImmediate as nextTurn } from "node:timers/promises";
import { captureLogger } from "@flotilla/runtime";
import { ApiError } from "../errors.js";
import { ControllerLoop, type QueuedController } from "./controller-loop.js";

/** A controller with `items` queued that records each drain in `order`. */
function aController(name: string, items: number, order: string[]): QueuedController {
  let left = items;
  return {
    pending: () => left > 0,
    drain: () => {
      order.push(name);
      left = Math.max(0, left - 1);
    },
  };
}

describe("ControllerLoop", () => {
  it("runs one pass per turn: cleanup, then converge rounds until no work is left, then status", async () => {
    const order: string[] = [];
    const loop = new ControllerLoop(captureLogger());
    loop.setPhases({
      cleanup: [aController("crd", 1, order)],
      converge: [aController("gc", 2, order), aController("namespace", 1, order)],
      status: [aController("quota", 1, order)],
    });
    loop.schedule();
    loop.schedule();
    assert.deepEqual(order, [], "nothing runs inside the write that asked");
    await nextTurn();
    assert.deepEqual(order, ["crd", "gc", "namespace", "gc", "namespace", "quota"]);
  });

  it("ends 404 and 409 races quietly and logs any other failure with the controller's name", () => {
    const logger = captureLogger();
    const loop = new ControllerLoop(logger);
    loop.step("garbage-collector", () => {
      throw new ApiError(404, "NotFound", "gone meanwhile");
    });
    loop.step("namespace", () => {
      throw new ApiError(409, "Conflict", "changed meanwhile");
    });
    loop.step("resource-quota", () => {
      throw new Error("quota arithmetic broke");
    });
    assert.deepEqual(
      logger.lines.map((l) => [l.level, l.msg, l.controller]),
      [["error", "sandbox apiserver controller step failed", "resource-quota"]],
    );
    assert.equal((logger.lines[0].error as { message: string }).message, "quota arithmetic broke");
  });

  it("schedules nothing once stopped", async () => {
    const order: string[] = [];
    const loop = new ControllerLoop(captureLogger());
    loop.setPhases({ cleanup: [], converge: [], status: [aController("quota", 1, order)] });
    loop.stop();
    loop.schedule();
    await nextTurn();
    assert.deepEqual(order, []);
  });
});
