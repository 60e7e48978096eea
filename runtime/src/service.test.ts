import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { eventually, spawnBin, startOtlpReceiver, tempDir } from "@flotilla/testing";

// The example service is a real process built only from the runtime: config loader, server,
// main wrapper. These tests hold for every service bin that uses them.
const exampleBin = fileURLToPath(new URL("./fixtures/example-service.js", import.meta.url));

describe("a service built on the runtime", () => {
  it("exits 2 naming the key path and the file line of a bad value", async (t) => {
    const dir = tempDir({ t }).path;
    const file = join(dir, "example.yaml");
    await writeFile(file, 'server:\n  port: "abc"\n');
    const bin = await spawnBin(exampleBin, ["--config", file], { t });
    const status = await bin.exited;
    assert.equal(status.code, 2, bin.output());
    assert.match(bin.output(), /server\.port: .*expected number.*\(from file .*example\.yaml line 2\)/);
  });

  it("exits 2 on an unknown key, an unknown flag and a bad variable", async (t) => {
    const dir = tempDir({ t }).path;
    const file = join(dir, "example.yaml");
    await writeFile(file, "server:\n  port: 0\nsevrer: {}\n");
    const unknownKey = await spawnBin(exampleBin, ["-c", file], { t });
    assert.equal((await unknownKey.exited).code, 2);
    assert.match(unknownKey.output(), /sevrer: unknown key \(from file .*line 3\)/);
    const unknownFlag = await spawnBin(exampleBin, ["--prot", "1"], { t });
    assert.equal((await unknownFlag.exited).code, 2);
    assert.match(unknownFlag.output(), /--prot/);
    const badEnv = await spawnBin(exampleBin, [], { t, env: { FLOTILLA_EXAMPLE_READY_AFTER: "soon" } });
    assert.equal((await badEnv.exited).code, 2);
    assert.match(badEnv.output(), /readyAfter: .*\(from env FLOTILLA_EXAMPLE_READY_AFTER\)/);
  });

  it("answers /readyz 503 with the reason until ready, then 200; /healthz all along; stops on SIGTERM with 0", async (t) => {
    const bin = await spawnBin(exampleBin, ["--set", "readyAfter=1500ms"], {
      t,
      readyLine: /listening on (\S+)/,
    });
    const [, url] = await bin.waitForLine(/listening on (\S+)/);
    const early = await fetch(`${url}/readyz`);
    assert.equal(early.status, 503);
    assert.equal((await early.text()).trim(), "warming up");
    assert.equal((await fetch(`${url}/healthz`)).status, 200);
    await eventually(async () => assert.equal((await fetch(`${url}/readyz`)).status, 200), {
      timeout: 10_000,
    });
    assert.equal((await fetch(`${url}/metrics`)).status, 200);
    assert.equal((await fetch(`${url}/nope`)).status, 404);
    const status = await bin.stop({ signal: "SIGTERM" });
    assert.equal(status.code, 0, bin.output());
    assert.match(bin.output(), /"msg":"shutting down"/);
  });

  it("starts tracing only when OTEL_* says so, as flotilla-<name>; an unsupported protocol exits 2 naming it", async (t) => {
    const receiver = await startOtlpReceiver();
    t.after(() => receiver.close());
    const traced = await spawnBin(exampleBin, [], {
      t,
      readyLine: /listening on /,
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url },
    });
    assert.match(traced.output(), /"msg":"tracing on"/);
    assert.match(traced.output(), /"serviceName":"flotilla-example"/);
    assert.equal((await traced.stop({ signal: "SIGTERM" })).code, 0, traced.output());
    const plain = await spawnBin(exampleBin, [], {
      t,
      readyLine: /listening on /,
      env: { OTEL_SDK_DISABLED: "true", OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url },
    });
    assert.doesNotMatch(plain.output(), /tracing on/);
    assert.equal((await plain.stop({ signal: "SIGTERM" })).code, 0, plain.output());
    const grpc = await spawnBin(exampleBin, [], {
      t,
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" },
    });
    assert.equal((await grpc.exited).code, 2, grpc.output());
    assert.match(
      grpc.output(),
      /example: OTEL_EXPORTER_OTLP_PROTOCOL=grpc: expected http\/protobuf or http\/json/,
    );
  });

  it("prints the effective config with secrets redacted and exits 0", async (t) => {
    const bin = await spawnBin(
      exampleBin,
      ["--print-config", "--set", "database.url=postgres://flotilla:s3cret@db:5432/x"],
      {
        t,
      },
    );
    assert.equal((await bin.exited).code, 0);
    assert.doesNotMatch(bin.output(), /s3cret/);
    assert.match(bin.output(), /url: <redacted>/);
    assert.match(bin.output(), /shutdownGrace: 2s/);
  });

  it("stops cleanly when the signal comes during startup", async (t) => {
    const bin = await spawnBin(exampleBin, ["--set", "startDelay=1500ms"], { t });
    await bin.waitForLine(/"msg":"starting"/);
    process.kill(bin.pid, "SIGTERM");
    const status = await bin.exited;
    assert.equal(status.code, 0, bin.output());
    assert.match(bin.output(), /listening on/);
    assert.match(bin.output(), /"msg":"shutting down"/);
  });
});
