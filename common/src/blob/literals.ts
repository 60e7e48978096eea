/**
 * Literal maps (inputs and outputs) are stored in the blob store as binary protobuf of
 * `flotilla.core.v1.LiteralMap`.
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { LiteralMapSchema, type LiteralMap } from "@flotilla/proto";
import type { BlobStore } from "./blob-store.js";

/** Writes a literal map at `uri` (atomically). */
export async function writeLiteralMap(store: BlobStore, uri: string, map: LiteralMap): Promise<void> {
  await store.put(uri, toBinary(LiteralMapSchema, map));
}

/** Reads the literal map at `uri`; throws BlobNotFoundError when absent. */
export async function readLiteralMap(store: BlobStore, uri: string): Promise<LiteralMap> {
  return fromBinary(LiteralMapSchema, await store.get(uri));
}

/** An empty literal map. */
export function emptyLiteralMap(): LiteralMap {
  return create(LiteralMapSchema, {});
}
