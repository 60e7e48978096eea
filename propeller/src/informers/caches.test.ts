import assert from "node:assert/strict";
import { test } from "node:test";
import type { V1Pod } from "@kubernetes/client-node";
import { WorkflowExecutionResource } from "@flotilla/common";
import { PodIndex } from "./caches.js";

function pod(name: string, owner: string, resourceVersion: string): V1Pod {
  return {
    metadata: {
      name,
      namespace: "ns",
      resourceVersion,
      ownerReferences: [
        {
          apiVersion: `${WorkflowExecutionResource.group}/${WorkflowExecutionResource.version}`,
          kind: WorkflowExecutionResource.kind,
          name: owner,
          uid: `uid-${owner}`,
          controller: true,
        },
      ],
    },
  };
}

test("an execution's pod change number moves on every add, new resourceVersion and removal, and only then", () => {
  const index = new PodIndex();
  assert.equal(index.changeOf("ns/a"), 0);
  index.upsert(pod("a-0", "a", "1"));
  const added = index.changeOf("ns/a");
  assert.notEqual(added, 0);
  index.upsert(pod("a-0", "a", "1"));
  assert.equal(index.changeOf("ns/a"), added, "the same version again (a relist) is no change");
  index.upsert(pod("b-0", "b", "2"));
  assert.equal(index.changeOf("ns/a"), added, "another execution's pods do not count");
  index.upsert(pod("a-0", "a", "3"));
  const updated = index.changeOf("ns/a");
  assert.notEqual(updated, added);
  index.remove(pod("a-0", "a", "3"));
  assert.notEqual(index.changeOf("ns/a"), updated);
  assert.equal(index.podsOf("ns/a").size, 1, "the pod deleted by someone else is kept as a tombstone");
});
