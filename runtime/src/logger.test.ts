import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { captureLogger, createLogger } from "./logger.js";

describe("logger", () => {
  it("writes one JSON object per line with level, ISO time, component, msg, bindings and fields", () => {
    const log = captureLogger("admin");
    log.child({ cluster: "east" }).child({ execution: "e1" }).warn("placement failed", { attempt: 2 });
    const [line] = log.lines;
    assert.ok(line);
    assert.equal(line.level, "warn");
    assert.equal(line.msg, "placement failed");
    assert.equal(line.component, "admin");
    assert.equal(line.cluster, "east");
    assert.equal(line.execution, "e1");
    assert.equal(line.attempt, 2);
    assert.ok(!Number.isNaN(Date.parse(String(line.time))));
  });

  it("renders errors in any field with name, message and stack", () => {
    const log = captureLogger();
    const err = Object.assign(new TypeError("boom"), { code: "E_BOOM" });
    log.error("failed", { cause: err });
    const cause = log.lines[0]?.cause as Record<string, unknown>;
    assert.equal(cause.name, "TypeError");
    assert.equal(cause.message, "boom");
    assert.equal(cause.code, "E_BOOM");
    assert.match(String(cause.stack), /TypeError: boom/);
  });

  it("drops lines below the level", () => {
    const lines: string[] = [];
    const log = createLogger({
      component: "x",
      level: "warn",
      destination: { write: (s: string) => lines.push(s) },
    });
    log.info("hidden");
    log.error("shown");
    assert.equal(lines.length, 1);
    assert.match(lines[0] ?? "", /"msg":"shown"/);
  });

  it("refuses an unknown FLOTILLA_LOG_LEVEL, naming the variable", () => {
    const before = process.env.FLOTILLA_LOG_LEVEL;
    process.env.FLOTILLA_LOG_LEVEL = "chatty";
    try {
      assert.throws(() => createLogger({ component: "x" }), /FLOTILLA_LOG_LEVEL=chatty/);
    } finally {
      if (before === undefined) delete process.env.FLOTILLA_LOG_LEVEL;
      else process.env.FLOTILLA_LOG_LEVEL = before;
    }
  });
});
