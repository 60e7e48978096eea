import assert from "node:assert/strict";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { describe, it } from "node:test";
import { z } from "zod";
import { defineConfig, durationMs, loadConfig, parseConfigDocument, port, secret } from "./config.js";
import { ConfigError, UsageError } from "./errors.js";

const def = defineConfig(
  "demo-svc",
  z.strictObject({
    server: z.strictObject({ host: z.string().default("0.0.0.0"), port: port().default(8088) }).prefault({}),
    database: z.strictObject({ url: secret(z.string()).optional() }).prefault({}),
    sweepInterval: durationMs("200ms"),
    pools: z.array(z.strictObject({ resource: z.string(), limit: z.number() })).default([]),
    verbose: z.boolean().default(false),
  }),
  {
    flags: {
      port: { path: "server.port", description: "port" },
      verbose: { path: "verbose", description: "v", boolean: true },
    },
    envAliases: { OLD_PORT: "server.port" },
  },
);

async function configFile(text: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "runtime-config-"));
  const file = join(dir, "svc.yaml");
  await writeFile(file, text);
  return file;
}

function rejectsWith(promise: Promise<unknown>, keyPath: string, source: RegExp, problem: RegExp) {
  return assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    assert.equal(err.keyPath, keyPath);
    assert.match(err.source, source);
    assert.match(err.problem, problem);
    return true;
  });
}

describe("loadConfig", () => {
  it("applies defaults, then file, then environment, then flags", async () => {
    const empty = await loadConfig(def, { argv: [], env: {} });
    assert.deepEqual(empty.config, {
      server: { host: "0.0.0.0", port: 8088 },
      database: {},
      sweepInterval: 200,
      pools: [],
      verbose: false,
    });
    const file = await configFile(
      "server:\n  port: 9000\n  host: 127.0.0.1\nsweepInterval: 1m\npools:\n  - {resource: warehouse, limit: 3}\n",
    );
    const fromFile = await loadConfig(def, { argv: ["--config", file], env: {} });
    assert.equal(fromFile.config.server.port, 9000);
    assert.equal(fromFile.config.sweepInterval, 60_000);
    assert.deepEqual(fromFile.config.pools, [{ resource: "warehouse", limit: 3 }]);
    const fromEnv = await loadConfig(def, {
      argv: ["-c", file],
      env: {
        FLOTILLA_DEMO_SVC_SERVER_PORT: "9100",
        FLOTILLA_DEMO_SVC_SWEEP_INTERVAL: "5s",
        FLOTILLA_DEMO_SVC_SERVER_HOST: "10",
      },
    });
    assert.equal(fromEnv.config.server.port, 9100);
    assert.equal(fromEnv.config.server.host, "10", "string keys keep their text");
    assert.equal(fromEnv.config.sweepInterval, 5000);
    const fromFlags = await loadConfig(def, {
      argv: ["-c", file, "--port", "9200", "--set", "database.url=postgres://u:pw@db/x", "--verbose"],
      env: { FLOTILLA_DEMO_SVC_SERVER_PORT: "9100" },
    });
    assert.equal(fromFlags.config.server.port, 9200);
    assert.equal(fromFlags.config.database.url, "postgres://u:pw@db/x");
    assert.equal(fromFlags.config.verbose, true);
    assert.equal((await loadConfig(def, { argv: [], env: { OLD_PORT: "7000" } })).config.server.port, 7000);
  });

  it("names the key path and the file line of a bad value", async () => {
    const file = await configFile('server:\n  host: x\n  port: "abc"\n');
    await rejectsWith(
      loadConfig(def, { argv: ["--config", file], env: {} }),
      "server.port",
      /svc\.yaml line 3$/,
      /expected number/,
    );
  });

  it("names an unknown key and its line", async () => {
    const file = await configFile("server:\n  port: 1\n  prot: 2\n");
    await rejectsWith(
      loadConfig(def, { argv: ["--config", file], env: {} }),
      "server.prot",
      /svc\.yaml line 3$/,
      /unknown key/,
    );
  });

  it("names the variable or flag a bad value came from", async () => {
    await rejectsWith(
      loadConfig(def, { argv: [], env: { FLOTILLA_DEMO_SVC_SERVER_PORT: "70000" } }),
      "server.port",
      /^env FLOTILLA_DEMO_SVC_SERVER_PORT$/,
      /65535/,
    );
    await rejectsWith(
      loadConfig(def, { argv: ["--set", "sweepInterval=soon"], env: {} }),
      "sweepInterval",
      /^flag --set sweepInterval$/,
      /"30s"/,
    );
    await rejectsWith(
      loadConfig(def, { argv: ["--set", "nope=1"], env: {} }),
      "nope",
      /^flag --set nope$/,
      /unknown key/,
    );
  });

  it("rejects unknown flags and unreadable or malformed files", async () => {
    await assert.rejects(loadConfig(def, { argv: ["--prot", "1"], env: {} }), UsageError);
    await rejectsWith(
      loadConfig(def, { argv: ["-c", "/nonexistent/svc.yaml"], env: {} }),
      "",
      /nonexistent/,
      /cannot read/,
    );
    await rejectsWith(
      loadConfig(def, { argv: ["-c", await configFile("server: [\n")], env: {} }),
      "",
      /svc\.yaml/,
      /not valid YAML/,
    );
  });

  it("prints the effective config with secrets redacted and durations in their syntax", async () => {
    const out = new PassThrough();
    const chunks: string[] = [];
    out.on("data", (c: Buffer) => chunks.push(c.toString()));
    const loaded = await loadConfig(def, {
      argv: [
        "--print-config",
        "--set",
        "database.url=postgres://u:hunter2@db/x",
        "--set",
        "sweepInterval=90s",
      ],
      env: {},
      stdout: out,
    });
    assert.equal(loaded.done, true);
    const text = chunks.join("");
    assert.doesNotMatch(text, /hunter2/);
    assert.match(text, /url: <redacted>/);
    assert.match(text, /sweepInterval: 1m30s/);
    assert.match(text, /port: 8088/);
  });

  it("lists every key with its environment variable in --help", async () => {
    const out = new PassThrough();
    const chunks: string[] = [];
    out.on("data", (c: Buffer) => chunks.push(c.toString()));
    assert.equal((await loadConfig(def, { argv: ["--help"], env: {}, stdout: out })).done, true);
    assert.match(chunks.join(""), /server\.port\s+FLOTILLA_DEMO_SVC_SERVER_PORT/);
  });

  it("validates an in-memory document with the same defaults and errors", () => {
    assert.equal(parseConfigDocument(def, { server: { port: 9 } }).server.port, 9);
    assert.equal(parseConfigDocument(def, undefined).sweepInterval, 200);
    assert.throws(
      () => parseConfigDocument(def, { server: { prot: 1 } }, "test fixture"),
      (err: unknown) =>
        err instanceof ConfigError && err.keyPath === "server.prot" && err.source === "test fixture",
    );
  });
});
