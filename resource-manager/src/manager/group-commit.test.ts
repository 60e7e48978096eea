import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { HolderRecord } from "../allocator/types.js";
import { GroupCommitter } from "./group-commit.js";

function change(key: string, value: HolderRecord | null = null): Map<string, HolderRecord | null> {
  return new Map([[key, value]]);
}

describe("GroupCommitter", () => {
  it("batches concurrent submissions, commits in order, and coalesces per key", async () => {
    const batches: string[][] = [];
    let release: (() => void) | undefined;
    const committer = new GroupCommitter(async (changes) => {
      batches.push([...changes.keys()]);
      if (batches.length === 1) await new Promise<void>((r) => (release = r));
    });
    const first = committer.submit(change("a"));
    await new Promise((r) => setImmediate(r));
    // While batch 1 is in flight, three more submissions (two for the same key) share batch 2.
    const waits = [
      committer.submit(change("b")),
      committer.submit(change("c")),
      committer.submit(change("b")),
    ];
    let secondDone = false;
    void Promise.all(waits).then(() => (secondDone = true));
    const barrier = committer.barrier();
    await new Promise((r) => setImmediate(r));
    assert.equal(secondDone, false, "nothing resolves before its batch commits");
    release?.();
    await first;
    await Promise.all(waits);
    await barrier;
    assert.deepEqual(batches, [["a"], ["b", "c"]]);
  });

  it("fails every pending and later wait after a failed batch", async () => {
    const committer = new GroupCommitter(async () => {
      throw new Error("database gone");
    });
    await assert.rejects(committer.submit(change("a")), /database gone/);
    assert.equal(committer.failed, true);
    await assert.rejects(committer.submit(change("b")), /database gone/);
    await assert.rejects(committer.barrier(), /database gone/);
  });
});
