import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { workflowExecutionCrd } from "@flotilla/common";
import { parse } from "yaml";
import { crdManifestYaml, crdName, crdToClientModel } from "./crd.js";

const shipped = readFileSync(new URL("../../manifests/workflowexecution-crd.yaml", import.meta.url), "utf8");

describe("WorkflowExecution CRD manifest", () => {
  test("the shipped YAML is exactly the generated manifest of workflowExecutionCrd()", () => {
    assert.deepEqual(parse(shipped), workflowExecutionCrd());
    assert.equal(
      shipped,
      crdManifestYaml(),
      "regenerate admin/manifests/workflowexecution-crd.yaml (see crdManifestYaml)",
    );
  });

  test("carries an OpenAPI schema that keeps the proto-JSON spec", () => {
    const crd = parse(shipped) as {
      spec: {
        versions: Array<{ schema: { openAPIV3Schema: { properties: { spec: Record<string, unknown> } } } }>;
      };
    };
    const spec = crd.spec.versions[0]?.schema.openAPIV3Schema.properties.spec;
    assert.equal(spec?.["x-kubernetes-preserve-unknown-fields"], true);
    assert.equal(crdName(), "workflowexecutions.flotilla.io");
  });

  test("the client-node model form renames schema extension keys, nowhere else", () => {
    const model = crdToClientModel({
      metadata: { labels: { "x-kubernetes-keep": "1" } },
      spec: {
        versions: [
          {
            schema: {
              openAPIV3Schema: {
                type: "object",
                properties: {
                  default: { type: "string", default: "d" },
                  spec: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
                },
              },
            },
          },
        ],
      },
    }) as unknown as {
      metadata: { labels: Record<string, string> };
      spec: {
        versions: Array<{
          schema: { openAPIV3Schema: { properties: Record<string, Record<string, unknown>> } };
        }>;
      };
    };
    const props = model.spec.versions[0]?.schema.openAPIV3Schema.properties ?? {};
    assert.equal(props.spec?.x_kubernetes_preserve_unknown_fields, true);
    assert.equal(props.spec?.["x-kubernetes-preserve-unknown-fields"], undefined);
    assert.equal(
      props.default?._default,
      "d",
      "a property named 'default' keeps its name; its default attribute is renamed",
    );
    assert.deepEqual(model.metadata.labels, { "x-kubernetes-keep": "1" });
  });
});
