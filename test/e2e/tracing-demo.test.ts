// Tracing as an operator turns it on: `flotctl demo start` and `flotctl create execution` run with
// OTEL_EXPORTER_OTLP_ENDPOINT pointing at a plain OTLP/HTTP receiver on 127.0.0.1 (default
// protocol http/protobuf), and the spans of one demo execution arrive there from every service —
// flotctl, the admin, the resource manager and the propeller — each with its own service.name,
// all in the trace flotctl started.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { eventually, spawnBin, startOtlpReceiver, tempDir, type OtlpReceiver } from "@flotilla/testing";

const dir = tempDir({ prefix: "flotilla-tracing-demo-" });
const demoDir = join(dir.path, "demo");
let receiver: OtlpReceiver;
let adminUrl = "";

/** The environment of every process here: the demo's, plus tracing to the receiver (batches every 200 ms). */
function env(): Record<string, string> {
  return {
    HOME: dir.path,
    FLOTILLA_DEMO_DIR: demoDir,
    FLOTILLA_ADMIN: adminUrl,
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_BSP_SCHEDULE_DELAY: "200",
  };
}

async function flotctl(...args: string[]) {
  const child = await spawnBin("flotctl", args, { env: env() });
  const status = await child.exited;
  return { code: status.code, stdout: child.stdout.join("\n"), stderr: child.stderr.join("\n") };
}

before(async () => {
  receiver = await startOtlpReceiver();
  const start = await spawnBin(
    "flotctl",
    ["demo", "start", "--detach", "--admin-port", "0", "--rm-port", "0", "--timeout", "120s", "-o", "json"],
    { env: env() },
  );
  const status = await start.exited;
  assert.equal(status.code, 0, start.output());
  adminUrl = (JSON.parse(start.stdout.join("\n")) as { adminUrl: string }).adminUrl;
});

after(async () => {
  if (adminUrl !== "") {
    const stop = await flotctl("demo", "stop");
    assert.equal(stop.code, 0, stop.stderr);
  }
  await receiver?.close();
  await dir.cleanup();
});

test("a demo execution's spans arrive from flotctl, admin, resource manager and propeller with their service.name, in one trace", async () => {
  const inDev = ["-p", "ml", "-d", "development"];
  const created = await flotctl(
    "create",
    "execution",
    ...inDev,
    "--launch-plan",
    "warehouse-report-lp",
    "--inputs",
    "day=2026-12-07",
    "--name",
    "traced-demo",
  );
  assert.equal(created.code, 0, created.stderr);
  const watch = await flotctl("watch", "execution", "traced-demo", ...inDev, "--timeout", "90s");
  assert.equal(watch.code, 0, watch.stdout + watch.stderr);

  const root = receiver.spans.find(
    (s) => s.serviceName === "flotctl" && s.name === "flotilla.admin.v1.AdminService/CreateExecution",
  );
  assert.ok(root, "flotctl exported its CreateExecution span before exiting");
  assert.equal(root.parentSpanId, "", "flotctl starts the trace");
  assert.deepEqual([...new Set(receiver.contentTypes)], ["application/x-protobuf"]);

  // What each service must have sent in that trace: its own spans, under its own service.name.
  // (The round's five token requests go out as one AllocateBatch, or as Allocate when alone.)
  const expected: [service: string, name: RegExp][] = [
    ["flotilla-admin", /^flotilla\.admin\.v1\.AdminService\/CreateExecution$/],
    ["flotilla-admin", /^routing decision$/],
    ["flotilla-admin", /^create WorkflowExecution$/],
    ["flotilla-admin", /^ingest events$/],
    ["flotilla-propeller", /^round$/],
    ["flotilla-propeller", /^create Pod$/],
    ["flotilla-propeller", /^flotilla\.resourcemanager\.v1\.ResourceManagerService\/Allocate(Batch)?$/],
    [
      "flotilla-resource-manager",
      /^flotilla\.resourcemanager\.v1\.ResourceManagerService\/Allocate(Batch)?$/,
    ],
  ];
  await eventually(
    () => {
      const inTrace = receiver.spans.filter((s) => s.traceId === root.traceId);
      const missing = expected
        .filter(([svc, name]) => !inTrace.some((s) => s.serviceName === svc && name.test(s.name)))
        .map(([svc, name]) => `${svc} ${name.source}`);
      const seen = [...new Set(inTrace.map((s) => `${s.serviceName} ${s.name}`))].sort();
      assert.deepEqual(missing, [], `spans of the trace: ${seen.join(", ")}`);
    },
    { timeout: 30_000, interval: 250 },
  );
  // Nothing arrived under a default or borrowed name.
  const services = new Set(
    receiver.spans.filter((s) => s.traceId === root.traceId).map((s) => s.serviceName),
  );
  assert.deepEqual([...services].sort(), [
    "flotctl",
    "flotilla-admin",
    "flotilla-propeller",
    "flotilla-resource-manager",
  ]);
});
