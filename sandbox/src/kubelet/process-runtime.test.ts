import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { execFile } from "node:child_process";
import { describe, it } from "node:test";
import { promisify } from "node:util";
import type { V1Container, V1Pod } from "@kubernetes/client-node";
import { eventually, tempDir } from "@flotilla/testing";
import { createProcessRuntime } from "./process-runtime.js";
import { ContainerStartError, expandReferences, resolveEnv, ContainerConfigError } from "./runtime.js";

const execFileAsync = promisify(execFile);

function podWith(container: V1Container): V1Pod {
  return { metadata: { name: "job", namespace: "ns", uid: "u1" }, spec: { containers: [container] } };
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("process runtime", () => {
  const runtime = createProcessRuntime({ memoryPollMs: 50 });

  async function run(container: V1Container, env: Record<string, string> = {}) {
    const dir = tempDir({ prefix: "kubelet-proc-" });
    let output = "";
    const handle = await runtime.start({
      pod: podWith(container),
      container,
      workDir: dir.path,
      env,
      onOutput: (t) => (output += t),
    });
    return { handle, dir, output: () => output };
  }

  it("runs command + args in the pod directory and captures stdout and stderr", async (t) => {
    const { handle, dir, output } = await run(
      {
        name: "main",
        command: ["sh", "-c"],
        args: ['echo out; echo err >&2; pwd > where; echo "$GREETING $(NAME)"'],
      },
      { GREETING: "hello", NAME: "world" },
    );
    t.after(() => dir.cleanup());
    const exit = await handle.exited;
    assert.deepEqual(exit, { exitCode: 0, reason: "Completed" });
    assert.match(output(), /out\n/);
    assert.match(output(), /err\n/);
    assert.match(output(), /hello world\n/);
    assert.equal((await readFile(join(dir.path, "where"), "utf8")).trim(), dir.path);
  });

  it("reports a non-zero exit code as Error", async (t) => {
    const { handle, dir, output } = await run({ name: "main", command: ["sh", "-c", "echo hi; exit 3"] });
    t.after(() => dir.cleanup());
    assert.deepEqual(await handle.exited, { exitCode: 3, reason: "Error" });
    assert.equal(output(), "hi\n");
  });

  it("refuses a missing executable with a StartError-worthy message", async () => {
    await assert.rejects(
      run({ name: "main", command: ["definitely-not-a-binary-xyz"] }),
      (e: unknown) => e instanceof ContainerStartError && /executable file not found/.test(e.detail),
    );
    await assert.rejects(run({ name: "main" }), ContainerStartError);
  });

  it("stops the whole process group: SIGTERM first, SIGKILL after the grace period", async (t) => {
    const { handle, dir } = await run({
      name: "main",
      command: ["sh", "-c", "trap '' TERM; sleep 30 & echo $! > child; wait"],
    });
    t.after(() => dir.cleanup());
    const childPid = await eventually(async () =>
      Number((await readFile(join(dir.path, "child"), "utf8")).trim()),
    );
    assert.ok(pidAlive(handle.pid!) && pidAlive(childPid));
    const exit = await handle.stop(200);
    assert.equal(exit.exitCode, 137);
    assert.equal(exit.reason, "Error");
    await eventually(() => assert.equal(pidAlive(childPid), false, "grandchild must not be orphaned"));
    assert.equal(pidAlive(handle.pid!), false);
  });

  it("reports exit 143 when the process honours SIGTERM", async (t) => {
    const { handle, dir } = await run({ name: "main", command: ["sleep", "30"] });
    t.after(() => dir.cleanup());
    const exit = await handle.stop(5000);
    assert.deepEqual(exit, { exitCode: 143, reason: "Error", signal: 15 });
  });

  it("kills containers left running when the hosting process exits without stopping them", async () => {
    const runtimeUrl = new URL("./process-runtime.js", import.meta.url).href;
    const script = [
      `import { createProcessRuntime } from ${JSON.stringify(runtimeUrl)};`,
      "const container = { name: 'main', command: ['sleep', '300'] };",
      "const h = await createProcessRuntime().start({ pod: { metadata: { name: 'p' } }, container,",
      "  workDir: process.cwd(), env: {}, onOutput: () => undefined });",
      "console.log(h.pid);",
      "process.exit(0);",
    ].join("\n");
    const { stdout } = await execFileAsync(process.execPath, ["--input-type=module", "-e", script]);
    const pid = Number(stdout.trim());
    assert.ok(pid > 0, `no pid printed: ${stdout}`);
    await eventually(() => assert.equal(pidAlive(pid), false, "container outlived its host"));
  });

  it("OOM-kills a process whose memory exceeds its limit", async (t) => {
    const { handle, dir } = await run({
      name: "main",
      command: [process.execPath, "-e", "const a=[]; setInterval(() => a.push(Buffer.alloc(8<<20, 1)), 5)"],
      resources: { limits: { memory: "64Mi" } },
    });
    t.after(() => dir.cleanup());
    assert.deepEqual(await handle.exited, { exitCode: 137, reason: "OOMKilled", signal: 9 });
  });
});

describe("container environment", () => {
  const pod: V1Pod = {
    metadata: { name: "job", namespace: "ns", uid: "u1", labels: { app: "x" } },
    spec: { containers: [] },
  };
  const facts = { nodeName: "n1", hostIP: "127.0.1.1", podIP: "127.100.0.1" };

  it("resolves literals, references and downward-API fields", () => {
    const env = resolveEnv(
      pod,
      {
        name: "main",
        env: [
          { name: "A", value: "1" },
          { name: "B", value: "$(A)-$$(A)-$(MISSING)" },
          { name: "POD", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
          { name: "NODE", valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } },
          { name: "APP", valueFrom: { fieldRef: { fieldPath: "metadata.labels['app']" } } },
        ],
      },
      facts,
    );
    assert.deepEqual(env, { A: "1", B: "1-$(A)-$(MISSING)", POD: "job", NODE: "n1", APP: "x" });
    assert.equal(expandReferences("$(A)", { A: "z" }), "z");
  });

  it("rejects sources the sandbox does not serve, naming the variable", () => {
    assert.throws(
      () =>
        resolveEnv(
          pod,
          { name: "main", env: [{ name: "SECRET", valueFrom: { secretKeyRef: { name: "s", key: "k" } } }] },
          facts,
        ),
      (e: unknown) => e instanceof ContainerConfigError && /SECRET/.test(e.detail),
    );
  });
});
