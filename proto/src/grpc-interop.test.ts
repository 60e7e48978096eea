// A third-party gRPC stack (@grpc/grpc-js + @grpc/proto-loader reading the .proto files, not
// our generated code) must understand the contract and call a Connect server built on it.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createServer, type Http2Server } from "node:http2";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";

import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

import { admin, resourcemanager } from "./index.js";

const moduleDir = fileURLToPath(new URL("..", import.meta.url));
const EXPIRES_AT_MS = Date.UTC(2030, 0, 2, 3, 4, 5);

type Callback = (error: grpc.ServiceError | null, response: Record<string, unknown>) => void;
type UnaryMethod = (request: object, callback: Callback) => void;

function loadServices() {
  const definition = protoLoader.loadSync(
    ["flotilla/admin/v1/admin_service.proto", "flotilla/resourcemanager/v1/resource_manager.proto"],
    { includeDirs: [moduleDir], keepCase: true, longs: String, enums: String, defaults: true, oneofs: true },
  );
  const root = grpc.loadPackageDefinition(definition) as unknown as {
    flotilla: {
      admin: { v1: { AdminService: grpc.ServiceClientConstructor } };
      resourcemanager: { v1: { ResourceManagerService: grpc.ServiceClientConstructor } };
    };
  };
  return {
    AdminClient: root.flotilla.admin.v1.AdminService,
    ResourceManagerClient: root.flotilla.resourcemanager.v1.ResourceManagerService,
  };
}

function call(client: grpc.Client, method: string, request: object): Promise<Record<string, unknown>> {
  const fn = (client as unknown as Record<string, UnaryMethod>)[method];
  assert.equal(typeof fn, "function", `client has no method ${method}`);
  return new Promise((resolve, reject) => {
    fn.call(client, request, (error, response) => (error ? reject(error) : resolve(response)));
  });
}

describe("grpc-js interop", () => {
  const { AdminClient, ResourceManagerClient } = loadServices();
  let server: Http2Server;
  let address: string;
  const clients: grpc.Client[] = [];

  before(async () => {
    const handler = connectNodeAdapter({
      routes: (router) => {
        router.service(admin.AdminService, {
          getVersion: () =>
            create(admin.GetVersionResponseSchema, {
              version: "0.1.0",
              commit: "abc1234",
              apiVersion: "flotilla.admin.v1",
              buildTime: timestampFromMs(EXPIRES_AT_MS),
            }),
        });
        router.service(resourcemanager.ResourceManagerService, {
          allocate: (request) =>
            create(resourcemanager.AllocateResponseSchema, {
              outcome: {
                case: "granted",
                value: {
                  lease: {
                    leaseId: `lease-${request.holder}`,
                    resource: request.resource,
                    tenant: request.tenant,
                    holder: request.holder,
                    tokens: request.tokens,
                    expiresAt: timestampFromMs(EXPIRES_AT_MS),
                  },
                },
              },
            }),
        });
      },
    });
    server = createServer(handler);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    for (const client of clients) client.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  function client(Ctor: grpc.ServiceClientConstructor): grpc.Client {
    const c = new Ctor(address, grpc.credentials.createInsecure());
    clients.push(c);
    return c;
  }

  it("loads AdminService and ResourceManagerService with every method of the contract", () => {
    for (const [Ctor, service] of [
      [AdminClient, admin.AdminService],
      [ResourceManagerClient, resourcemanager.ResourceManagerService],
    ] as const) {
      const loaded = Object.values(Ctor.service)
        .map((m) => m.path)
        .sort();
      const expected = service.methods.map((m) => `/${service.typeName}/${m.name}`).sort();
      assert.deepEqual(loaded, expected);
    }
    assert.ok(Object.keys(AdminClient.service).includes("IngestEvents"));
    assert.ok(Object.keys(ResourceManagerClient.service).includes("Allocate"));
    // Every rpc line of admin_service.proto, counted from the source of truth.
    const rpcs = readFileSync(
      new URL("../flotilla/admin/v1/admin_service.proto", import.meta.url),
      "utf8",
    ).match(/^\s*rpc \w+\(/gm);
    assert.equal(Object.keys(AdminClient.service).length, rpcs?.length);
  });

  it("calls GetVersion on a Connect server over gRPC", async () => {
    const response = await call(client(AdminClient), "GetVersion", {});
    assert.equal(response.version, "0.1.0");
    assert.equal(response.commit, "abc1234");
    assert.equal(response.api_version, "flotilla.admin.v1");
    assert.deepEqual(response.build_time, { seconds: String(EXPIRES_AT_MS / 1000), nanos: 0 });
  });

  it("calls Allocate on a Connect server over gRPC and reads the oneof outcome", async () => {
    const response = await call(client(ResourceManagerClient), "Allocate", {
      resource: "warehouse",
      tenant: { project: "flights", domain: "production" },
      holder: "flights/production/exec1/n0/0",
      tokens: 3,
      ttl: { seconds: 60, nanos: 0 },
    });
    assert.equal(response.outcome, "granted");
    const lease = (response.granted as { lease: Record<string, unknown> }).lease;
    assert.equal(lease.lease_id, "lease-flights/production/exec1/n0/0");
    assert.equal(lease.resource, "warehouse");
    assert.equal(lease.tokens, 3);
    assert.deepEqual(lease.tenant, { project: "flights", domain: "production" });
    assert.deepEqual(lease.expires_at, { seconds: String(EXPIRES_AT_MS / 1000), nanos: 0 });
  });

  it("gets Unimplemented from grpc-js for a method the server does not implement", async () => {
    await assert.rejects(
      call(client(AdminClient), "GetProject", { id: "flights" }),
      (error: grpc.ServiceError) => {
        assert.equal(error.code, grpc.status.UNIMPLEMENTED);
        return true;
      },
    );
  });
});
