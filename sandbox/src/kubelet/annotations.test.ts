import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { V1Pod } from "@kubernetes/client-node";
import {
  Annotations,
  InvalidAnnotationError,
  isUnpullableImage,
  podRuntimeMode,
  readSimulatedBehaviour,
} from "./annotations.js";

const annotated = (annotations: Record<string, string>): V1Pod => ({
  metadata: { name: "p", annotations },
  spec: { containers: [] },
});

describe("readSimulatedBehaviour", () => {
  it("defaults to a short success", () => {
    assert.deepEqual(readSimulatedBehaviour(annotated({}), 200), {
      durationMs: 200,
      outcome: "succeed",
      exitCode: 0,
    });
  });
  it("reads duration, outcome, exit code and log", () => {
    const b = readSimulatedBehaviour(
      annotated({
        [Annotations.duration]: "2s",
        [Annotations.outcome]: "fail",
        [Annotations.exitCode]: "3",
        [Annotations.log]: "hello",
      }),
    );
    assert.deepEqual(b, { durationMs: 2000, outcome: "fail", exitCode: 3, log: "hello" });
  });
  it("turns a non-zero exit code into a failure and OOM into 137", () => {
    assert.equal(readSimulatedBehaviour(annotated({ [Annotations.exitCode]: "2" })).outcome, "fail");
    assert.equal(readSimulatedBehaviour(annotated({ [Annotations.outcome]: "oom" })).exitCode, 137);
  });
  it("names the bad annotation", () => {
    assert.throws(
      () => readSimulatedBehaviour(annotated({ [Annotations.duration]: "soon" })),
      (e: unknown) => e instanceof InvalidAnnotationError && e.annotation === Annotations.duration,
    );
    assert.throws(
      () => readSimulatedBehaviour(annotated({ [Annotations.outcome]: "explode" })),
      (e: unknown) => e instanceof InvalidAnnotationError && e.annotation === Annotations.outcome,
    );
    assert.throws(
      () => readSimulatedBehaviour(annotated({ [Annotations.exitCode]: "300" })),
      InvalidAnnotationError,
    );
  });
});

describe("podRuntimeMode", () => {
  it("lets a pod override the kubelet mode", () => {
    assert.equal(podRuntimeMode(annotated({}), "process"), "process");
    assert.equal(podRuntimeMode(annotated({ [Annotations.mode]: "simulated" }), "process"), "simulated");
    assert.throws(
      () => podRuntimeMode(annotated({ [Annotations.mode]: "vm" }), "process"),
      InvalidAnnotationError,
    );
  });
});

describe("isUnpullableImage", () => {
  it("fails images named invalid or does-not-exist by convention", () => {
    for (const image of [
      "invalid",
      "does-not-exist:v1",
      "registry.local:5000/team/does-not-exist@sha256:abc",
      "invalid-image",
    ]) {
      assert.equal(isUnpullableImage(image), true, image);
    }
    for (const image of ["busybox", "python:3.12", "registry.local:5000/invalid/app", "validator"]) {
      assert.equal(isUnpullableImage(image), false, image);
    }
  });
});
