// The public entry exposes every generated declaration, and the WorkflowExecution CR shape
// survives the proto-JSON round trip admin and propeller rely on.
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

import { create, fromJson, toJson } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";

import * as proto from "./index.js";

const namespaces: Record<string, Record<string, unknown>> = {
  core: proto.core,
  admin: proto.admin,
  event: proto.event,
  resourcemanager: proto.resourcemanager,
};

describe("@flotilla/proto entry", () => {
  it("re-exports every generated file of every package, namespaced and flat", async () => {
    for (const [pkg, ns] of Object.entries(namespaces)) {
      const dir = new URL(`./gen/flotilla/${pkg}/v1/`, import.meta.url);
      const files = readdirSync(fileURLToPath(dir)).filter((f) => f.endsWith("_pb.js"));
      assert.ok(files.length > 0, `no generated files for ${pkg}`);
      for (const file of files) {
        const mod = (await import(new URL(file, dir).href)) as Record<string, unknown>;
        for (const [name, value] of Object.entries(mod)) {
          assert.equal(ns[name], value, `${pkg}.${name} (from ${file}) is not re-exported`);
          assert.ok(name in proto, `${name} is not exported flat`);
        }
      }
    }
  });

  it("resolves the core/admin name clash to admin's stored resources", () => {
    assert.equal(proto.NodeExecutionSchema, proto.admin.NodeExecutionSchema);
    assert.equal(proto.TaskExecutionSchema, proto.admin.TaskExecutionSchema);
    assert.equal(proto.NodeExecutionSchema.typeName, "flotilla.admin.v1.NodeExecution");
    assert.equal(proto.core.NodeExecution_Phase.DYNAMIC_RUNNING, 12);
  });

  it("round-trips the WorkflowExecution CR spec and status through proto-JSON", () => {
    const spec = create(proto.core.WorkflowExecutionSpecSchema, {
      executionId: { project: "flights", domain: "production", name: "abc123" },
      workflow: {
        case: "closureRef",
        value: { uri: "file:///c", digest: `sha256:${"0".repeat(64)}`, sizeBytes: 9n },
      },
      inputsUri: "file:///in.pb",
      outputPrefix: "file:///out/",
      rawOutputDataPrefix: "file:///raw/",
      maxParallelism: 4,
      interruptible: true,
      createdAt: timestampFromMs(Date.UTC(2026, 0, 1)),
    });
    const specJson = toJson(proto.core.WorkflowExecutionSpecSchema, spec);
    assert.deepEqual(specJson, {
      executionId: { project: "flights", domain: "production", name: "abc123" },
      closureRef: { uri: "file:///c", digest: `sha256:${"0".repeat(64)}`, sizeBytes: "9" },
      inputsUri: "file:///in.pb",
      outputPrefix: "file:///out/",
      maxParallelism: 4,
      interruptible: true,
      rawOutputDataPrefix: "file:///raw/",
      createdAt: "2026-01-01T00:00:00Z",
    });
    assert.deepEqual(fromJson(proto.core.WorkflowExecutionSpecSchema, specJson), spec);

    const status = create(proto.core.WorkflowExecutionStatusSchema, {
      phase: proto.core.WorkflowExecution_Phase.RUNNING,
      phaseVersion: 2,
      nodes: {
        train: {
          phase: proto.core.NodeExecution_Phase.RUNNING,
          taskPhase: proto.core.TaskExecution_Phase.WAITING_FOR_RESOURCES,
          waiting: { reason: "WaitingForTokens", queuePosition: 3, resource: "warehouse" },
        },
      },
    });
    const statusJson = toJson(proto.core.WorkflowExecutionStatusSchema, status);
    assert.deepEqual(statusJson, {
      phase: "PHASE_RUNNING",
      phaseVersion: 2,
      nodes: {
        train: {
          phase: "PHASE_RUNNING",
          taskPhase: "PHASE_WAITING_FOR_RESOURCES",
          waiting: { reason: "WaitingForTokens", queuePosition: 3, resource: "warehouse" },
        },
      },
    });
    assert.deepEqual(fromJson(proto.core.WorkflowExecutionStatusSchema, statusJson), status);
  });
});
