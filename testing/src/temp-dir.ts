import { mkdtempSync, rmSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Something with node:test's `after` (a TestContext, or a suite's context). */
export interface AfterHook {
  after(fn: () => unknown): unknown;
}

/** A temporary directory for one test. */
export interface TempDir {
  /** Absolute path of the (existing, empty at start) directory. */
  path: string;
  /** Removes the directory and everything in it; idempotent. */
  cleanup: () => Promise<void>;
}

const live = new Set<string>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const path of live) rmSync(path, { recursive: true, force: true });
  });
}

/**
 * Creates a fresh directory under the OS temp dir (`<prefix>` plus six random characters) and returns it. It is
 * removed by `cleanup()`, when the test `t` ends (if given), and at the latest when the process
 * exits.
 */
export function tempDir(options: { prefix?: string; t?: AfterHook } = {}): TempDir {
  const path = mkdtempSync(join(tmpdir(), options.prefix ?? "flotilla-test-"));
  live.add(path);
  installExitHook();
  let removed: Promise<void> | undefined;
  const dir: TempDir = {
    path,
    cleanup() {
      removed ??= rm(path, { recursive: true, force: true }).then(() => {
        live.delete(path);
      });
      return removed;
    },
  };
  options.t?.after(() => dir.cleanup());
  return dir;
}
