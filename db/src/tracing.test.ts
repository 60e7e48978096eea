import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { trace } from "@opentelemetry/api";
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import type { Database } from "./database.js";
import { freshDatabase } from "./test-backends.js";
import { operationName } from "./tracing.js";

describe("database spans", () => {
  const exporter = new InMemorySpanExporter();
  const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  let db: Database;
  let cleanup: () => Promise<void>;
  before(async () => {
    provider.register();
    ({ db, cleanup } = await freshDatabase("pglite"));
  });
  after(async () => {
    await cleanup();
    await provider.shutdown();
    trace.disable();
  });

  it("names a statement by its first keyword", () => {
    assert.equal(operationName("  select 1"), "SELECT");
    assert.equal(operationName("WITH x AS (SELECT 1) SELECT * FROM x"), "WITH");
    assert.equal(operationName("-- comment"), "QUERY");
  });

  it("opens no span outside a recording span (background work, tracing off)", async () => {
    exporter.reset();
    await db.query("SELECT 1");
    await db.transaction((tx) => tx.query("SELECT 2"));
    assert.deepEqual(exporter.getFinishedSpans(), []);
  });

  it("under a recording span: a CLIENT span per statement, the transaction's statements inside its span", async () => {
    exporter.reset();
    await trace.getTracer("test").startActiveSpan("rpc", async (rpc) => {
      await db.query("SELECT 1");
      await db.transaction(async (tx) => {
        await tx.query("CREATE TABLE t (x int)");
        await tx.query("INSERT INTO t VALUES ($1)", [1]);
      });
      await assert.rejects(db.query("SELECT * FROM missing"));
      rpc.end();
    });
    const spans = exporter.getFinishedSpans();
    const byName = (name: string) => spans.filter((s) => s.name === name);
    const [rpc] = byName("rpc");
    const [transaction] = byName("transaction");
    assert.ok(rpc && transaction);
    assert.equal(transaction.parentSpanContext?.spanId, rpc.spanContext().spanId);
    const selects = byName("SELECT");
    assert.equal(selects.length, 2);
    assert.ok(selects.every((s) => s.parentSpanContext?.spanId === rpc.spanContext().spanId));
    assert.equal(selects[0]?.attributes["db.query.text"], "SELECT 1");
    assert.equal(selects[0]?.attributes["db.system.name"], "postgresql");
    assert.equal(selects[1]?.status.code, 2, "a failed statement is an error span");
    for (const name of ["CREATE", "INSERT"])
      assert.equal(byName(name)[0]?.parentSpanContext?.spanId, transaction.spanContext().spanId, name);
  });
});
