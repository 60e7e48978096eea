import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { writeKubeconfig } from "../cluster.js";
import { type ApiServerHandle, startApiServer } from "./server.js";
import { call, eventually } from "./test-support.js";

const run = promisify(execFile);

const CRD_YAML = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wd]}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    additionalPrinterColumns:
    - {name: Size, type: integer, jsonPath: .spec.size}
    - {name: Team, type: string, jsonPath: .metadata.labels.example\\.com/team}
    - {name: Age, type: date, jsonPath: .metadata.creationTimestamp}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [size]
            properties:
              size: {type: integer}
              color: {type: string}
`;

describe("kubectl against the sandbox", () => {
  let server: ApiServerHandle;
  let dir: string;
  let kubeconfig: string;

  before(async () => {
    server = await startApiServer({ name: "kubectl" });
    dir = await mkdtemp(join(tmpdir(), "sandbox-kubectl-"));
    kubeconfig = await writeKubeconfig([{ name: "kubectl", url: server.url }], join(dir, "kubeconfig"));
  });
  after(async () => {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  });

  function args(rest: string[]): string[] {
    return ["--kubeconfig", kubeconfig, "--cache-dir", join(dir, "cache"), ...rest];
  }

  async function kubectl(...rest: string[]): Promise<string> {
    const { stdout } = await run("kubectl", args(rest), { timeout: 30_000 });
    return stdout;
  }

  async function file(name: string, text: string): Promise<string> {
    const path = join(dir, name);
    await writeFile(path, text);
    return path;
  }

  it("applies a CRD and custom objects, then reapplies changes through the last-applied flow", async () => {
    assert.match(
      await kubectl("apply", "-f", await file("crd.yaml", CRD_YAML)),
      /customresourcedefinition.apiextensions.k8s.io\/widgets.example.com created/,
    );
    const widget = (size: number): string =>
      `apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w1\n  labels: {example.com/team: blue}\nspec:\n  size: ${size}\n  color: red\n`;
    assert.match(
      await kubectl("apply", "-f", await file("w1.yaml", widget(3))),
      /widget.example.com\/w1 created/,
    );
    assert.match(
      await kubectl("apply", "-f", await file("w1.yaml", widget(4))),
      /widget.example.com\/w1 configured/,
    );
    assert.match(
      await kubectl("apply", "-f", await file("w1.yaml", widget(4))),
      /widget.example.com\/w1 unchanged/,
    );
    const yaml = await kubectl("get", "wd", "w1", "-o", "yaml");
    assert.match(yaml, /size: 4/);
    assert.match(yaml, /kubectl.kubernetes.io\/last-applied-configuration/);
    assert.match(yaml, /generation: 2/);
    const table = await kubectl("get", "widgets");
    assert.match(table, /^NAME\s+SIZE\s+TEAM\s+AGE\n/);
    assert.match(table, /\nw1\s+4\s+blue\s+\d+s\n/);
  });

  it("applies, describes, labels and patches pods", async () => {
    const pod = `apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  labels: {app: web}\nspec:\n  containers:\n  - name: main\n    image: nginx:1.27\n`;
    assert.match(await kubectl("apply", "-f", await file("pod.yaml", pod)), /pod\/web created/);
    assert.match(
      await kubectl("apply", "-f", await file("pod.yaml", pod.replace("nginx:1.27", "nginx:1.28"))),
      /pod\/web configured/,
    );
    assert.match(await kubectl("label", "pod", "web", "tier=front"), /pod\/web labeled/);
    assert.match(await kubectl("get", "pods", "-l", "tier=front", "-o", "name"), /^pod\/web$/m);
    assert.match(
      await kubectl(
        "patch",
        "pod",
        "web",
        "--type",
        "merge",
        "-p",
        '{"metadata":{"annotations":{"note":"hi"}}}',
      ),
      /pod\/web patched/,
    );
    const web = (await call(server.url, "GET", "/api/v1/namespaces/default/pods/web")).body;
    const event = await call(server.url, "POST", "/api/v1/namespaces/default/events", {
      metadata: { name: "web.1" },
      involvedObject: { kind: "Pod", namespace: "default", name: "web", uid: web.metadata.uid },
      reason: "Scheduled",
      message: "Successfully assigned default/web to node-1",
      type: "Normal",
      source: { component: "default-scheduler" },
      firstTimestamp: new Date().toISOString(),
      lastTimestamp: new Date().toISOString(),
      count: 1,
    });
    assert.equal(event.status, 201);
    const described = await kubectl("describe", "pod", "web");
    assert.match(
      described,
      /Normal\s+Scheduled\s+\S+\s+default-scheduler\s+Successfully assigned default\/web to node-1/,
    );
    assert.match(described, /^Name:\s+web$/m);
    assert.match(described, /Image:\s+nginx:1.28/);
    assert.match(described, /tier=front/);
    assert.match(described, /note: hi/);
    const listing = await kubectl("get", "pods");
    assert.match(listing, /^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\n/);
    assert.match(listing, /\nweb\s+0\/1\s+Pending\s+0\s+\d+s\n/);
  });

  it("prints pod logs written through the sandbox log extension", async () => {
    await kubectl("run", "logger", "--image", "busybox:1.36", "--restart", "Never");
    const put = await call(
      server.url,
      "PUT",
      "/api/v1/namespaces/default/pods/logger/log?container=logger",
      "line one\nline two\n",
      "text/plain",
    );
    assert.equal(put.status, 200);
    assert.equal(await kubectl("logs", "logger"), "line one\nline two\n");
    assert.equal(await kubectl("logs", "logger", "--tail", "1"), "line two\n");
  });

  it("follows a pod log until the pod terminates", async () => {
    await kubectl("run", "follower", "--image", "busybox:1.36", "--restart", "Never");
    const logPath = "/api/v1/namespaces/default/pods/follower/log?container=follower";
    await call(server.url, "PUT", logPath, "first\n", "text/plain");
    const child = spawn("kubectl", args(["logs", "-f", "follower"]));
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    try {
      await eventually(() => assert.equal(out, "first\n"), { timeout: 10_000 });
      await call(server.url, "PUT", logPath, "second\n", "text/plain");
      await eventually(() => assert.equal(out, "first\nsecond\n"), { timeout: 10_000 });
      await call(
        server.url,
        "PATCH",
        "/api/v1/namespaces/default/pods/follower/status",
        { status: { phase: "Succeeded" } },
        "application/merge-patch+json",
      );
      assert.equal(await exited, 0);
    } finally {
      child.kill();
    }
  });

  it("streams changes with get -w", async () => {
    const cm = `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: watched\ndata:\n  k: v1\n`;
    await kubectl("apply", "-f", await file("cm.yaml", cm));
    const child = spawn(
      "kubectl",
      args(["get", "configmaps", "-w", "-o", "custom-columns=NAME:.metadata.name,VALUE:.data.k"]),
    );
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
    try {
      await eventually(() => assert.match(out, /watched\s+v1/), { timeout: 10_000 });
      await kubectl("patch", "configmap", "watched", "-p", '{"data":{"k":"v2"}}');
      await eventually(() => assert.match(out, /watched\s+v2/), { timeout: 10_000 });
    } finally {
      child.kill();
    }
  });

  it("deletes an owner and its owned pods are garbage collected", async () => {
    const owner = (await call(server.url, "GET", "/apis/example.com/v1/namespaces/default/widgets/w1")).body;
    for (const name of ["child-1", "child-2"]) {
      const res = await call(server.url, "POST", "/api/v1/namespaces/default/pods", {
        metadata: {
          name,
          labels: { owner: "w1" },
          ownerReferences: [
            {
              apiVersion: "example.com/v1",
              kind: "Widget",
              name: "w1",
              uid: owner.metadata.uid,
              controller: true,
            },
          ],
        },
        spec: { containers: [{ name: "main", image: "busybox:1.36" }] },
      });
      assert.equal(res.status, 201);
    }
    assert.match(await kubectl("delete", "widget", "w1"), /widget.example.com "w1" deleted/);
    await eventually(
      async () => assert.equal(await kubectl("get", "pods", "-l", "owner=w1", "-o", "name"), ""),
      { timeout: 10_000 },
    );
    await assert.rejects(kubectl("get", "widget", "w1"), /NotFound|not found/);
  });

  it("creates namespaces, configmaps, secrets and quotas with kubectl create (protobuf bodies)", async () => {
    assert.match(await kubectl("create", "namespace", "team-a"), /namespace\/team-a created/);
    assert.match(
      await kubectl("create", "configmap", "settings", "-n", "team-a", "--from-literal", "mode=fast"),
      /configmap\/settings created/,
    );
    assert.match(
      await kubectl("create", "secret", "generic", "token", "-n", "team-a", "--from-literal", "pw=hunter2"),
      /secret\/token created/,
    );
    assert.match(
      await kubectl("create", "quota", "compute", "-n", "team-a", "--hard", "pods=5,requests.cpu=2"),
      /resourcequota\/compute created/,
    );
    assert.equal(
      await kubectl("get", "configmap", "settings", "-n", "team-a", "-o", "jsonpath={.data.mode}"),
      "fast",
    );
    assert.equal(
      Buffer.from(
        await kubectl("get", "secret", "token", "-n", "team-a", "-o", "jsonpath={.data.pw}"),
        "base64",
      ).toString(),
      "hunter2",
    );
    await eventually(async () =>
      assert.match(
        await kubectl("get", "quota", "compute", "-n", "team-a"),
        /pods: 0\/5, requests.cpu: 0\/2/,
      ),
    );
  });

  it("reports API errors the way kubectl prints kube-apiserver errors", async () => {
    await assert.rejects(
      kubectl("get", "pod", "missing"),
      /Error from server \(NotFound\): pods "missing" not found/,
    );
    const bad = `apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: bad\nspec:\n  color: blue\n`;
    await assert.rejects(kubectl("apply", "-f", await file("bad.yaml", bad)), /spec.size: Required value/);
    const unknown = `apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: typo\nspec:\n  size: 1\n  colour: blue\n`;
    await assert.rejects(
      kubectl("apply", "-f", await file("typo.yaml", unknown)),
      /Error from server \(BadRequest\).*Widget in version "v1" cannot be handled as a Widget: strict decoding error: unknown field "spec.colour"/,
    );
  });
});
