import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { promisify } from "node:util";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { createClient } from "@connectrpc/connect";
import {
  Http2SessionManager,
  createConnectTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import { AdminService } from "@flotilla/proto";
import { repoRoot, spawnBin, tempDir } from "@flotilla/testing";

const run = promisify(execFile);

/** POSTs a Connect unary JSON request with curl (HTTP/1.1) and returns status and body. */
async function curlJson(
  base: string,
  method: string,
  body: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const { stdout } = await run("curl", [
    "-sS",
    "--http1.1",
    "-X",
    "POST",
    "-H",
    "Content-Type: application/json",
    "-d",
    JSON.stringify(body),
    "-w",
    "\n%{http_code}",
    `${base}/flotilla.admin.v1.AdminService/${method}`,
  ]);
  const lines = stdout.trimEnd().split("\n");
  const status = Number(lines.pop());
  return { status, body: JSON.parse(lines.join("\n")) as Record<string, unknown> };
}

type Unary = (
  req: unknown,
  cb: (err: grpc.ServiceError | null, res: Record<string, unknown>) => void,
) => void;

const integer = { simple: "SIMPLE_TYPE_INTEGER" };

describe("flotilla-admin over the wire", () => {
  it("serves Connect JSON to curl and gRPC to a grpc-js client generated from the .proto files, on one port", async (t) => {
    const dir = tempDir({ prefix: "flotilla-admin-bin-", t });
    const configPath = join(dir.path, "admin.yaml");
    await writeFile(
      configPath,
      "server: { port: 0, host: 127.0.0.1 }\ndatabase: { dataDir: ./data }\nblobStore: { url: ./blobs }\n",
    );
    const admin = await spawnBin("flotilla-admin", ["--config", configPath], {
      readyLine: /listening on (http:\/\/\S+)/,
      t,
    });
    const base = admin.ready![1];

    // curl, Connect protocol with JSON.
    const project = await curlJson(base, "RegisterProject", { project: { id: "wire" } });
    assert.equal(project.status, 200, JSON.stringify(project.body));
    const task = await curlJson(base, "CreateTask", {
      template: {
        id: {
          resourceType: "RESOURCE_TYPE_TASK",
          project: "wire",
          domain: "development",
          name: "double",
          version: "v1",
        },
        type: "container",
        interface: {
          inputs: { variables: { x: { type: integer } } },
          outputs: { variables: { y: { type: integer } } },
        },
        container: { image: "busybox:1.36" },
      },
    });
    assert.equal(task.status, 200, JSON.stringify(task.body));
    const cyclic = await curlJson(base, "CreateWorkflow", {
      template: {
        id: {
          resourceType: "RESOURCE_TYPE_WORKFLOW",
          project: "wire",
          domain: "development",
          name: "loop",
          version: "v1",
        },
        interface: {},
        nodes: [
          {
            id: "a",
            taskNode: { referenceId: task.body.task && (task.body.task as { id: unknown }).id },
            inputs: [{ var: "x", binding: { promise: { nodeId: "b", var: "y" } } }],
          },
          {
            id: "b",
            taskNode: { referenceId: (task.body.task as { id: unknown }).id },
            inputs: [{ var: "x", binding: { promise: { nodeId: "a", var: "y" } } }],
          },
        ],
      },
    });
    assert.equal(cyclic.status, 400);
    assert.equal(cyclic.body.code, "invalid_argument");
    assert.match(String(cyclic.body.message), /cycle/);
    const viaCurl = await curlJson(base, "CreateWorkflow", {
      template: {
        id: {
          resourceType: "RESOURCE_TYPE_WORKFLOW",
          project: "wire",
          domain: "development",
          name: "single",
          version: "v1",
        },
        interface: { inputs: { variables: { n: { type: integer } } } },
        nodes: [
          {
            id: "a",
            taskNode: { referenceId: (task.body.task as { id: unknown }).id },
            inputs: [{ var: "x", binding: { workflowInput: { var: "n" } } }],
          },
        ],
      },
    });
    assert.equal(viaCurl.status, 200, JSON.stringify(viaCurl.body));
    const exec = await curlJson(base, "CreateExecution", {
      project: "wire",
      domain: "development",
      name: "bycurl",
      spec: {
        workflow: {
          resourceType: "RESOURCE_TYPE_WORKFLOW",
          project: "wire",
          domain: "development",
          name: "single",
          version: "v1",
        },
        inputs: { literals: { n: { scalar: { primitive: { integer: "7" } } } } },
      },
    });
    assert.equal(exec.status, 200, JSON.stringify(exec.body));
    assert.deepEqual(exec.body.id, { project: "wire", domain: "development", name: "bycurl" });

    // grpc-js with proto-loader, straight from the .proto files (HTTP/2, gRPC protocol).
    const definition = await protoLoader.load("flotilla/admin/v1/admin_service.proto", {
      includeDirs: [join(repoRoot, "proto")],
      longs: String,
      enums: String,
      defaults: false,
      oneofs: true,
    });
    const pkg = grpc.loadPackageDefinition(definition) as unknown as {
      flotilla: {
        admin: {
          v1: {
            AdminService: new (
              addr: string,
              creds: grpc.ChannelCredentials,
            ) => grpc.Client & Record<string, Unary>;
          };
        };
      };
    };
    const client = new pkg.flotilla.admin.v1.AdminService(
      new URL(base).host,
      grpc.credentials.createInsecure(),
    );
    t.after(() => client.close());
    const call = (method: string, req: unknown) =>
      new Promise<Record<string, unknown>>((resolve, reject) => {
        const fn: Unary = client[method];
        fn.call(client, req, (err, res) => (err ? reject(err) : resolve(res)));
      });
    const wfId = {
      resourceType: "RESOURCE_TYPE_WORKFLOW",
      project: "wire",
      domain: "development",
      name: "bygrpc",
      version: "v1",
    };
    const workflow = await call("CreateWorkflow", {
      template: {
        id: wfId,
        interface: { inputs: { variables: { n: { type: { simple: "SIMPLE_TYPE_INTEGER" } } } } },
        nodes: [
          {
            id: "a",
            taskNode: {
              referenceId: {
                resourceType: "RESOURCE_TYPE_TASK",
                project: "wire",
                domain: "development",
                name: "double",
                version: "v1",
              },
            },
            inputs: [{ var: "x", binding: { workflowInput: { var: "n" } } }],
          },
        ],
      },
    });
    assert.match(String((workflow.workflow as { digest: string }).digest), /^sha256:/);
    const created = await call("CreateExecution", {
      project: "wire",
      domain: "development",
      name: "bygrpc",
      spec: { workflow: wfId, inputs: { literals: { n: { scalar: { primitive: { integer: "3" } } } } } },
    });
    assert.deepEqual(created.id, { project: "wire", domain: "development", name: "bygrpc" });
    const fetched = await call("GetExecution", {
      id: { project: "wire", domain: "development", name: "bygrpc" },
    });
    const closure = (fetched.execution as { closure: { phase: string; message: string } }).closure;
    assert.equal(closure.phase, "PHASE_QUEUED");
    assert.match(closure.message, /^NoEligibleCluster/);
    await assert.rejects(
      call("GetExecution", { id: { project: "wire", domain: "development", name: "missing" } }),
      (err: grpc.ServiceError) => err.code === grpc.status.NOT_FOUND,
    );

    // gRPC-Web (HTTP/1.1) and Connect binary over HTTP/2, through connect-node clients.
    const web = createClient(AdminService, createGrpcWebTransport({ baseUrl: base, httpVersion: "1.1" }));
    assert.equal((await web.getVersion({})).apiVersion, "flotilla.admin.v1");
    const sessions = new Http2SessionManager(base);
    t.after(() => sessions.abort());
    const h2 = createClient(
      AdminService,
      createConnectTransport({ baseUrl: base, httpVersion: "2", sessionManager: sessions }),
    );
    const got = await h2.getExecution({ id: { project: "wire", domain: "development", name: "bycurl" } });
    assert.equal(got.execution?.spec?.target.case, "workflow");

    // Health and metrics on the same port.
    const { stdout: health } = await run("curl", ["-sS", `${base}/healthz`]);
    assert.equal(health.trim(), "ok");
    const { stdout: metrics } = await run("curl", ["-sS", `${base}/metrics`]);
    assert.match(metrics, /flotilla_admin_rpc_requests_total\{method="CreateExecution",code="ok"\} 2/);
    assert.match(
      metrics,
      /flotilla_admin_executions\{project="wire",domain="development",phase="QUEUED"\} 2/,
    );
    assert.match(
      metrics,
      /flotilla_admin_db_query_duration_seconds_count\{operation="executions.insert"\} 2/,
    );

    const status = await admin.stop();
    assert.equal(status.code, 0, admin.output());
  });

  it("exits 2 naming the key path and its source for a bad value or an unknown key in the config file", async (t) => {
    const dir = tempDir({ prefix: "flotilla-admin-bin-", t });
    const configPath = join(dir.path, "admin.yaml");
    const cases: Array<[string, RegExp]> = [
      ['server:\n  port: "abc"\n', /server\.port: .*\(from file \S*admin\.yaml line 2\)/],
      [
        "server:\n  port: 0\nexecutions:\n  parallel: 3\n",
        /executions\.parallel: unknown key \(from file \S*admin\.yaml line 4\)/,
      ],
      [
        "server:\n  port: 0\nrouting:\n  heartbeatTimeoutSecnds: 30\n",
        /routing\.heartbeatTimeoutSecnds: unknown key .*\(from file \S*admin\.yaml\)/,
      ],
      [
        "server:\n  port: 0\nclusters:\n  - name: Bad_Name\n",
        /clusters\.0\.name: .*\(from file \S*admin\.yaml\)/,
      ],
    ];
    for (const [text, message] of cases) {
      await writeFile(configPath, text);
      const bin = await spawnBin("flotilla-admin", ["--config", configPath], { t });
      const status = await bin.exited;
      assert.equal(status.code, 2, bin.output());
      assert.match(bin.stderr.join("\n"), message);
    }
  });
});
