import assert from "node:assert/strict";
import { test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { IdentifierSchema, ResourceType } from "@flotilla/proto";
import { identifierKey } from "./identifier-key.js";

test("an identifier's key is project/domain/name@version, whatever its resource type", () => {
  const id = { project: "ml", domain: "development", name: "train", version: "v3" };
  assert.equal(identifierKey(id), "ml/development/train@v3");
  assert.equal(
    identifierKey(create(IdentifierSchema, { ...id, resourceType: ResourceType.TASK })),
    "ml/development/train@v3",
  );
  assert.notEqual(identifierKey(id), identifierKey({ ...id, version: "v4" }));
});

test("a missing identifier has the empty key", () => {
  assert.equal(identifierKey(undefined), "");
});
