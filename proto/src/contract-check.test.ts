// Exercises the real `npm run check` script (proto/scripts/check.mjs) on temporary copies of
// this module: breaking changes, stale generated code and lint failures must make it fail.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const moduleDir = fileURLToPath(new URL("..", import.meta.url));
const checkScript = join(moduleDir, "scripts", "check.mjs");
const rmProto = join("flotilla", "resourcemanager", "v1", "resource_manager.proto");
const scratch: string[] = [];

after(() => {
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

/** Copies the module (sources + committed generated code) to `<tmp>/proto`; returns that dir. */
function copyModule(): string {
  const root = mkdtempSync(join(tmpdir(), "flotilla-proto-test-"));
  scratch.push(root);
  const dir = join(root, "proto");
  for (const entry of ["buf.yaml", "buf.gen.yaml", "flotilla", join("src", "gen")]) {
    cpSync(join(moduleDir, entry), join(dir, entry), { recursive: true });
  }
  return dir;
}

function git(cwd: string, ...args: string[]): string {
  const result = spawnSync(
    "git",
    [
      "-c",
      "user.name=proto-test",
      "-c",
      "user.email=proto-test@example.com",
      "-c",
      "commit.gpgsign=false",
      ...args,
    ],
    { cwd, encoding: "utf8" },
  );
  assert.equal(result.status, 0, `git ${args.join(" ")} failed: ${result.stderr}`);
  return result.stdout;
}

/** Copies the module into a fresh git repository (module at `proto/`) with one commit. */
function committedModule(): string {
  const dir = copyModule();
  const root = join(dir, "..");
  git(root, "init", "-q", "-b", "main");
  git(root, "add", ".");
  git(root, "commit", "-q", "-m", "contract");
  return dir;
}

function check(dir: string, steps: string[], env: Record<string, string> = {}) {
  const args = [checkScript, "--dir", dir, ...steps.flatMap((s) => ["--only", s])];
  const env2: NodeJS.ProcessEnv = { ...process.env, ...env };
  if (!("PROTO_BREAKING_AGAINST" in env)) delete env2.PROTO_BREAKING_AGAINST;
  const result = spawnSync(process.execPath, args, { encoding: "utf8", env: env2 });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

function edit(dir: string, file: string, from: string, to: string): void {
  const path = join(dir, file);
  const text = readFileSync(path, "utf8");
  assert.ok(text.includes(from), `${file} does not contain ${JSON.stringify(from)}`);
  writeFileSync(path, text.replace(from, to));
}

describe("proto check: buf breaking", () => {
  it("fails and names the field when a field number changes", () => {
    const dir = committedModule();
    edit(dir, rmProto, "uint32 tokens = 4;\n  // Lease lifetime", "uint32 tokens = 40;\n  // Lease lifetime");
    const result = check(dir, ["breaking"]);
    assert.equal(result.status, 1, result.output);
    assert.match(result.output, /against HEAD \(the module has uncommitted changes\)/);
    assert.match(result.output, /"tokens"/);
    assert.match(result.output, /AllocateRequest/);
  });

  it("passes an additive change (new field, new message)", () => {
    const dir = committedModule();
    edit(
      dir,
      rmProto,
      "  bool wait = 6;\n}",
      "  bool wait = 6;\n  // Free-form note, at most 256 chars.\n  string note = 7;\n}\n\n// Extra is new.\nmessage Extra {\n  // Value.\n  string value = 1;\n}",
    );
    const result = check(dir, ["breaking"]);
    assert.equal(result.status, 0, result.output);
    assert.match(result.output, /ok {3}breaking: no breaking change against HEAD/);
  });

  it("compares a clean module with the previous commit, and honours PROTO_BREAKING_AGAINST", () => {
    const dir = committedModule();
    const root = join(dir, "..");
    edit(dir, rmProto, "string holder = 3;\n  // Must be > 0", "string holder = 33;\n  // Must be > 0");
    git(root, "commit", "-q", "-am", "renumber holder");
    const previous = check(dir, ["breaking"]);
    assert.equal(previous.status, 1, previous.output);
    assert.match(previous.output, /against HEAD~1/);
    assert.match(previous.output, /"holder"/);

    const self = check(dir, ["breaking"], { PROTO_BREAKING_AGAINST: "HEAD" });
    assert.equal(self.status, 0, self.output);
    assert.match(self.output, /against HEAD \(PROTO_BREAKING_AGAINST\)/);
  });

  it("skips with a notice when the baseline has no proto module yet", () => {
    const dir = committedModule();
    const result = check(dir, ["breaking"]);
    assert.equal(result.status, 0, result.output);
    assert.match(result.output, /notice: git ref HEAD~1 does not exist; breaking check skipped/);
  });
});

describe("proto check: breaking baseline without a module", () => {
  it("skips with a notice when the previous commit has no proto module", () => {
    const dir = copyModule();
    const root = join(dir, "..");
    git(root, "init", "-q", "-b", "main");
    writeFileSync(join(root, "README.txt"), "before the contract\n");
    git(root, "add", "README.txt");
    git(root, "commit", "-q", "-m", "skeleton");
    git(root, "add", ".");
    git(root, "commit", "-q", "-m", "contract");
    const result = check(dir, ["breaking"]);
    assert.equal(result.status, 0, result.output);
    assert.match(
      result.output,
      /notice: HEAD~1 has no proto module at proto\/buf\.yaml yet; breaking check skipped/,
    );
  });
});

describe("proto check: generated code", () => {
  it("accepts an untouched copy", () => {
    const result = check(copyModule(), ["stale"]);
    assert.equal(result.status, 0, result.output);
    assert.match(result.output, /ok {3}stale/);
  });

  it("reports stale code after a .proto edit without regenerating", () => {
    const dir = copyModule();
    edit(dir, rmProto, "  bool wait = 6;\n}", "  bool wait = 6;\n  // Note.\n  string note = 7;\n}");
    const result = check(dir, ["stale"]);
    assert.equal(result.status, 1, result.output);
    assert.match(result.output, /FAIL stale/);
    assert.match(result.output, /changed: flotilla\/resourcemanager\/v1\/resource_manager_pb\.ts/);
  });
});

describe("proto check: lint", () => {
  it("fails on a STANDARD lint violation and names it", () => {
    const dir = copyModule();
    edit(dir, rmProto, "STATE_FILTER_UNSPECIFIED = 0;", "STATE_FILTER_ANY = 0;");
    const result = check(dir, ["lint"]);
    assert.equal(result.status, 1, result.output);
    assert.match(result.output, /STATE_FILTER_ANY/);
  });

  it("fails on unformatted .proto files", () => {
    const dir = copyModule();
    edit(dir, rmProto, "  string holder = 3;", "  string   holder    =   3;");
    const result = check(dir, ["lint"]);
    assert.equal(result.status, 1, result.output);
    assert.match(result.output, /files are not formatted/);
  });

  it("passes the untouched module", () => {
    const result = check(copyModule(), ["lint"]);
    assert.equal(result.status, 0, result.output);
  });
});
