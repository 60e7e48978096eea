import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { after, before, describe, test } from "node:test";
import {
  BlobNotFoundError,
  InvalidBlobUriError,
  openBlobStore,
  UnsupportedBlobStoreError,
  type BlobStore,
} from "./blob-store.js";

describe("FileBlobStore", () => {
  let dir: string;
  let store: BlobStore;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "flotilla-blob-"));
    store = openBlobStore(pathToFileURL(dir).href);
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  test("put then get round-trips bytes and lists them under their prefix", async () => {
    const a = store.join(store.root, "exec", "n1", "outputs.pb");
    const b = store.join(store.root, "exec", "n2", "outputs.pb");
    await store.put(a, new Uint8Array([1, 2, 3]));
    await store.put(b, "hello");
    assert.deepEqual([...(await store.get(a))], [1, 2, 3]);
    assert.equal(Buffer.from(await store.get(b)).toString(), "hello");
    assert.deepEqual(await store.list(store.join(store.root, "exec")), [a, b]);
    assert.equal(await store.exists(a), true);
  });

  test("get of a missing object throws BlobNotFoundError naming the uri", async () => {
    const uri = store.join(store.root, "missing");
    await assert.rejects(
      store.get(uri),
      (err: unknown) => err instanceof BlobNotFoundError && err.uri === uri,
    );
    assert.equal(await store.exists(uri), false);
  });

  test("delete removes a prefix recursively and is idempotent", async () => {
    const p = store.join(store.root, "tmp", "x");
    await store.put(store.join(p, "1"), "1");
    await store.delete(store.join(store.root, "tmp"));
    await store.delete(store.join(store.root, "tmp"));
    assert.deepEqual(await store.list(store.join(store.root, "tmp")), []);
  });

  test("uris outside the root and dot segments are refused", () => {
    assert.throws(() => store.localPath("file:///etc/passwd"), InvalidBlobUriError);
    assert.throws(() => store.join(store.root, "a/../../b"), InvalidBlobUriError);
  });

  test("an unknown scheme is refused with a clear error", () => {
    assert.throws(() => openBlobStore("s3://bucket/prefix"), UnsupportedBlobStoreError);
  });
});
